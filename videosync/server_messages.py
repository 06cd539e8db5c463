"""WebSocket messages the server sends, encoded as their wire text (Go's shapes and key order where
Go had the message). Pure; what clients send is parsed by protocol.py.
"""

from __future__ import annotations

import json
from typing import Any


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_init(
    is_host: bool,
    state_json: str,
    now_ms: int,
    extensions: dict[str, Any],
) -> str:
    """Go-A's init, byte for byte in its key order, our fields after it, then Go's newline."""
    host = "true" if is_host else "false"
    head = f'{{"isHost":{host},"state":{state_json},"timestamp":{now_ms},"type":"init"'
    tail = "".join(f",{_json(k)}:{v if isinstance(v, RawJSON) else _json(v)}" for k, v in extensions.items())
    return head + tail + "}\n"


def encode_state_update(state_json: str, now_ms: int, by: str | None) -> str:
    """Go-A's broadcast shape (no newline), then the sender's member id."""
    return f'{{"type":"stateUpdate","state":{state_json},"timestamp":{now_ms},"by":{_json(by)}}}'


def encode_time_sync(t0: float, t1: float, t2: float) -> str:
    return _json({"type": "timeSync", "t0": t0, "t1": t1, "t2": t2})


def encode_error(code: str, message: str) -> str:
    return _json({"type": "error", "code": code, "message": message})


def encode_member_joined(member: dict[str, Any]) -> str:
    return _json({"type": "memberJoined", "member": member})


def encode_member_left(member_id: str) -> str:
    return _json({"type": "memberLeft", "memberId": member_id})


def encode_member_updated(member: dict[str, Any]) -> str:
    return _json({"type": "memberUpdated", "member": member})


def encode_host_changed(host_id: str | None, reason: str) -> str:
    return _json({"type": "hostChanged", "hostId": host_id, "reason": reason})


def encode_control(control: dict[str, Any]) -> str:
    return _json({"type": "control", **control})


def encode_ended(reason: str) -> str:
    return _json({"type": "ended", "reason": reason})


def encode_media_status(video: str, status: dict[str, Any]) -> str:
    return _json({"type": "mediaStatus", "video": video, "status": status})


def encode_presence(joined: list[dict[str, Any]], updated: list[dict[str, Any]], left: list[str]) -> str:
    """The batched presence news of one tick, for clients that asked for it (`presence=batch`)."""
    return _json({"type": "presence", "joined": joined, "updated": updated, "left": left})


class RawJSON(str):
    """Text that is JSON already: `encode_init` puts it in as it is (a roster encoded once per member)."""
