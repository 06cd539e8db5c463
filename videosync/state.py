"""Playback state: the value every participant follows, its math and its Go-compatible encoding."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

MIN_RATE = 0.0625
MAX_RATE = 16.0

# The exact bytes Go-A writes at creation (docs/go-protocol.md §2.1); kept so a Go instance reads ours.
INITIAL_STATE_JSON = '{"paused":true,"currentTime":0,"playbackRate":1}'


def go_float(value: float) -> str:
    """Format a number as Go's encoding/json does (100.0 -> 100, 1e21 -> 1e+21, 1e-7 -> 1e-7)."""
    if not math.isfinite(value):
        raise ValueError("JSON has no representation for non-finite numbers")
    shortest = repr(float(value))  # the shortest digits that round-trip, as Go also picks
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(shortest), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, _, exponent = shortest.partition("e")
    return f"{mantissa}e{exponent[0]}{int(exponent[1:])}"


@dataclass(frozen=True)
class PlaybackState:
    """Where playback is: `current_time` held at server epoch ms `timestamp`."""

    paused: bool = True
    current_time: float = 0.0
    playback_rate: float = 1.0
    timestamp: int | None = None
    version: int = 0
    video: str | None = None
    # The buffering gate's extension (PROTOCOL.md §5.1): while these are set the pause is the gate's,
    # waiting for these members until `resume_by` (server epoch ms) at the latest.
    waiting_for: tuple[str, ...] = ()
    resume_by: int | None = None

    def position_at(self, now_ms: float) -> float:
        """The position at server time `now_ms`, extrapolated while playing."""
        if self.paused or self.timestamp is None:
            return self.current_time
        elapsed = max(0.0, now_ms - self.timestamp) / 1000.0
        return self.current_time + elapsed * self.playback_rate

    def at(self, now_ms: int) -> PlaybackState:
        """The same playback re-anchored at `now_ms` (what a late joiner should be told)."""
        return replace(self, current_time=self.position_at(now_ms), timestamp=now_ms)

    def encode(self) -> str:
        """Go-A's field order first, our extensions after (old clients ignore them)."""
        parts = [
            f'"paused":{"true" if self.paused else "false"}',
            f'"currentTime":{go_float(self.current_time)}',
            f'"playbackRate":{go_float(self.playback_rate)}',
        ]
        if self.timestamp is not None:
            parts.append(f'"timestamp":{self.timestamp}')
        if self.version:
            parts.append(f'"version":{self.version}')
        if self.video is not None:
            parts.append(f'"video":{json.dumps(self.video)}')
        if self.waiting_for:
            parts.append(f'"waitingFor":{json.dumps(list(self.waiting_for))}')
            if self.resume_by is not None:
                parts.append(f'"resumeBy":{self.resume_by}')
        return "{" + ",".join(parts) + "}"

    @classmethod
    def decode(cls, text: str | None) -> PlaybackState:
        """Read a stored state, ours or a Go instance's; anything unreadable is the initial state."""
        if not text:
            return cls()
        try:
            data: Any = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            paused=bool(data.get("paused", True)),
            current_time=_number(data.get("currentTime"), 0.0),
            playback_rate=_number(data.get("playbackRate"), 1.0),
            timestamp=_int_or_none(data.get("timestamp")),
            version=_int_or_none(data.get("version")) or 0,
            video=data["video"] if isinstance(data.get("video"), str) else None,
            waiting_for=_ids(data.get("waitingFor")),
            resume_by=_int_or_none(data.get("resumeBy")),
        )


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return float(value)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))
