"""Presence news to a room's local members, coalesced: at most one write per member per tick.

A join storm (a thousand sockets into one session) would otherwise send every join to every member
as it happens: a million frames and a million writes. News that arrives within `interval` of the
last flush waits for the next one (the first after a quiet spell goes out at once). A client that
asked for it (`presence=batch`) gets one `presence` message per flush with the net changes;
others get the `memberJoined`/`memberLeft`/`memberUpdated` frames of the tick in one write.
Anything else the room sends flushes pending news first, so the order of messages is kept.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..events import Event, EventKind
from ..outbox import text_frame
from ..server_messages import encode_presence

if TYPE_CHECKING:
    from .room import Room

PRESENCE_TICK_S = 0.1  # ≤ 10 presence frames per member per second
# ...and at most this many presence writes per room per second: a room of a thousand local members
# gets news every 0.4 s. Each write to a socket is a system call that costs tens of µs; during a join
# storm, flushing a thousand members ten times a second was most of the server's work.
MAX_WRITES_PER_S = 2500


class PresenceFeed:
    def __init__(self, room: Room, interval: float = PRESENCE_TICK_S) -> None:
        self.room = room
        self.interval = interval
        self._frames: list[tuple[bytes, str | None]] = []  # (frame, member not to tell)
        # member id -> (change, member object | None): the net change since the last flush
        self._changes: dict[str, tuple[str, dict[str, Any] | None]] = {}
        self._last_flush = float("-inf")
        self._timer: asyncio.TimerHandle | None = None

    @property
    def quiet(self) -> bool:
        """Nothing pending and a tick since the last flush: the next news goes out at once."""
        return self._timer is None and time.monotonic() - self._last_flush >= self._interval()

    def _interval(self) -> float:
        return max(self.interval, len(self.room.peers) / MAX_WRITES_PER_S)

    def add(self, event: Event) -> None:
        meta = event.meta
        if event.kind == EventKind.MEMBER_LEFT:
            member_id = meta.get("memberId")
            if isinstance(member_id, str):
                self._changes[member_id] = ("left", None)
        else:
            member = json.loads(event.wire).get("member") if event.wire else None
            if isinstance(member, dict) and isinstance(member.get("id"), str):
                before, _ = self._changes.get(member["id"], ("", None))
                joined = event.kind == EventKind.MEMBER_JOINED or before == "joined"
                self._changes[member["id"]] = ("joined" if joined else "updated", member)
        if event.wire:
            self._frames.append((text_frame(event.wire.encode()), event.skip))
        if self._timer is not None or self.room.closed:
            return
        wait = self._last_flush + self._interval() - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._frames and not self._changes:
            return
        self._last_flush = time.monotonic()
        frames, self._frames = self._frames, []
        changes, self._changes = self._changes, {}
        skips = {skip for _, skip in frames if skip is not None}
        legacy = b"".join(frame for frame, _ in frames)
        batch = _batch_frame(changes)
        sent = 0
        for member_id, peer in tuple(self.room.peers.items()):
            if getattr(peer, "presence_batch", False):
                # One frame for all, the joiners included: a batch may name its receiver (an upsert
                # of what its init said). Re-encoding it per joiner made a join storm O(N²).
                data = batch
                sent += 1 if data else 0
            elif member_id in skips:
                data = b"".join(frame for frame, skip in frames if skip != member_id)
                sent += sum(1 for _, skip in frames if skip != member_id)
            else:
                data = legacy
                sent += len(frames)
            if data:
                peer.outbox.send(data)
        metrics.MESSAGES_OUT.inc(sent)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._frames.clear()
        self._changes.clear()


def _batch_frame(changes: dict[str, tuple[str, dict[str, Any] | None]]) -> bytes:
    joined = [m for c, m in changes.values() if c == "joined" and m is not None]
    updated = [m for c, m in changes.values() if c == "updated" and m is not None]
    left = [i for i, (c, _) in changes.items() if c == "left"]
    if not (joined or updated or left):
        return b""
    return text_frame(encode_presence(joined, updated, left).encode())
