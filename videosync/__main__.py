"""`python -m videosync [serve|package]`: flags and environment in, a running server out."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from . import __version__, logformat
from .app import MAX_BUFFERED_BODY, Services, make_app
from .media import MediaLibrary
from .mediaservice import open_media
from .package_cli import add_package_command, run_package
from .sessions import SessionService
from .settings import Settings, SettingsError, build_parser, from_sources
from .store import Store, StoreError, open_store
from .video import VideoNotFound
from .workers import fork_workers

log = logging.getLogger("videosync")


class StartupError(Exception):
    """A problem the operator must fix; reported as one line on stderr, exit code 2."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m videosync",
        description="Watch videos together, in sync. Without a command: serve.",
    )
    parser.add_argument("--version", action="version", version=f"videosync {__version__}")
    commands = parser.add_subparsers(dest="command")
    build_parser(commands.add_parser("serve", help="run the server (the default)"))
    add_package_command(commands)
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logformat.configure(level, sys.stderr)


def listen(settings: Settings, reuse_port: bool = False) -> list[socket.socket]:
    try:
        return bind_sockets(settings.port, settings.host or None, reuse_port=reuse_port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None


def public_url(settings: Settings, sockets: list[socket.socket]) -> str:
    port = sockets[0].getsockname()[1]
    host = "localhost" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{port}/"


def check_media_dir(settings: Settings) -> None:
    """The media dir exists (created if missing) and can be listed: else one line, not a traceback."""
    path = Path(settings.media_dir)
    if path.exists() and not path.is_dir():
        raise StartupError(f"--media-dir {settings.media_dir}: not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"--media-dir {settings.media_dir}: {exc.strerror or exc}") from None
    if not os.access(path, os.R_OK | os.X_OK):
        raise StartupError(f"--media-dir {settings.media_dir}: not readable by this user")


def check_default_video(settings: Settings, library: MediaLibrary) -> None:
    """`--video` names a video that is there (an empty dir is getting its sample: not yet judged)."""
    if not settings.video or not library.videos():
        return
    try:
        library.default()
    except VideoNotFound:
        raise StartupError(f"--video {settings.video}: no such video in {settings.media_dir}") from None


def open_configured_store(settings: Settings) -> Store:
    try:
        return open_store(settings.store_url)
    except ValueError as exc:
        raise StartupError(f"--redis-url: {exc}") from None


async def serve(settings: Settings, sockets: list[socket.socket], worker: int = 0) -> None:
    try:
        store = open_configured_store(settings)
    except StoreError as exc:
        raise StartupError(f"--data-dir {settings.data_dir}: {exc}") from None
    try:
        if settings.uses_redis:
            try:
                await store.ping()
            except StoreError as exc:
                raise StartupError(f"--redis-url {settings.redis_url}: {exc}") from None
        # Several workers share one media dir: one of them packages, all of them serve; the others
        # learn statuses and library changes through the store.
        async with open_media(settings, run_packager=worker == 0, store=store) as (library, packager):
            check_default_video(settings, library)
            sessions = SessionService(store, settings.session_ttl, video_exists=library.has)
            services = Services(
                settings=settings, store=store, sessions=sessions, library=library, packager=packager
            )
            packager.subscribe(services.hub.publish_media_status)
            services.hub.start()
            # Forwarded addresses only from a proxy we were told is there: reachable directly, a
            # client could claim any address and dodge the per-address connection cap.
            server = HTTPServer(
                make_app(services), max_body_size=MAX_BUFFERED_BODY, xheaders=settings.trust_proxy_headers
            )
            # Full passes of the cyclic collector stop the loop for 50-100 ms with a few thousand
            # sockets open (measured). Everything loaded so far lives as long as the process: out of
            # the collector's sight. And young collections 14x rarer: objects that live a few ms
            # (a message in flight) are then freed by refcount instead of being promoted, and the
            # promotions are what triggered the full passes every few seconds.
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)
            server.add_sockets(sockets)
            kind = (
                "redis" if settings.uses_redis
                else "memory (embedded, one process, nothing kept)" if settings.store_url == "memory://"
                else f"sqlite (embedded, one process) in {settings.data_dir}"
            )
            url = settings.public_url or public_url(settings, sockets)
            log.info("videosync %s: store %s; open %s", __version__, kind, url)
            if settings.accel_redirect:
                log.info("media bytes: X-Accel-Redirect to %s (behind nginx)", settings.accel_redirect)
            await wait_for_shutdown()
            log.info("shutting down")
            server.stop()
            await services.hub.shutdown(timeout=2.0)  # sockets get 1001 and reconnect elsewhere
            try:
                await asyncio.wait_for(server.close_all_connections(), timeout=2)
            except TimeoutError:
                log.warning("some connections did not close in time")
    finally:
        await store.close()


async def wait_for_shutdown() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (about twice the request rate of the stock loop), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "package":
        return run_package(args)
    try:
        settings = from_sources(args)
        configure_logging(settings.log_level)
        check_media_dir(settings)
        # Without SO_REUSEPORT even a port another server shares by SO_REUSEPORT is refused here.
        sockets = listen(settings)
        worker = 0
        if settings.workers > 1:
            # Every worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
            # connections across them. From one inherited socket, whichever worker woke first took
            # them: 10 and 40 of 50 connections measured, and the busier worker set the pace.
            port = sockets[0].getsockname()[1]
            for sock in sockets:
                sock.close()
            worker = fork_workers(settings.workers)
            sockets = listen(replace(settings, port=port), reuse_port=True)
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings, sockets, worker))
    except (SettingsError, StartupError) as exc:
        print(f"videosync: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
