"""WebSocket messages from clients: their types, parsing and validation, and the error codes.

Pure functions, no I/O; what the server sends is encoded by server_messages.py. Parsing keeps
Go-A's leniencies that harm nobody (case-insensitive keys, last duplicate key wins, unknown fields
ignored, ints for floats, Go-B's `state_update` name) and drops its bugs: an invalid command is
rejected with an error (Go silently ignored it, or zeroed fields that were missing). See
PROTOCOL.md §2.2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .state import MAX_RATE, MIN_RATE

MAX_NAME_CHARS = 40
MAX_VIDEO_CHARS = 200
MAX_MEMBER_ID_CHARS = 64

# error codes (PROTOCOL.md §2.2)
BAD_JSON = "bad_json"
INVALID_STATE = "invalid_state"
INVALID_MESSAGE = "invalid_message"
NOT_HOST = "not_host"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_MEMBER = "unknown_member"
UNKNOWN_VIDEO = "unknown_video"
UNAVAILABLE = "unavailable"
RATE_LIMITED = "rate_limited"


class ProtocolError(ValueError):
    """A message we refuse; `code` is the error frame's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StateCommand:
    """A host's playback command; None means "keep the current value"."""

    paused: bool | None = None
    current_time: float | None = None
    playback_rate: float | None = None
    video: str | None = None


@dataclass(frozen=True)
class TimeSyncRequest:
    t0: float


@dataclass(frozen=True)
class Report:
    rtt: float | None
    drift: float | None
    buffering: bool | None
    video: str | None = None  # the video the player has loaded (the buffering gate's extension)


@dataclass(frozen=True)
class SetName:
    name: str


@dataclass(frozen=True)
class TransferHost:
    member_id: str


@dataclass(frozen=True)
class SetControl:
    """Who controls playback (PROTOCOL.md §5.2); None keeps the current value."""

    mode: str | None
    controllers: tuple[str, ...] | None


@dataclass(frozen=True)
class WaitPreference:
    """`waitForMe`: false = "don't wait for me" (the buffering gate, PROTOCOL.md §5.1)."""

    wait: bool


@dataclass(frozen=True)
class Ignored:
    """A message we accept and do nothing with (the Go frontend's heartbeatAck)."""


@dataclass(frozen=True)
class Chat:
    """A chat line as sent (cleaned and capped by the chat feature, which knows its limit)."""

    text: str


@dataclass(frozen=True)
class Kick:
    """The host removes a member; `ban`: for the rest of the session (`{"type":"ban"}` too)."""

    member_id: str
    ban: bool = False


@dataclass(frozen=True)
class Lock:
    locked: bool


Command = (
    StateCommand | TimeSyncRequest | Report | SetName | TransferHost | SetControl | WaitPreference | Ignored
    | Chat | Kick | Lock
)

CONTROL_MODES = ("host", "everyone", "delegated")
MAX_CONTROLLERS = 64


