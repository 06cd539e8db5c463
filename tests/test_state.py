"""Playback state: extrapolation, re-anchoring for late joiners, Go-compatible encoding."""

from __future__ import annotations

import pytest

from videosync.state import INITIAL_STATE_JSON, PlaybackState, go_float


def test_paused_state_holds_its_position() -> None:
    state = PlaybackState(paused=True, current_time=12.5, timestamp=1_000)
    assert state.position_at(61_000) == 12.5


def test_playing_state_advances_with_rate() -> None:
    state = PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=1_000)
    assert state.position_at(4_000) == pytest.approx(16.0)


def test_a_scheduled_start_holds_until_its_timestamp() -> None:
    state = PlaybackState(paused=False, current_time=5.0, timestamp=10_000)
    assert state.position_at(9_900) == 5.0


def test_late_joiners_get_the_position_re_anchored_at_now() -> None:
    state = PlaybackState(paused=False, current_time=30.0, timestamp=1_000, version=4)
    joined = state.at(11_000)
    assert (joined.current_time, joined.timestamp, joined.version) == (40.0, 11_000, 4)


def test_initial_state_encodes_exactly_as_go_a_wrote_it() -> None:
    assert PlaybackState().to_json() == INITIAL_STATE_JSON


def test_encoding_keeps_go_a_field_order_then_extensions() -> None:
    state = PlaybackState(
        paused=False, current_time=12.25, playback_rate=1.5, timestamp=17, version=3, video="a"
    )
    assert state.to_json() == (
        '{"paused":false,"currentTime":12.25,"playbackRate":1.5,"timestamp":17,"version":3,"video":"a"}'
    )


def test_states_written_by_a_go_instance_are_read() -> None:
    state = PlaybackState.from_json('{"paused":false,"currentTime":3,"playbackRate":1,"timestamp":99}')
    assert state == PlaybackState(paused=False, current_time=3.0, playback_rate=1.0, timestamp=99)


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"currentTime":"x","playbackRate":1e999}'])
def test_unreadable_stored_states_fall_back_to_the_initial_one(text: str | None) -> None:
    assert PlaybackState.from_json(text) == PlaybackState()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100.0, "100"),
        (1.0, "1"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (12345678901234567890.0, "12345678901234567000"),
        (123456789.12345679, "123456789.12345679"),
        (0.1, "0.1"),
    ],
)
def test_numbers_are_formatted_as_go_formats_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_non_finite_numbers_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        go_float(float("nan"))
