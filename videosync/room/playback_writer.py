"""A session's playback changes, written to the store beside the socket, never by it.

Tornado reads a socket's next frame only once `on_message` returns. Awaiting the state's
compare-and-set there held the host's next update back for a store round trip plus the loop turns
around it (each long while the process copies video), so with Redis under load updates were
applied slower than a host sends them and the room fell behind. Here the socket only queues an
accepted change (permission and video checked at once, errors replied at once) and returns.

The write of a change that finds the room idle is sent in the same loop turn (the store's
`set_states` queues it when called); one writer task per room awaits it, and every change that
arrived meanwhile is written next, all together (`SessionService.update_states`: one Lua script on
Redis). Nothing is merged or dropped: every change keeps its own version and message, in order, as
one write each would have done. A peer's other commands wait for its queued changes (`settled`),
so what a peer sends takes effect, and is answered, in the order sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..events import Event, EventKind
from ..playback import apply_command
from ..protocol import UNAVAILABLE, StateCommand
from ..server_messages import encode_error, encode_state_update
from ..sessions import SessionNotFound, StateStep, StoredState, short_key
from ..state import PlaybackState
from ..store import StoreError
from .context import Peer, precise_ms
from .gate import keep_waiting

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

HEARD_TIMEOUT_S = 1.0  # a lost announcement holds a peer's next reply back at most this long


@dataclass(frozen=True)
class Change:
    """One accepted command: its sender and the server time it was received at."""

    peer: Peer
    command: StateCommand
    now: int

    def step(self, play_lead_ms: int) -> StateStep:
        def change(current: PlaybackState) -> PlaybackState:
            changed = apply_command(current, self.command, self.now, play_lead_ms)
            return keep_waiting(current, self.command, changed)

        def announce(saved: StoredState) -> str:
            wire = encode_state_update(saved.text or "", self.now, self.peer.member_id)
            # "sent": for the broadcast latency metric; "state": every process's cached copy
            meta = {"video": saved.state.video, "sent": precise_ms(), "state": saved.text}
            return Event(EventKind.STATE, meta, wire).encode()

        return change, announce


async def _raise(exc: Exception) -> StoredState:
    raise exc


class PlaybackWriter:
    def __init__(self, room: Room) -> None:
        self.room = room
        self._queued: list[Change] = []
        self._writing: list[Change] = []
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[asyncio.Future[None]] = []  # `settled` callers, woken after each write
        self._written = -1  # the newest version written here

    def submit(self, peer: Peer, command: StateCommand) -> None:
        """Queue an accepted (permitted, valid) command; written without the caller waiting."""
        self._queued.append(Change(peer, command, self.room.ctx.clock()))
        if self._task is None:
            first = self._start()  # sent in this loop turn, not in the writer task's first one
            self._task = self.room.spawn(self._run(first), f"playback-{short_key(self.room.key)}")

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
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        # A writer's own stateUpdate reaches it through the channel, on another connection than
        # the write's reply: what it sent next is answered after it has heard it.
        await self.room.heard(self._written, HEARD_TIMEOUT_S)

    def _start(self) -> Awaitable[StoredState]:
        self._writing, self._queued = self._queued, []
        room = self.room
        steps = [change.step(room.ctx.settings.play_lead_ms) for change in self._writing]
        try:
            # From the cached state, not a read: a compare-and-set that re-reads if it was stale.
            return room.ctx.sessions.update_states(room.key, steps, room.state)
        except Exception as exc:  # reported by the writer task like any failed write
            return _raise(exc)

    async def _run(self, writing: Awaitable[StoredState]) -> None:
        try:
            while True:
                try:
                    await self._finish(writing)
                except Exception:  # a bug in one write must not strand the changes queued behind it
                    log.exception("session %s: playback write failed", short_key(self.room.key))
                finally:
                    self._writing = []
                    waiters, self._waiters = self._waiters, []
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                if self.room.closed:
                    self._queued.clear()  # nobody is left to hear them
                if not self._queued:
                    break
                writing = self._start()
        finally:
            self._task = None

    async def _finish(self, writing: Awaitable[StoredState]) -> None:
        room = self.room
        try:
            saved = await writing
        except SessionNotFound:
            await room.end("deleted")
            return
        except StoreError as exc:
            log.warning("session %s: playback change failed: %s", short_key(room.key), exc)
            reply = encode_error(UNAVAILABLE, "session store unavailable; try again")
            for peer in {id(each.peer): each.peer for each in self._writing}.values():
                if room.peers.get(peer.member_id) is peer:
                    room.send(peer, reply)
            return
        if room.state is None or saved.state.version >= room.state.state.version:
            room.state = saved
        self._written = max(self._written, saved.state.version)
