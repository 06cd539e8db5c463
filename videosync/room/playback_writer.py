"""A session's playback changes, written to the store by one task per room, never by the socket.

A host scrubbing the seek bar sends tens of updates a second, and each one is a compare-and-set
round trip to the store. Awaited from `on_message`, those round trips kept Tornado from reading
the host's next frame, so updates were applied one round trip apart: with Redis under load,
slower than the host sent them, and the room fell seconds behind. Here the socket only queues
the change, and one writer task per room writes it; the changes that arrive while a write is in
flight are written next, all in one go (`SessionService.update_states`: a chain of
compare-and-sets, one Redis round trip). Nothing is merged or dropped: every change is applied in
order, keeps its own version and is announced, exactly as one write each would have done.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import Event, EventKind
from ..playback import apply_command
from ..protocol import UNAVAILABLE, StateCommand, encode_error, encode_state_update
from ..sessions import SessionNotFound, StateStep, StoredState, short_key
from ..state import PlaybackState
from ..store import StoreError
from .context import Peer, precise_ms
from .gate import keep_waiting

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One accepted command: its sender and the server time it was received at."""

    peer: Peer
    command: StateCommand
    now: int

    def apply(self, current: PlaybackState, play_lead_ms: int) -> PlaybackState:
        changed = apply_command(current, self.command, self.now, play_lead_ms)
        return keep_waiting(current, self.command, changed)


class PlaybackWriter:
    def __init__(self, room: Room) -> None:
        self.room = room
        self._queued: list[Change] = []
        self._writing: list[Change] = []
        self._task: asyncio.Task[None] | None = None
        self._written = asyncio.Event()  # set (and replaced) after each write, failed or not

    def submit(self, peer: Peer, command: StateCommand) -> None:
        """Queue an accepted (permitted, valid) command; it is written without the caller waiting."""
        self._queued.append(Change(peer, command, self.room.ctx.clock()))
        if self._task is None:
            self._task = self.room.ctx.spawn(self._run(), f"playback-{short_key(self.room.key)}")

    @property
    def pending(self) -> int:
        """Changes accepted and not yet written (queued, or in the write in flight)."""
        return len(self._writing) + len(self._queued)

    def busy_for(self, peer: Peer) -> bool:
        return any(change.peer is peer for change in (*self._writing, *self._queued))

    async def settled(self, peer: Peer) -> None:
        """Until `peer`'s queued changes are written (or failed, its error reply sent): its next
        command and reply come after them, as if the socket had waited."""
        while self.busy_for(peer):
            await self._written.wait()

    async def _run(self) -> None:
        try:
            while self._queued:
                self._writing, self._queued = self._queued, []
                try:
                    await self._write(self._writing)
                except Exception:  # a bug in one write must not strand the changes queued behind it
                    log.exception("session %s: playback write failed", short_key(self.room.key))
                finally:
                    self._writing = []
                    written, self._written = self._written, asyncio.Event()
                    written.set()
        finally:
            self._task = None

    async def _write(self, batch: list[Change]) -> None:
        room = self.room
        play_lead_ms = room.ctx.settings.play_lead_ms

        def step(each: Change) -> StateStep:
            def change(current: PlaybackState) -> PlaybackState:
                return each.apply(current, play_lead_ms)

            def announce(saved: StoredState) -> str:
                wire = encode_state_update(saved.text or "", each.now, each.peer.member_id)
                # "sent": for the broadcast latency metric; "state": every process's cached copy
                meta = {"video": saved.state.video, "sent": precise_ms(), "state": saved.text}
                return Event(EventKind.STATE, meta, wire).encode()

            return change, announce

        try:
            # From the cached state, not a read: each write is a compare-and-set that re-reads if
            # the cache was stale, and the batch is one store round trip.
            steps = [step(each) for each in batch]
            room.state = await room.ctx.sessions.update_states(room.key, steps, room.state)
        except SessionNotFound:
            await room.end("deleted")
        except StoreError as exc:
            log.warning("session %s: playback change failed: %s", short_key(room.key), exc)
            reply = encode_error(UNAVAILABLE, "session store unavailable; try again")
            for peer in {id(each.peer): each.peer for each in batch}.values():
                if room.peers.get(peer.member_id) is peer:
                    room.send(peer, reply)
