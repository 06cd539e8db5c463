"""Server settings: one frozen dataclass, each field read from a flag or an environment variable
(parsed and checked by setting_values.py)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from . import setting_values as parse


class SettingsError(ValueError):
    """A flag or environment variable has a value we cannot use."""


def _opt(
    default: Any,
    help: str,
    cast: Callable[[str], Any] = str,
    env: Sequence[str] = (),
    flag: str | None = None,
) -> Any:
    return field(default=default, metadata={"help": help, "cast": cast, "env": tuple(env), "flag": flag})


@dataclass(frozen=True)
class Settings:
    host: str = _opt("0.0.0.0", "address to listen on", env=["VIDEOSYNC_HOST"])
    port: int = _opt(8080, "port to listen on", parse.port, ["VIDEOSYNC_PORT"])
    redis_url: str | None = _opt(
        None,
        "Redis URL (redis://, rediss://, unix://, redis+sentinel://); absent: the embedded store",
        env=["VIDEOSYNC_REDIS_URL", "REDIS_URL"],
    )
    media_dir: str = _opt("./media", "directory of the video library", env=["VIDEOSYNC_MEDIA_DIR"])
    data_dir: str = _opt(
        "./data",
        "directory where the embedded store keeps sessions across restarts (SQLite); memory:// keeps"
        " nothing on disk; unused with --redis-url",
        env=["VIDEOSYNC_DATA_DIR"],
    )
    video: str | None = _opt(
        None,
        "default video (a file in the media dir); default: the first video found there",
        env=["VIDEOSYNC_VIDEO"],
    )
    session_ttl: int = _opt(
        86400, "seconds an idle session lives", parse.positive_int, ["VIDEOSYNC_SESSION_TTL"]
    )
    allowed_origins: tuple[str, ...] = _opt(
        ("*",),
        "comma-separated origins allowed for CORS and the WebSocket handshake, or '*'",
        parse.origins,
        ["VIDEOSYNC_ALLOWED_ORIGINS"],
    )
    log_level: str = _opt("INFO", "debug, info, warning or error", parse.log_level, ["VIDEOSYNC_LOG_LEVEL"])
    workers: int = _opt(
        1, "server processes sharing the port (needs --redis-url)", parse.positive_int,
        ["VIDEOSYNC_WORKERS"],
    )
    ping_interval: float = _opt(
        5.0, "seconds between WebSocket pings (Go: 5)", parse.positive_float, ["VIDEOSYNC_PING_INTERVAL"]
    )
    max_message_bytes: int = _opt(
        65536, "largest WebSocket message accepted (close 1009 above)", parse.positive_int,
        ["VIDEOSYNC_MAX_MESSAGE_BYTES"],
    )
    rate_limit: float = _opt(
        20.0, "sustained WebSocket messages per second per socket", parse.positive_float,
        ["VIDEOSYNC_RATE_LIMIT"],
    )
    rate_burst: int = _opt(
        200, "WebSocket messages a socket may send in a burst before the rate applies",
        parse.positive_int, ["VIDEOSYNC_RATE_BURST"],
    )
    send_queue_limit: int = _opt(
        1024, "messages queued for one slow socket before it is disconnected", parse.positive_int,
        ["VIDEOSYNC_SEND_QUEUE_LIMIT"],
    )
    max_connections_per_ip: int = _opt(
        200, "WebSocket connections one client address may hold on one server process (close 1008 above)",
        parse.positive_int, ["VIDEOSYNC_MAX_CONNECTIONS_PER_IP"],
    )
    trust_proxy_headers: bool = _opt(
        False,
        "take client addresses from X-Real-IP / X-Forwarded-For (yes only behind a proxy that sets them)",
        parse.yes_no, ["VIDEOSYNC_TRUST_PROXY_HEADERS"],
    )
    # -- what strangers may do to a server on a public address (README: "Who may do what") --
    create_rate: float = _opt(
        30.0, "sessions one client address may create per minute, after the burst (0: unlimited)",
        parse.non_negative_float, ["VIDEOSYNC_CREATE_RATE"],
    )
    create_burst: int = _opt(
        10, "sessions one client address may create at once before --create-rate applies",
        parse.positive_int, ["VIDEOSYNC_CREATE_BURST"],
    )
    max_sessions: int = _opt(
        10_000, "live sessions the embedded store holds before creation is refused with 503 (0: no cap; "
        "not applied with --redis-url, where Redis's maxmemory is the bound)",
        parse.non_negative_int, ["VIDEOSYNC_MAX_SESSIONS"],
    )
    public_url: str | None = _opt(
        None, "the server's address as browsers reach it (https://watch.example.org): absolute URLs in "
        "answers are built from it, and requests from it count as same-origin; absent: URLs are relative",
        parse.public_url, ["VIDEOSYNC_PUBLIC_URL"],
    )
    host_lease: float = _opt(
        10.0, "seconds a host lease lasts without renewal", parse.positive_float,
        ["VIDEOSYNC_HOST_LEASE"],
    )
    host_grace: float = _opt(
        3.0, "seconds a departed host may reconnect before someone else is promoted",
        parse.positive_float, ["VIDEOSYNC_HOST_GRACE"],
    )
    presence_interval: float = _opt(
        3.0, "seconds between presence heartbeats, host lease renewals and session checks",
        parse.positive_float, ["VIDEOSYNC_PRESENCE_INTERVAL"],
    )
    play_lead_ms: int = _opt(
        120, "milliseconds ahead a play command is scheduled so everyone starts together",
        parse.positive_int, ["VIDEOSYNC_PLAY_LEAD_MS"],
    )
    buffer_wait: float = _opt(
        10.0, "seconds the session waits for a stalled member before it goes on without it",
        parse.positive_float, ["VIDEOSYNC_BUFFER_WAIT"],
    )
    buffer_wait_start: float = _opt(
        30.0, "seconds the session waits for members to load a video it has just started",
        parse.positive_float, ["VIDEOSYNC_BUFFER_WAIT_START"],
    )
    max_upload_bytes: int = _opt(
        4 * 1024**3, "largest video upload accepted", parse.positive_int, ["VIDEOSYNC_MAX_UPLOAD_BYTES"]
    )
    max_subtitle_bytes: int = _opt(
        1024**2, "largest subtitle file upload accepted", parse.positive_int, ["VIDEOSYNC_MAX_SUBTITLE_BYTES"]
    )
    uploads: str = _opt(
        "hosts",
        "who may upload videos: off, hosts (the host token of a live session) or anyone",
        parse.upload_mode, ["VIDEOSYNC_UPLOADS"],
    )
    admin_token: str | None = _opt(
        None,
        "operator secret (Authorization: Bearer ...) that may always upload to the permanent library "
        "and delete uploads; unset: no admin",
        env=["VIDEOSYNC_ADMIN_TOKEN"],
    )
    upload_quota: int = _opt(
        4 * 1024**3, "bytes of uploads one session may hold", parse.positive_int, ["VIDEOSYNC_UPLOAD_QUOTA"]
    )
    media_quota: int = _opt(
        20 * 1024**3, "bytes all uploads together may hold", parse.positive_int, ["VIDEOSYNC_MEDIA_QUOTA"]
    )
    packager_jobs: int = _opt(
        1, "ffmpeg packaging processes run at once", parse.positive_int, ["VIDEOSYNC_PACKAGER_JOBS"]
    )
    packager_threads: int = _opt(
        2, "threads each ffmpeg packaging process may use", parse.positive_int,
        ["VIDEOSYNC_PACKAGER_THREADS"],
    )
    chat_max_chars: int = _opt(
        500, "longest chat message in characters (longer ones are refused with an error)", parse.positive_int,
        ["VIDEOSYNC_CHAT_MAX_CHARS"],
    )
    chat_history: int = _opt(
        50, "chat messages kept per session for late joiners and reconnects", parse.non_negative_int,
        ["VIDEOSYNC_CHAT_HISTORY"],
    )
    chat_rate: float = _opt(
        1.0, "sustained chat messages per second per socket (over it: error rate_limited)",
        parse.positive_float, ["VIDEOSYNC_CHAT_RATE"],
    )
    chat_burst: int = _opt(
        5, "chat messages a socket may send at once before --chat-rate applies", parse.positive_int,
        ["VIDEOSYNC_CHAT_BURST"],
    )
    password_attempts: float = _opt(
        10.0, "session password guesses per minute per client address (half as many at once)",
        parse.positive_float, ["VIDEOSYNC_PASSWORD_ATTEMPTS"],
    )
    password_session_attempts: float = _opt(
        60.0, "session password guesses per minute per session, from all addresses (half as many at once)",
        parse.positive_float, ["VIDEOSYNC_PASSWORD_SESSION_ATTEMPTS"],
    )
    password_jobs: int = _opt(
        2, "scrypt password hashes computed at once per process (each takes ~16 MiB)", parse.positive_int,
        ["VIDEOSYNC_PASSWORD_JOBS"],
    )
    accel_redirect: str | None = _opt(
        None, "behind nginx: answer media routes with X-Accel-Redirect to this internal location"
        " (e.g. /_media, aliasing the media dir) and let nginx send the bytes; unset: videosync"
        " sends them", parse.accel_prefix, ["VIDEOSYNC_ACCEL_REDIRECT"],
    )
    web_dir: str | None = _opt(
        None, "directory of the web app (default: the copy in the installed package, else web/ beside it)",
        env=["VIDEOSYNC_WEB_DIR"],
    )

    @property
    def store_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        if self.data_dir == "memory://":
            return "memory://"
        from .store.sqlite import url_for_dir  # the store package imports Redis only when asked

        return url_for_dir(self.data_dir)

    @property
    def uses_redis(self) -> bool:
        return not self.store_url.startswith(("memory://", "sqlite://"))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one flag per Settings field; defaults stay None so env vars can fill in."""
    for f in fields(Settings):
        meta = f.metadata
        envs = ", ".join(meta["env"])
        default = f.default if not isinstance(f.default, tuple) else ",".join(f.default)
        parser.add_argument(
            meta["flag"] or _flag(f.name),
            dest=f.name,
            default=None,
            metavar=f.name.upper(),
            help=f"{meta['help']} (env {envs}; default {default})" if envs else meta["help"],
        )
    return parser


def from_sources(args: argparse.Namespace | None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from flags first, then environment variables, then defaults."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        meta = f.metadata
        raw: str | None = getattr(args, f.name, None) if args is not None else None
        source = _flag(f.name)
        if raw is None:
            for env in meta["env"]:
                if environ.get(env):
                    raw, source = environ[env], env
                    break
        if raw is None:
            continue
        try:
            values[f.name] = meta["cast"](raw)
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
    settings = Settings(**values)
    if settings.workers > 1 and not settings.uses_redis:
        raise SettingsError("--workers above 1 needs --redis-url: processes share state through Redis")
    return settings