def _lower_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    # Go's encoding/json matched struct fields case-insensitively; the last duplicate wins.
    return {key.lower(): value for key, value in pairs}


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(raw: str | bytes) -> dict[str, Any]:
    """The message as an object with lower-cased keys (nested objects too); ProtocolError if not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(BAD_JSON, "message is not UTF-8") from None
    try:
        data = json.loads(raw, object_pairs_hook=_lower_keys, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise ProtocolError(BAD_JSON, "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(BAD_JSON, "message must be a JSON object")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


MAX_REPORTED_MS = 86_400_000  # a day: anything larger is not a measurement


def _finite(value: Any, field: str, code: str) -> float | None:
    if value is None:
        return None
    if not _is_number(value):
        raise ProtocolError(code, f"{field} must be a number")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer of hundreds of digits parses to an int beyond any float
        raise ProtocolError(code, f"{field} must be finite") from None
    if not math.isfinite(number):
        raise ProtocolError(code, f"{field} must be finite")
    return number


def _bool(value: Any, field: str, code: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ProtocolError(code, f"{field} must be a boolean")


def parse_state(value: Any) -> StateCommand:
    if value is None:
        return StateCommand()
    if not isinstance(value, dict):
        raise ProtocolError(INVALID_STATE, "state must be an object")
    paused = _bool(value.get("paused"), "paused", INVALID_STATE)
    current = _finite(value.get("currenttime"), "currentTime", INVALID_STATE)
    if current is not None and current < 0:
        raise ProtocolError(INVALID_STATE, "currentTime must be >= 0")
    rate = _finite(value.get("playbackrate"), "playbackRate", INVALID_STATE)
    if rate is not None and not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(INVALID_STATE, f"playbackRate must be between {MIN_RATE} and {MAX_RATE:g}")
    video = value.get("video")
    if video is not None and (not isinstance(video, str) or not 0 < len(video) <= MAX_VIDEO_CHARS):
        raise ProtocolError(INVALID_STATE, "video must be a non-empty string")
    return StateCommand(paused, current, rate, video)


def clean_name(value: Any) -> str:
    """A display name: printable, trimmed, at most MAX_NAME_CHARS characters."""
    if not isinstance(value, str):
        raise ProtocolError(INVALID_MESSAGE, "name must be a string")
    text = "".join(ch for ch in value if ch.isprintable()).strip()
    return text[:MAX_NAME_CHARS]


def parse_command(raw: str | bytes) -> Command:
    data = decode(raw)
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(UNKNOWN_TYPE, "type must be a string")
    if kind in ("stateUpdate", "state_update"):
        return parse_state(data.get("state"))
    if kind == "timeSync":
        t0 = _finite(data.get("t0"), "t0", INVALID_MESSAGE)
        if t0 is None:
            raise ProtocolError(INVALID_MESSAGE, "t0 is required")
        return TimeSyncRequest(t0)
    if kind == "report":
        rtt = _finite(data.get("rtt"), "rtt", INVALID_MESSAGE)
        drift = _finite(data.get("drift"), "drift", INVALID_MESSAGE)
        # Reports feed the member list and the metrics: a 1e300 "drift" would swamp every sum.
        if rtt is not None and not 0 <= rtt <= MAX_REPORTED_MS:
            raise ProtocolError(INVALID_MESSAGE, f"rtt must be between 0 and {MAX_REPORTED_MS} ms")
        if drift is not None and abs(drift) > MAX_REPORTED_MS:
            raise ProtocolError(INVALID_MESSAGE, f"drift must be within ±{MAX_REPORTED_MS} ms")
        video = data.get("video")
        if video is not None and (not isinstance(video, str) or not 0 < len(video) <= MAX_VIDEO_CHARS):
            raise ProtocolError(INVALID_MESSAGE, "video must be a video id")
        return Report(rtt, drift, _bool(data.get("buffering"), "buffering", INVALID_MESSAGE), video)
    if kind == "setName":
        return SetName(clean_name(data.get("name")))
    if kind == "transferHost":
        target = data.get("memberid")
        if not isinstance(target, str) or not 0 < len(target) <= MAX_MEMBER_ID_CHARS:
            raise ProtocolError(INVALID_MESSAGE, "memberId must be a member id")
        return TransferHost(target)
    if kind == "setControl":
        return _parse_set_control(data)
    if kind == "waitForMe":
        wait = data.get("wait")
        if not isinstance(wait, bool):
            raise ProtocolError(INVALID_MESSAGE, "wait must be a boolean")
        return WaitPreference(wait)
    if kind == "heartbeatAck":
        return Ignored()
    if kind == "chat":
        text = data.get("text")
        if not isinstance(text, str):
            raise ProtocolError(INVALID_MESSAGE, "text must be a string")
        return Chat(text)
    if kind in ("kick", "ban"):
        target = data.get("memberid")
        if not isinstance(target, str) or not 0 < len(target) <= MAX_MEMBER_ID_CHARS:
            raise ProtocolError(INVALID_MESSAGE, "memberId must be a member id")
        return Kick(target, kind == "ban" or _bool(data.get("ban"), "ban", INVALID_MESSAGE) is True)
    if kind == "lock":
        locked = _bool(data.get("locked"), "locked", INVALID_MESSAGE)
        if locked is None:
            raise ProtocolError(INVALID_MESSAGE, "locked must be a boolean")
        return Lock(locked)
    raise ProtocolError(UNKNOWN_TYPE, "unknown message type")


def _parse_set_control(data: dict[str, Any]) -> SetControl:
    mode = data.get("mode")
    if mode is not None and mode not in CONTROL_MODES:
        raise ProtocolError(INVALID_MESSAGE, "mode must be host, everyone or delegated")
    ids = data.get("controllers")
    if ids is None:
        return SetControl(mode, None)
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_CONTROLLERS
        or not all(isinstance(i, str) and 0 < len(i) <= MAX_MEMBER_ID_CHARS for i in ids)
    ):
        raise ProtocolError(INVALID_MESSAGE, f"controllers: a list of at most {MAX_CONTROLLERS} member ids")
    return SetControl(mode, tuple(ids))
