"""How a setting's text (a flag or an environment variable) becomes its value: each function parses
one kind and raises ValueError, saying what it expected, for text it cannot use."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be a positive integer, got {text!r}")
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"must be a port number 0-65535, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"must be a positive number, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or a positive integer, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"must be 0 or a positive number, got {text!r}")
    return value


def origin(text: str) -> str:
    """`scheme://host[:port]` as browsers send it in `Origin`, without a trailing slash."""
    parts = urlsplit(text)
    if not parts.scheme or not parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an origin such as https://watch.example.org")
    return f"{parts.scheme}://{parts.netloc}".lower()


def public_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"must be an http(s) URL such as https://watch.example.org, got {text!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def origins(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    if not parts:
        raise ValueError("must name at least one origin, or '*'")
    return tuple(p if p == "*" else origin(p) for p in parts)


def log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"must be one of debug, info, warning, error, critical; got {text!r}")
    return level


def yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"must be yes or no, got {text!r}")


def upload_mode(text: str) -> str:
    value = text.strip().lower()
    if value not in {"off", "hosts", "anyone"}:
        raise ValueError(f"must be off, hosts or anyone; got {text!r}")
    return value


# The first path segment of every route videosync serves (a test keeps this list in step with
# app.py): an internal nginx location under one of them would take that route's requests, or a
# file under the media dir named like a route would be sent back to videosync.
ROUTE_ROOTS = frozenset({
    "api", "ws", "media", "health", "ready", "metrics", "index.html", "pages", "js", "css", "img",
    "vendor",
})
_ACCEL_PREFIX_RE = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def accel_prefix(text: str) -> str:
    """An nginx location such as /_media: a path of plain segments, none of them a route's."""
    prefix = text.strip().rstrip("/")
    if not _ACCEL_PREFIX_RE.fullmatch(prefix) or any(s in (".", "..") for s in prefix.split("/")):
        raise ValueError(f"must be a path such as /_media (letters, digits, . _ ~ -), got {text!r}")
    if prefix.split("/")[1] in ROUTE_ROOTS:
        raise ValueError(f"{text!r} is under one of videosync's own routes (/{prefix.split('/')[1]});"
                         " use a path of its own such as /_media")
    return prefix
