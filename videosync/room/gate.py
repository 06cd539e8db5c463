"""The buffering gate of a room: feeds the rules (`waiting.BufferGate`) and writes their decisions.

What every process hears, in the same order, on the session's channel: joins and leaves, the
playback states, and `gate` events — a member's readiness (`op: report`, published by the member's
own process when it changes), its "don't wait for me" (`op: optOut`), and a new room's `hello`,
which every process answers with its own members' seats (`op: seats`) so a room made late knows
what the others know.

Who decides (PROTOCOL.md §5.1): the process holding the host's socket — one writer, so processes
do not race each other's writes; while the session is hostless, every process with members does.
The deadline (`resumeBy`, stored in the state) is enforced by every process, so a wait never
outlives its deadline even if the deciding process dies. Every write is a compare-and-set on
`session:K:state` whose change re-checks the decision against the stored state: a duplicate or
outdated decision changes nothing (`NoChange`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..events import Event, EventKind
from ..protocol import Report, StateCommand, WaitPreference
from ..server_messages import encode_state_update
from ..sessions import SessionNotFound, StoredState, short_key
from ..state import PlaybackState
from ..store import StoreError
from .context import Peer, precise_ms
from .feature import RoomFeature
from .roster import member_from_event
from .waiting import BufferGate, Decision, Pause, Resume, Rewait, Seat

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

NAME = "gate"
# Every process, not only the deciding one, resumes a wait this long after its deadline.
FALLBACK_MS = 500
# A player this close to the session's position (its reported drift) is in sync: only then does
# it take part in the gate (a late joiner catching up by a seek would otherwise pause everyone).
IN_SYNC_MS = 500


class NoChange(Exception):
    """The stored state already is what the decision would make it."""


class Gate(RoomFeature):
    name = NAME
    events = frozenset({EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT, EventKind.STATE, EventKind.GATE})

    def __init__(self, room: Room) -> None:
        super().__init__(room)
        settings = room.ctx.settings
        self.rules = BufferGate(int(settings.buffer_wait * 1000), int(settings.buffer_wait_start * 1000))
        self.video: str | None = None
        self.version = -1  # of the last state heard
        self.known = False  # the stored state has been read once
        self.stored_deadline: int | None = None  # `resumeBy` of the stored state while it waits
        self.heard: set[str] = set()  # members whose gate news this process has heard
        self.ready_sent: dict[str, tuple[bool, bool]] = {}  # local member -> (buffering, in sync) published
        self.timer: asyncio.TimerHandle | None = None

    def on_close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    @property
    def now(self) -> int:
        return self.room.ctx.clock()

    @property
    def deciding(self) -> bool:
        host = self.room.host_id
        return host is None or host in self.room.peers

    # -- what members send -----------------------------------------------------------------------
    async def on_join(self, _member_id: str) -> None:
        if self.known:
            return
        self.known = True
        stored = await self.room.ctx.sessions.stored_state(self.room.key)
        self._heard_state(stored.state, by_gate=True)
        await self._publish({"op": "hello", "proc": self.room.ctx.proc_id})

    async def report(self, member_id: str, report: Report) -> None:
        if report.buffering is None:
            return
        # a player still on another video is not ready for this one (a report sent before it heard
        # of the switch must not release the wait at a video's start)
        buffering = report.buffering or (report.video is not None and report.video != self.video)
        # a drift it could not measure yet (a player that has not played since it joined) is not
        # "in sync": a late joiner still to seek to the session's position must not take part yet
        in_sync = report.drift is not None and abs(report.drift) <= IN_SYNC_MS
        if self.ready_sent.get(member_id) == (buffering, in_sync):
            return
        self.ready_sent[member_id] = (buffering, in_sync)
        await self._publish({"op": "report", "id": member_id, "buffering": buffering, "inSync": in_sync})

    async def opt_out(self, member_id: str, wait: bool) -> None:
        await self._publish({"op": "optOut", "id": member_id, "value": not wait})

    # -- what the channel says -------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        kind, meta, now = event.kind, event.meta, self.now
        if kind == EventKind.MEMBER_JOINED:
            member = member_from_event(meta, event.wire)
            if member is not None:
                self.heard.discard(member.id)
                self._act(self.rules.join(member.id, now))
        elif kind == EventKind.MEMBER_LEFT:
            member_id = str(meta.get("memberId"))
            self.ready_sent.pop(member_id, None)
            self.heard.discard(member_id)
            self._act(self.rules.leave(member_id, now))
        elif kind == EventKind.STATE and isinstance(meta.get("state"), str):
            decision = self._heard_state(PlaybackState.decode(meta["state"]), bool(meta.get("gate")))
            self._act(decision)
        elif kind == EventKind.GATE:
            self._act(self._gate_event(meta, now))

    def _gate_event(self, meta: dict[str, Any], now: int) -> Decision | None:
        op, member_id = meta.get("op"), meta.get("id")
        if op == "report" and isinstance(member_id, str):
            self.heard.add(member_id)
            in_sync = meta.get("inSync") is not False
            return self.rules.report(member_id, bool(meta.get("buffering")), now, in_sync)
        if op == "optOut" and isinstance(member_id, str):
            self.heard.add(member_id)
            return self.rules.opt_out(member_id, bool(meta.get("value")), now)
        me = self.room.ctx.proc_id
        if op == "hello" and meta.get("proc") != me:
            peers = self.room.peers
            seats = {m: [s.armed, s.stalled, s.opted_out] for m, s in self.rules.seats.items() if m in peers}
            if seats:
                reply = {"op": "seats", "to": meta.get("proc"), "seats": seats}
                self.room.spawn(self._publish(reply), "gate-seats")
        elif op == "seats" and meta.get("to") == me and isinstance(meta.get("seats"), dict):
            for m, seat in meta["seats"].items():
                # a snapshot may be older than news heard since: only what this process missed
                if m not in self.heard and isinstance(seat, list) and len(seat) == 3:
                    known = self.rules.seats.setdefault(m, Seat())
                    known.armed, known.stalled, known.opted_out = (bool(x) for x in seat)
            return self.rules.decide(now)
        return None

    def _heard_state(self, state: PlaybackState, by_gate: bool) -> Decision | None:
        heard_before = self.version >= 0
        if heard_before and state.version <= self.version:
            return None
        self.version = state.version
        new_video = heard_before and state.video != self.video
        if new_video:
            self.ready_sent.clear()  # every player must say again that it is ready, for this video
        self.video = state.video
        self.stored_deadline = state.resume_by if state.waiting_for else None
        if by_gate or state.waiting_for:
            self.rules.adopt(frozenset(state.waiting_for), state.resume_by, not state.paused)
            for member in state.waiting_for:  # whoever the stored wait names is stalled until heard
                seat = self.rules.seats.setdefault(member, Seat())
                seat.armed = seat.stalled = True
            self._schedule()
            return None
        return self.rules.controlled(not state.paused, self.now, new_video)

    # -- decisions -----------------------------------------------------------------------------------
    def _act(self, decision: Decision | None) -> None:
        self._schedule()
        if decision is not None and self.deciding:
            self.room.spawn(self._write(decision), f"gate-{short_key(self.room.key)}")

    def _schedule(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # the stored deadline, not the rules': a process whose rules think the wait is over still
        # ends it at the deadline if the stored state says it is not
        deadline = self.stored_deadline
        if deadline is None or self.room.ended or self.room.closed:
            return
        late = 0 if self.deciding else FALLBACK_MS
        delay = max(0.0, (deadline + late - self.now) / 1000.0)
        self.timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self.timer = None
        decision = self.rules.tick(self.now)
        # at the deadline every process writes (the compare-and-set decides; duplicates change nothing)
        resume = decision if isinstance(decision, Resume) else Resume()
        self.room.spawn(self._write(resume), f"gate-{short_key(self.room.key)}")

    async def _write(self, decision: Decision) -> None:
        room = self.room
        now = self.now
        lead = room.ctx.settings.play_lead_ms

        def change(current: PlaybackState) -> PlaybackState:
            return apply_decision(current, decision, now, lead)

        def announce(saved: StoredState) -> str:
            wire = encode_state_update(saved.text or "", now, None)
            meta = {"video": saved.state.video, "sent": precise_ms(), "state": saved.text, "gate": True}
            return Event(EventKind.STATE, meta, wire).encode()

        try:
            room.state = await room.ctx.sessions.update_state(room.key, change, room.state, announce)
            log.info("session %s: gate %s", short_key(room.key), type(decision).__name__.lower())
        except NoChange:
            pass
        except SessionNotFound:
            await room.end("deleted")
        except StoreError as exc:
            log.warning("session %s: gate decision not written: %s", short_key(room.key), exc)

    async def _publish(self, meta: dict[str, Any]) -> None:
        try:
            await self.room.publish(Event(EventKind.GATE, meta))
        except StoreError as exc:
            log.warning("session %s: gate news not published: %s", short_key(self.room.key), exc)


def apply_decision(current: PlaybackState, decision: Decision, now: int, lead_ms: int) -> PlaybackState:
    """The state a decision makes of `current`; NoChange if the stored state already settled it."""
    if isinstance(decision, Pause):
        if current.paused:
            raise NoChange  # paused already (by whoever controls, or by this gate)
        return replace(
            current, paused=True, current_time=current.position_at(now), timestamp=now,
            waiting_for=tuple(sorted(decision.waiting)), resume_by=decision.deadline,
        )
    if not current.waiting_for:
        raise NoChange  # the wait is over already (resumed, or whoever controls acted)
    if isinstance(decision, Rewait):
        if set(current.waiting_for) == decision.waiting:
            raise NoChange
        return replace(current, waiting_for=tuple(sorted(decision.waiting)))
    assert isinstance(decision, Resume)
    # everyone starts at one scheduled server instant, from the position the wait held
    return replace(current, paused=False, timestamp=now + lead_ms, waiting_for=(), resume_by=None)


def keep_waiting(current: PlaybackState, command: StateCommand, changed: PlaybackState) -> PlaybackState:
    """A seek or a speed change while the gate waits keeps the wait (only a play, a pause or another
    video ends it: a play is "play anyway")."""
    if current.waiting_for and command.paused is None and command.video is None:
        return replace(changed, paused=True, waiting_for=current.waiting_for, resume_by=current.resume_by)
    return changed


def gate_of(room: Room) -> Gate | None:
    return room.feature(Gate)


async def wait_preference(room: Room, peer: Peer, command: WaitPreference, _received_ms: float) -> None:
    gate = gate_of(room)
    if gate is not None:
        await gate.opt_out(peer.member_id, command.wait)
