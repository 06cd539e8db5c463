"""A TCP proxy that delays WebSocket traffic like a real network: one-way latency, jitter and a
different delay per direction, order preserved. Test tooling for the sync harness.

Each accepted connection is classified by its first request: an HTTP Upgrade to `websocket` is
delayed, anything else (the page, scripts, video bytes) passes straight through unless
`delay_http` is set. Per direction, every chunk read is released at
`max(arrival + latency ± jitter, previous release)`: jitter never reorders bytes, as on a TCP
connection, where a late segment holds back the ones behind it.

    python -m tests.tools.netem_proxy --target 127.0.0.1:8080 --listen 9080 --up 80:20 --down 80:20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
HEAD_LIMIT = 16 * 1024


@dataclass(frozen=True)
class Delay:
    """One direction's one-way delay: `latency_ms` ± `jitter_ms` (uniform)."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Delay:
        """`80`, `80:20` or `80±20` (milliseconds)."""
        base, _, jitter = text.replace("±", ":").partition(":")
        delay = cls(float(base), float(jitter or 0))
        if delay.latency_ms < 0 or delay.jitter_ms < 0 or delay.jitter_ms > delay.latency_ms:
            raise ValueError(f"need 0 <= jitter <= latency, got {text!r}")
        return delay

    def sample_s(self, rng: random.Random) -> float:
        return max(0.0, self.latency_ms + rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000.0

    def __str__(self) -> str:
        return f"{self.latency_ms:g}±{self.jitter_ms:g} ms"


def is_websocket_upgrade(head: bytes) -> bool:
    lines = head.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    return any(line.startswith(b"upgrade:") and b"websocket" in line for line in lines[1:])


@dataclass
class NetemProxy:
    target_host: str
    target_port: int
    up: Delay = field(default_factory=Delay)  # client → server
    down: Delay = field(default_factory=Delay)  # server → client
    delay_http: bool = False
    seed: int | None = None
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    clock: Callable[[], float] | None = None
    connections: int = 0
    delayed_connections: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> NetemProxy:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        log.info("netem proxy :%d -> %s:%d, up %s, down %s", self.port, self.target_host,
                 self.target_port, self.up, self.down)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in tuple(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
            chunk = await reader.read(CHUNK)
            if not chunk:
                return
            head += chunk
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError as exc:
            log.warning("target unreachable: %s", exc)
            return
        self.connections += 1
        delayed = self.delay_http or is_websocket_upgrade(head)
        self.delayed_connections += delayed
        up = self.up if delayed else Delay()
        down = self.down if delayed else Delay()
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, up, first=head),
                self._pipe(up_reader, writer, down),
            )
        finally:
            up_writer.close()

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: Delay, first: bytes = b""
    ) -> None:
        """Copy `source` to `sink`, each chunk released at a monotone, delayed time."""
        loop = asyncio.get_running_loop()
        now = self.clock or loop.time
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        last_release = 0.0

        def schedule(data: bytes) -> None:
            nonlocal last_release
            last_release = max(now() + delay.sample_s(self._rng), last_release)
            queue.put_nowait((last_release, data))

        async def release() -> None:
            while True:
                at, data = await queue.get()
                if not data:
                    with contextlib.suppress(OSError, RuntimeError):
                        sink.write_eof()
                    return
                wait = at - now()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    sink.write(data)
                    await sink.drain()
                except (ConnectionError, OSError):
                    return  # the far side went away; the reading side notices on its own

        sender = asyncio.create_task(release())
        try:
            if first:
                schedule(first)
            while True:
                data = await source.read(CHUNK)
                schedule(data)  # b"" (EOF) passes through the queue too, so it is delayed in order
                if not data:
                    break
            await sender
        except (ConnectionError, OSError):
            sender.cancel()
        finally:
            if not sender.done():
                sender.cancel()


class ProxyThread:
    """Proxies on an event loop of their own, for synchronous callers (Playwright's sync API):

        with ProxyThread() as proxies:
            port = proxies.add("127.0.0.1", 8080, up=Delay(80, 20), down=Delay(80, 20)).port
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netem-proxy", daemon=True)
        self.proxies: list[NetemProxy] = []

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        return self

    def add(self, target_host: str, target_port: int, **options: Any) -> NetemProxy:
        proxy = NetemProxy(target_host, target_port, **options)
        asyncio.run_coroutine_threadsafe(proxy.start(), self._loop).result(10)
        self.proxies.append(proxy)
        return proxy

    def __exit__(self, *exc: object) -> None:
        for proxy in self.proxies:
            asyncio.run_coroutine_threadsafe(proxy.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.tools.netem_proxy", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--target", required=True, help="HOST:PORT of the server")
    parser.add_argument("--listen", type=int, default=0, help="port to listen on (default: any)")
    parser.add_argument("--up", type=Delay.parse, default=Delay(), help="client→server delay, MS[:JITTER]")
    parser.add_argument("--down", type=Delay.parse, default=Delay(), help="server→client delay, MS[:JITTER]")
    parser.add_argument("--all", action="store_true", help="delay plain HTTP too, not only WebSockets")
    parser.add_argument("--seed", type=int)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    host, _, port = args.target.rpartition(":")
    proxy = NetemProxy(host or "127.0.0.1", int(port), args.up, args.down, args.all, args.seed,
                       listen_port=args.listen)
    await proxy.start()
    print(f"listening on 127.0.0.1:{proxy.port}", flush=True)  # noqa: T201 - the CLI's one line
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.close()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
