"""One error shape for every handler: domain errors mapped to an HTTP status and message (services
never raise HTTPError), and JSON written as Go's encoder wrote it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..sessions import SessionNotFound, UnknownVideo
from ..store import StoreError, StoreUnavailable

RETRY_AFTER_S = 2


class BadRequest(ValueError):
    """The request is malformed in a way the client can fix; the message says how."""


class PayloadTooLarge(ValueError):
    """The request body is larger than this endpoint accepts."""


@dataclass(frozen=True)
class Problem:
    status: int
    message: str
    retry_after: int | None = None


def problem_for(exc: BaseException) -> Problem | None:
    """Domain errors to HTTP, in one place; services never raise HTTPError."""
    if isinstance(exc, SessionNotFound):
        return Problem(404, "session_not_found")  # Go-B's error string
    if isinstance(exc, UnknownVideo):
        return Problem(404, "unknown video")
    if isinstance(exc, StoreUnavailable):
        return Problem(503, "session store unavailable", RETRY_AFTER_S)
    if isinstance(exc, StoreError):
        return Problem(503, "session store refused the request", RETRY_AFTER_S)
    if isinstance(exc, PayloadTooLarge):
        return Problem(413, str(exc) or "request body too large")
    if isinstance(exc, BadRequest):
        return Problem(400, str(exc))
    return None


_GO_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def go_json(value: Any) -> str:
    """JSON as Go's encoder writes a map: sorted keys, no spaces, HTML-escaped, trailing newline."""
    text = _GO_ENCODER.encode(value)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
