"""Applying a host's command to the playback state, and what a late joiner is told."""

from __future__ import annotations

import pytest

from videosync.playback import apply_command, for_joiner
from videosync.protocol import StateCommand
from videosync.state import PlaybackState

LEAD = 120  # ms a paused→playing start is scheduled ahead


def test_play_from_pause_is_scheduled_ahead() -> None:
    current = PlaybackState(paused=True, current_time=10.0, timestamp=1000, version=3)
    new = apply_command(current, StateCommand(paused=False), now_ms=5000, play_lead_ms=LEAD)
    assert (new.paused, new.current_time, new.timestamp, new.version) == (False, 10.0, 5120, 3)


def test_seek_while_playing_is_not_delayed() -> None:
    current = PlaybackState(paused=False, current_time=10.0, timestamp=1000)
    new = apply_command(current, StateCommand(current_time=50.0), now_ms=5000, play_lead_ms=LEAD)
    assert (new.paused, new.current_time, new.timestamp) == (False, 50.0, 5000)


def test_rate_change_keeps_extrapolated_position() -> None:
    current = PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=1000)
    new = apply_command(current, StateCommand(playback_rate=1.0), now_ms=3000, play_lead_ms=LEAD)
    assert (new.current_time, new.playback_rate, new.timestamp) == (14.0, 1.0, 3000)


def test_pause_snaps_to_position_now() -> None:
    current = PlaybackState(paused=False, current_time=10.0, timestamp=1000)
    new = apply_command(current, StateCommand(paused=True), now_ms=2500, play_lead_ms=LEAD)
    assert (new.paused, new.current_time) == (True, 11.5)


def test_video_switch_restarts_at_zero() -> None:
    current = PlaybackState(paused=True, current_time=10.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(video="b"), now_ms=2000, play_lead_ms=LEAD)
    assert (new.video, new.current_time) == ("b", 0.0)


# Every field the command leaves out keeps its value: checked on the whole state, not a few fields.


def test_a_pause_keeps_the_video_rate_and_version() -> None:
    current = PlaybackState(paused=False, current_time=10.0, playback_rate=1.5, timestamp=1000, version=7, video="a")
    new = apply_command(current, StateCommand(paused=True), now_ms=3000, play_lead_ms=LEAD)
    assert new == PlaybackState(
        paused=True, current_time=13.0, playback_rate=1.5, timestamp=3000, version=7, video="a"
    )


def test_a_seek_keeps_the_video_rate_and_paused_flag() -> None:
    current = PlaybackState(paused=True, current_time=10.0, playback_rate=0.5, timestamp=1000, version=2, video="a")
    new = apply_command(current, StateCommand(current_time=42.0), now_ms=3000, play_lead_ms=LEAD)
    assert new == PlaybackState(
        paused=True, current_time=42.0, playback_rate=0.5, timestamp=3000, version=2, video="a"
    )


def test_a_seek_while_playing_keeps_video_and_rate() -> None:
    current = PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(current_time=5.0), now_ms=3000, play_lead_ms=LEAD)
    assert new == PlaybackState(paused=False, current_time=5.0, playback_rate=2.0, timestamp=3000, video="a")


def test_play_from_pause_keeps_video_and_rate_and_holds_the_position() -> None:
    current = PlaybackState(paused=True, current_time=8.0, playback_rate=1.25, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(paused=False), now_ms=9000, play_lead_ms=LEAD)
    assert new == PlaybackState(paused=False, current_time=8.0, playback_rate=1.25, timestamp=9120, video="a")


def test_play_while_already_playing_is_not_rescheduled() -> None:
    current = PlaybackState(paused=False, current_time=10.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(paused=False), now_ms=2000, play_lead_ms=LEAD)
    assert (new.current_time, new.timestamp) == (11.0, 2000)


def test_a_pause_while_paused_stays_put() -> None:
    current = PlaybackState(paused=True, current_time=10.0, timestamp=1000)
    new = apply_command(current, StateCommand(paused=True), now_ms=2000, play_lead_ms=LEAD)
    assert new == PlaybackState(paused=True, current_time=10.0, timestamp=2000)


def test_an_empty_command_re_anchors_and_keeps_everything_else() -> None:
    current = PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=1000, version=4, video="a")
    new = apply_command(current, StateCommand(), now_ms=2000, play_lead_ms=LEAD)
    assert new == PlaybackState(
        paused=False, current_time=12.0, playback_rate=2.0, timestamp=2000, version=4, video="a"
    )


def test_switching_video_while_playing_starts_the_new_one_ahead() -> None:
    current = PlaybackState(paused=False, current_time=30.0, playback_rate=1.5, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(video="b"), now_ms=2000, play_lead_ms=LEAD)
    assert new == PlaybackState(paused=False, current_time=0.0, playback_rate=1.5, timestamp=2120, video="b")


def test_switching_video_and_pausing_is_not_scheduled() -> None:
    current = PlaybackState(paused=False, current_time=30.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(paused=True, video="b"), now_ms=2000, play_lead_ms=LEAD)
    assert (new.paused, new.current_time, new.timestamp, new.video) == (True, 0.0, 2000, "b")


def test_switching_video_at_a_given_position_starts_there() -> None:
    current = PlaybackState(paused=True, current_time=30.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(current_time=12.0, video="b"), now_ms=2000, play_lead_ms=LEAD)
    assert (new.current_time, new.video) == (12.0, "b")


def test_naming_the_current_video_again_is_not_a_switch() -> None:
    current = PlaybackState(paused=False, current_time=30.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(video="a"), now_ms=2000, play_lead_ms=LEAD)
    assert (new.current_time, new.timestamp, new.video) == (31.0, 2000, "a")


def test_every_field_at_once() -> None:
    current = PlaybackState(paused=True, current_time=30.0, timestamp=1000, version=9, video="a")
    command = StateCommand(paused=False, current_time=3.0, playback_rate=0.75, video="b")
    new = apply_command(current, command, now_ms=2000, play_lead_ms=LEAD)
    assert new == PlaybackState(
        paused=False, current_time=3.0, playback_rate=0.75, timestamp=2120, version=9, video="b"
    )


# -- late joiners ------------------------------------------------------------------------------------


def test_late_joiner_gets_extrapolated_position_but_scheduled_start_is_kept() -> None:
    playing = PlaybackState(paused=False, current_time=10.0, playback_rate=1.5, timestamp=1000)
    assert for_joiner(playing, 3000).current_time == 13.0
    assert for_joiner(playing, 3000).timestamp == 3000
    scheduled = PlaybackState(paused=False, current_time=10.0, timestamp=5000)
    assert for_joiner(scheduled, 4950) == scheduled
    paused = PlaybackState(paused=True, current_time=10.0, timestamp=1000)
    assert for_joiner(paused, 9000) == paused


@pytest.mark.parametrize(
    ("timestamp", "now", "expected"),
    [
        (5000, 5000, (10.0, 5000)),  # starting right now: told as it is
        (5000, 5001, (10.001, 5001)),  # a millisecond past: re-anchored
        (None, 9000, (10.0, None)),  # playing with no anchor: told as it is
    ],
)
def test_late_joiner_edges(timestamp: int | None, now: int, expected: tuple[float, int | None]) -> None:
    state = PlaybackState(paused=False, current_time=10.0, timestamp=timestamp, version=5, video="a")
    told = for_joiner(state, now)
    assert (told.current_time, told.timestamp) == (pytest.approx(expected[0]), expected[1])
    assert (told.paused, told.playback_rate, told.version, told.video) == (False, 1.0, 5, "a")
