"""Session events between processes: what the hub publishes on a session's channel.

An event is `kind \\n meta-json \\n wire`: `wire` is the exact text every member's socket gets (built
once by the publisher, framed once per process), `meta` what hubs need to act on it. Keeping the
wire text outside the meta JSON means it is never escaped and parsed again per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

STATE = "state"
JOINED = "joined"
LEFT = "left"
UPDATED = "updated"
HOST = "host"
VACANT = "vacant"
ENDED = "ended"
MEDIA = "media"


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
