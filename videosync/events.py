"""Session events between processes: what a room publishes on a session's channel.

An event is `kind \\n meta-json \\n wire`: `wire` is the exact text every member's socket gets (built
once by the publisher, framed once per process), `meta` what rooms need to act on it. Keeping the
wire text outside the meta JSON means it is never escaped and parsed again per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What happened; the values are on the wire between processes (keep them as they are)."""

    STATE = "state"
    MEMBER_JOINED = "joined"
    MEMBER_LEFT = "left"
    MEMBER_UPDATED = "updated"
    HOST = "host"  # the host role moved (meta: hostId, prev, reason, fresh)
    VACANT = "vacant"  # nobody holds the host role: every process tries to promote one of its members
    ENDED = "ended"
    BEAT = "beat"  # a process's heartbeat (meta: proc, seen); no wire: members never see it
    MEDIA = "media"
    CHAT = "chat"  # a chat line (wire: the `chat` message)
    KICK = "kick"  # the host removed a member (meta: memberId, ban); its process closes its socket
    LOCK = "lock"  # the host locked or unlocked the session
    CONTROL = "control"  # who controls playback changed (meta: control)
    GATE = "gate"  # the buffering gate's news between processes (meta: op, ...); no wire


@dataclass(frozen=True)
class Event:
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    wire: str = ""

    def encode(self) -> str:
        return f"{self.kind}\n{json.dumps(self.meta, separators=(',', ':'))}\n{self.wire}"

    @classmethod
    def decode(cls, text: str) -> Event | None:
        kind, sep1, rest = text.partition("\n")
        meta_text, sep2, wire = rest.partition("\n")
        if not sep1 or not sep2:
            return None
        try:
            meta = json.loads(meta_text)
        except ValueError:
            return None
        return cls(kind, meta if isinstance(meta, dict) else {}, wire)

    # Typed readers of the meta fields rooms act on; the meta comes from another process, so a
    # field of the wrong type reads as absent.
    @property
    def skip(self) -> str | None:
        """The member the publisher already told itself: fan-out leaves it out."""
        return _text(self.meta.get("skip"))

    @property
    def host_id(self) -> str | None:
        """HOST: the new holder of the host role (None: nobody)."""
        return _text(self.meta.get("hostId"))

    @property
    def prev(self) -> str | None:
        """HOST: the previous holder, who gets a fresh init (no longer the host)."""
        return _text(self.meta.get("prev"))

    @property
    def fresh(self) -> bool:
        """HOST: the new holder gets a fresh init (it did not ask for the role itself)."""
        return bool(self.meta.get("fresh"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
