"""The buffering gate's rules: when a session waits for a stalled member, and when it goes on.

Pure: no I/O, time passed in (server epoch ms). Every input returns the decision it leads to (or
None); the room's glue (`gate.py`) writes the decision as a playback state. The rules:

* A member takes part in playback ("armed") once it has reported being ready and in sync since it
  joined, or since the gate last let the session go on without it: a late joiner, still loading or
  catching up, never pauses the others, and a laggard left behind catches up on its own before it
  can pause anyone again.
* While the session plays, an armed member that stalls (and has not opted out) pauses it for
  everyone: `Pause(waiting, deadline)`. More stalls join the same wait; the deadline never moves.
* The wait ends (`Resume`) when nobody it waits for is still stalled (ready, left, opted out), when
  whoever controls plays anyway, or at the deadline — whatever happens first. At the deadline the
  members still stalled are excused (disarmed) so the gate does not pause again at once.
* A new video puts every armed member in the wait until it reports ready for that video, with the
  longer `start_wait_ms` deadline (a gate that begins within `start_wait_ms` of a video's start
  gets that deadline too).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Seat:
    """A member as the gate sees it."""

    armed: bool = False  # takes part in playback: reported ready since it joined or was excused
    stalled: bool = False
    opted_out: bool = False  # "don't wait for me"

    @property
    def blocking(self) -> bool:
        return self.armed and self.stalled and not self.opted_out


@dataclass(frozen=True)
class Pause:
    waiting: frozenset[str]
    deadline: int


@dataclass(frozen=True)
class Rewait:
    """Still waiting, for another set of members (someone else stalled, or someone is ready)."""

    waiting: frozenset[str]
    deadline: int


@dataclass(frozen=True)
class Resume:
    excused: frozenset[str] = frozenset()  # members left behind at the deadline or by "play anyway"


Decision = Pause | Rewait | Resume


@dataclass
class BufferGate:
    wait_ms: int
    start_wait_ms: int
    seats: dict[str, Seat] = field(default_factory=dict)
    playing: bool = False
    waiting: frozenset[str] = frozenset()  # non-empty while the session waits
    deadline: int | None = None
    video_started_at: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.waiting)

    def blocking(self) -> frozenset[str]:
        return frozenset(member for member, seat in self.seats.items() if seat.blocking)

    # -- inputs -----------------------------------------------------------------------------
    def join(self, member: str, now: int) -> Decision | None:
        """A new member (or one reconnecting): not armed until it reports ready."""
        self.seats[member] = Seat()
        return self.decide(now)

    def leave(self, member: str, now: int) -> Decision | None:
        self.seats.pop(member, None)
        return self.decide(now)

    def report(self, member: str, buffering: bool, now: int, in_sync: bool = True) -> Decision | None:
        """`in_sync`: the player is where the session is (a late joiner still catching up is not)."""
        seat = self.seats.setdefault(member, Seat())
        seat.stalled = buffering
        if not buffering and in_sync:
            seat.armed = True
        return self.decide(now)

    def opt_out(self, member: str, opted_out: bool, now: int) -> Decision | None:
        self.seats.setdefault(member, Seat()).opted_out = opted_out
        return self.decide(now)

    def controlled(self, playing: bool, now: int, new_video: bool = False) -> Decision | None:
        """Whoever controls changed playback. A play while waiting is "play anyway"."""
        excused: frozenset[str] = frozenset()
        if new_video:
            self.video_started_at = now
            for seat in self.seats.values():
                if seat.armed and not seat.opted_out:
                    seat.stalled = True  # pending until it reports ready for the new video
        elif playing and self.active:
            excused = self._excuse()
        was_active = self.active
        self.waiting, self.deadline = frozenset(), None
        self.playing = playing
        decision = self.decide(now)
        if decision is None and was_active and playing:
            return Resume(excused)
        return decision

    def play_anyway(self, now: int) -> Decision | None:
        if not self.active:
            return None
        return self.controlled(True, now)

    def tick(self, now: int) -> Decision | None:
        return self.decide(now)

    def adopt(self, waiting: frozenset[str], deadline: int | None, playing: bool) -> None:
        """The stored state says how things stand (another process decided): take it as it is."""
        self.waiting = waiting
        self.deadline = deadline if waiting else None
        self.playing = playing or bool(waiting)

    # -- the decision ---------------------------------------------------------------------------
    def decide(self, now: int) -> Decision | None:
        if not self.active and not self.playing:
            return None  # nothing to pause; and a join storm into a paused room stays O(N), not O(N²)
        blocking = self.blocking()
        if self.active:
            assert self.deadline is not None
            if now >= self.deadline:
                return self._resume(self._excuse())
            if not blocking:
                return self._resume(frozenset())
            if blocking != self.waiting:
                self.waiting = blocking
                return Rewait(blocking, self.deadline)
            return None
        if self.playing and blocking:
            self.waiting = blocking
            self.deadline = now + self._wait_for(now)
            return Pause(blocking, self.deadline)
        return None

    def _wait_for(self, now: int) -> int:
        started = self.video_started_at
        if started is not None and now - started < self.start_wait_ms:
            return self.start_wait_ms
        return self.wait_ms

    def _excuse(self) -> frozenset[str]:
        excused = self.blocking()
        for member in excused:
            self.seats[member].armed = False
        return excused

    def _resume(self, excused: frozenset[str]) -> Resume:
        self.waiting, self.deadline = frozenset(), None
        self.playing = True
        return Resume(excused)
