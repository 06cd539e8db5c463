"""Server settings: one frozen dataclass, each field read from a flag or an environment variable."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any


class SettingsError(ValueError):
    """A flag or environment variable has a value we cannot use."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be a positive integer, got {text!r}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"must be a port number 0-65535, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"must be a positive number, got {text!r}")
    return value


def _origins(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip().rstrip("/") for p in text.split(",") if p.strip())
    if not parts:
        raise ValueError("must name at least one origin, or '*'")
    return parts


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"must be one of debug, info, warning, error, critical; got {text!r}")
    return level


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"must be yes or no, got {text!r}")


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
    port: int = _opt(8080, "port to listen on", _port, ["VIDEOSYNC_PORT"])
    redis_url: str | None = _opt(
        None,
        "Redis URL (redis://, rediss://, unix://, redis+sentinel://); absent: embedded memory store",
        env=["VIDEOSYNC_REDIS_URL", "REDIS_URL"],
    )
    media_dir: str = _opt("./media", "directory of the video library", env=["VIDEOSYNC_MEDIA_DIR"])
    video: str | None = _opt(
        None,
        "default video (a file in the media dir); default: the first video found there",
        env=["VIDEOSYNC_VIDEO"],
    )
    session_ttl: int = _opt(
        86400, "seconds an idle session lives", _positive_int, ["VIDEOSYNC_SESSION_TTL"]
    )
    allowed_origins: tuple[str, ...] = _opt(
        ("*",),
        "comma-separated origins allowed for CORS and the WebSocket handshake, or '*'",
        _origins,
        ["VIDEOSYNC_ALLOWED_ORIGINS"],
    )
    log_level: str = _opt("INFO", "debug, info, warning or error", _log_level, ["VIDEOSYNC_LOG_LEVEL"])
    workers: int = _opt(
        1, "server processes sharing the port (needs --redis-url)", _positive_int,
        ["VIDEOSYNC_WORKERS"],
    )
    ping_interval: float = _opt(
        5.0, "seconds between WebSocket pings (Go: 5)", _positive_float, ["VIDEOSYNC_PING_INTERVAL"]
    )
    max_message_bytes: int = _opt(
        65536, "largest WebSocket message accepted (close 1009 above)", _positive_int,
        ["VIDEOSYNC_MAX_MESSAGE_BYTES"],
    )
    rate_limit: float = _opt(
        20.0, "sustained WebSocket messages per second per socket", _positive_float,
        ["VIDEOSYNC_RATE_LIMIT"],
    )
    rate_burst: int = _opt(
        200, "WebSocket messages a socket may send in a burst before the rate applies",
        _positive_int, ["VIDEOSYNC_RATE_BURST"],
    )
    send_queue_limit: int = _opt(
        1024, "messages queued for one slow socket before it is disconnected", _positive_int,
        ["VIDEOSYNC_SEND_QUEUE_LIMIT"],
    )
    max_connections_per_ip: int = _opt(
        200, "WebSocket connections one client address may hold on one server process (close 1008 above)",
        _positive_int, ["VIDEOSYNC_MAX_CONNECTIONS_PER_IP"],
    )
    trust_proxy_headers: bool = _opt(
        False,
        "take client addresses from X-Real-IP / X-Forwarded-For (yes only behind a proxy that sets them)",
        _yes_no, ["VIDEOSYNC_TRUST_PROXY_HEADERS"],
    )
    host_lease: float = _opt(
        10.0, "seconds a host lease lasts without renewal", _positive_float,
        ["VIDEOSYNC_HOST_LEASE"],
    )
    host_grace: float = _opt(
        3.0, "seconds a departed host may reconnect before someone else is promoted",
        _positive_float, ["VIDEOSYNC_HOST_GRACE"],
    )
    presence_interval: float = _opt(
        3.0, "seconds between presence heartbeats, host lease renewals and session checks",
        _positive_float, ["VIDEOSYNC_PRESENCE_INTERVAL"],
    )
    play_lead_ms: int = _opt(
        120, "milliseconds ahead a play command is scheduled so everyone starts together",
        _positive_int, ["VIDEOSYNC_PLAY_LEAD_MS"],
    )
    buffer_wait: float = _opt(
        10.0, "seconds the session waits for a stalled member before it goes on without it",
        _positive_float, ["VIDEOSYNC_BUFFER_WAIT"],
    )
    buffer_wait_start: float = _opt(
        30.0, "seconds the session waits for members to load a video it has just started",
        _positive_float, ["VIDEOSYNC_BUFFER_WAIT_START"],
    )
    max_upload_bytes: int = _opt(
        4 * 1024**3, "largest video upload accepted", _positive_int, ["VIDEOSYNC_MAX_UPLOAD_BYTES"]
    )
    web_dir: str | None = _opt(
        None, "directory of the web app (default: the web/ folder beside the package)",
        env=["VIDEOSYNC_WEB_DIR"],
    )

    @property
    def store_url(self) -> str:
        return self.redis_url or "memory://"

    @property
    def uses_redis(self) -> bool:
        return not self.store_url.startswith("memory://")


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
