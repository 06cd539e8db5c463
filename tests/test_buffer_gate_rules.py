"""The buffering gate's rules (`videosync.room.waiting`): examples, then a property test over random
sequences of stalls, readiness, leaves, reconnects, opt-outs, "play anyway", controller actions and
time passing. The session must never stay waiting past its deadline, and never go on before it
while a member that takes part in playback is still stalled (unless whoever controls said so)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from videosync.room.waiting import BufferGate, Pause, Resume, Rewait

WAIT, START_WAIT = 10_000, 30_000


def playing_gate(*members: str, now: int = 0) -> BufferGate:
    gate = BufferGate(WAIT, START_WAIT)
    gate.controlled(True, now)
    for member in members:
        gate.join(member, now)
        gate.report(member, False, now)
    return gate


def test_a_stall_pauses_everyone_until_the_member_is_ready() -> None:
    gate = playing_gate("ana", "bo")
    assert gate.report("ana", True, 1_000) == Pause(frozenset({"ana"}), 1_000 + WAIT)
    assert gate.report("ana", True, 2_000) is None
    assert gate.report("ana", False, 3_000) == Resume()
    assert not gate.active


def test_a_second_stall_joins_the_wait_without_moving_the_deadline() -> None:
    gate = playing_gate("ana", "bo")
    gate.report("ana", True, 1_000)
    assert gate.report("bo", True, 5_000) == Rewait(frozenset({"ana", "bo"}), 1_000 + WAIT)
    assert gate.report("ana", False, 6_000) == Rewait(frozenset({"bo"}), 1_000 + WAIT)


def test_the_deadline_lets_the_others_go_on_and_the_laggard_catches_up_on_its_own() -> None:
    gate = playing_gate("ana", "bo")
    gate.report("ana", True, 1_000)
    assert gate.tick(1_000 + WAIT) == Resume(frozenset({"ana"}))
    assert gate.report("ana", True, 12_000) is None  # excused: no second pause while it catches up
    assert gate.report("ana", False, 13_000) is None
    assert isinstance(gate.report("ana", True, 14_000), Pause)  # ready again: it counts again


def test_a_late_joiner_still_loading_never_pauses_the_others() -> None:
    gate = playing_gate("ana")
    gate.join("late", 1_000)
    assert gate.report("late", True, 1_100) is None
    assert not gate.active


def test_a_late_joiner_catching_up_takes_part_only_once_in_sync() -> None:
    gate = playing_gate("ana")
    gate.join("late", 1_000)
    gate.report("late", False, 1_100, in_sync=False)  # loaded at 0, the session is at 40 s
    assert gate.report("late", True, 1_200) is None  # its catch-up seek
    gate.report("late", False, 1_500, in_sync=True)
    assert isinstance(gate.report("late", True, 2_000), Pause)


def test_opting_out_releases_a_wait_and_prevents_the_next() -> None:
    gate = playing_gate("ana", "bo")
    gate.report("ana", True, 1_000)
    assert gate.opt_out("ana", True, 2_000) == Resume()
    assert gate.report("ana", True, 3_000) is None


def test_a_member_leaving_releases_the_wait() -> None:
    gate = playing_gate("ana", "bo")
    gate.report("ana", True, 1_000)
    assert gate.leave("ana", 2_000) == Resume()


def test_play_anyway_goes_on_without_the_stalled() -> None:
    gate = playing_gate("ana", "bo")
    gate.report("ana", True, 1_000)
    assert gate.play_anyway(2_000) == Resume(frozenset({"ana"}))
    assert gate.play_anyway(2_500) is None


def test_a_paused_session_does_not_wait_and_a_play_waits_for_the_stalled() -> None:
    gate = playing_gate("ana", "bo")
    gate.controlled(False, 1_000)
    assert gate.report("ana", True, 2_000) is None
    assert gate.controlled(True, 3_000) == Pause(frozenset({"ana"}), 3_000 + WAIT)


def test_a_new_video_waits_for_everyone_with_the_longer_deadline() -> None:
    gate = playing_gate("ana", "bo")
    assert gate.controlled(True, 1_000, new_video=True) == Pause(frozenset({"ana", "bo"}), 1_000 + START_WAIT)
    assert gate.report("ana", False, 2_000) == Rewait(frozenset({"bo"}), 1_000 + START_WAIT)
    assert gate.report("bo", False, 3_000) == Resume()
    # a stall soon after the start still gets the start's longer wait
    assert gate.report("bo", True, 4_000) == Pause(frozenset({"bo"}), 4_000 + START_WAIT)


# -- the property ---------------------------------------------------------------------------------

MEMBERS = ("a", "b", "c", "d")


@dataclass(frozen=True)
class Step:
    op: str
    member: str
    flag: bool
    dt: int  # ms of time passing before the step


steps = st.lists(
    st.builds(
        Step,
        op=st.sampled_from(
            ["join", "leave", "reconnect", "stall", "ready", "opt_out", "control", "new_video", "play_anyway", "tick"]
        ),
        member=st.sampled_from(MEMBERS),
        flag=st.booleans(),
        dt=st.integers(0, 15_000),
    ),
    max_size=80,
)


def apply(gate: BufferGate, step: Step, now: int) -> object:
    m = step.member
    if step.op == "join":
        return gate.join(m, now)
    if step.op == "leave":
        return gate.leave(m, now)
    if step.op == "reconnect":
        gate.leave(m, now)
        return gate.join(m, now)
    if step.op == "stall":
        return gate.report(m, True, now)
    if step.op == "ready":
        return gate.report(m, False, now, in_sync=step.flag or step.dt % 2 == 0)
    if step.op == "opt_out":
        return gate.opt_out(m, step.flag, now)
    if step.op == "control":
        return gate.controlled(step.flag, now)
    if step.op == "new_video":
        return gate.controlled(True, now, new_video=True)
    if step.op == "play_anyway":
        return gate.play_anyway(now)
    return gate.tick(now)


@settings(max_examples=600, deadline=None)
@given(steps)
def test_no_sequence_leaves_the_session_waiting_past_its_deadline_or_going_on_early(seq: list[Step]) -> None:
    gate = BufferGate(WAIT, START_WAIT)
    now = 0
    for step in seq:
        target = now + step.dt
        # the room's timer fires at the deadline, before anything later happens
        if gate.active and gate.deadline is not None and gate.deadline <= target:
            now = gate.deadline
            assert isinstance(gate.tick(now), Resume)
        now = target
        was_active, deadline, started = gate.active, gate.deadline, now
        decision = apply(gate, step, now)
        overridden = step.op in ("control", "new_video", "play_anyway")

        # never waiting at or past the deadline, which is at most the longest wait away
        if gate.active:
            assert gate.deadline is not None and now < gate.deadline
            assert gate.deadline - started <= START_WAIT or was_active
            assert gate.waiting == gate.blocking() and gate.waiting
        if was_active and gate.active and not overridden:
            assert gate.deadline == deadline  # a wait's deadline never moves
        # never going on early while someone taking part is stalled, unless told to
        if isinstance(decision, Resume) and not overridden:
            assert deadline is not None and (now >= deadline or not gate.blocking())
        # a playing session with a stalled member taking part is always waiting
        if gate.playing and gate.blocking():
            assert gate.active
        # the decision matches the state it leaves
        if isinstance(decision, Pause | Rewait):
            assert gate.active and decision.waiting == gate.waiting and decision.deadline == gate.deadline
        if isinstance(decision, Resume):
            assert not gate.active
