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
    assert PlaybackState().encode() == INITIAL_STATE_JSON


def test_encoding_keeps_go_a_field_order_then_extensions() -> None:
    state = PlaybackState(
        paused=False, current_time=12.25, playback_rate=1.5, timestamp=17, version=3, video="a"
    )
    assert state.encode() == (
        '{"paused":false,"currentTime":12.25,"playbackRate":1.5,"timestamp":17,"version":3,"video":"a"}'
    )


def test_states_written_by_a_go_instance_are_read() -> None:
    state = PlaybackState.decode('{"paused":false,"currentTime":3,"playbackRate":1,"timestamp":99}')
    assert state == PlaybackState(paused=False, current_time=3.0, playback_rate=1.0, timestamp=99)


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"currentTime":"x","playbackRate":1e999}'])
def test_unreadable_stored_states_fall_back_to_the_initial_one(text: str | None) -> None:
    assert PlaybackState.decode(text) == PlaybackState()


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


def test_non_finite_numbers_are_refused_with_a_reason() -> None:
    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError) as err:
            go_float(value)
        assert str(err.value) == "JSON has no representation for non-finite numbers"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (-1.5, "-1.5"),
        (1e-6, "0.000001"),  # the smallest plain decimal (Go switches to an exponent below it)
        (9.99e-7, "9.99e-7"),
        (-1e-6, "-0.000001"),
        (-9.99e-7, "-9.99e-7"),
        (1e20, "100000000000000000000"),  # the largest decade without an exponent
        (-1e21, "-1e+21"),
        (1.5e-10, "1.5e-10"),
        (1e100, "1e+100"),
        (2.5e-300, "2.5e-300"),
        (120.0, "120"),
        (0.0625, "0.0625"),
        (16.0, "16"),
    ],
)
def test_number_formatting_edges(value: float, text: str) -> None:
    assert go_float(value) == text


# -- decode: what is stored is what comes back ------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        PlaybackState(paused=False, current_time=12.25, playback_rate=1.5, timestamp=17, version=3, video="a"),
        PlaybackState(paused=True, current_time=0.5, playback_rate=0.0625, timestamp=0, version=1, video="x/y z"),
        PlaybackState(paused=False, current_time=3600.125, playback_rate=16.0, timestamp=1_700_000_000_000,
                      version=2**40, video='quote " and \\ backslash'),
        PlaybackState(paused=True, current_time=7.0, playback_rate=2.0),
        PlaybackState(video=""),
    ],
)
def test_non_default_states_survive_a_round_trip(state: PlaybackState) -> None:
    assert PlaybackState.decode(state.encode()) == state


def test_zero_version_and_absent_timestamp_and_video_are_left_out() -> None:
    assert PlaybackState(paused=False, current_time=1.0, version=0).encode() == (
        '{"paused":false,"currentTime":1,"playbackRate":1}'
    )
    assert PlaybackState(timestamp=0).encode() == '{"paused":true,"currentTime":0,"playbackRate":1,"timestamp":0}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"paused":false}', PlaybackState(paused=False)),
        ('{"paused":true,"currentTime":5}', PlaybackState(current_time=5.0)),
        ('{"playbackRate":2}', PlaybackState(playback_rate=2.0)),
        ('{"timestamp":17.9}', PlaybackState(timestamp=17)),  # a float timestamp is truncated
        ('{"version":4.0}', PlaybackState(version=4)),
        ('{"video":"b"}', PlaybackState(video="b")),
        # unreadable fields fall back one by one; the rest is kept
        ('{"paused":false,"currentTime":true,"playbackRate":2}', PlaybackState(paused=False, playback_rate=2.0)),
        ('{"playbackRate":false,"currentTime":4}', PlaybackState(current_time=4.0)),
        ('{"currentTime":NaN,"playbackRate":Infinity,"version":3}', PlaybackState(version=3)),
        ('{"timestamp":true,"version":true,"video":5}', PlaybackState()),
        ('{"timestamp":"12","version":"3","video":null}', PlaybackState()),
        ('{"timestamp":Infinity,"version":-Infinity,"currentTime":2}', PlaybackState(current_time=2.0)),
        ('{"timestamp":NaN,"version":NaN}', PlaybackState()),
        ('{"version":null,"timestamp":null}', PlaybackState()),
    ],
)
def test_each_stored_field_is_read_on_its_own(text: str, expected: PlaybackState) -> None:
    assert PlaybackState.decode(text) == expected


def test_numbers_read_are_floats_even_when_stored_as_integers() -> None:
    state = PlaybackState.decode('{"currentTime":3,"playbackRate":2,"timestamp":5,"version":6}')
    assert (type(state.current_time), type(state.playback_rate)) == (float, float)
    assert (type(state.timestamp), type(state.version)) == (int, int)


def test_playing_with_no_anchor_holds_its_position() -> None:
    assert PlaybackState(paused=False, current_time=4.0, timestamp=None).position_at(99_000) == 4.0


def test_re_anchoring_keeps_every_other_field() -> None:
    state = PlaybackState(paused=False, current_time=30.0, playback_rate=2.0, timestamp=1_000, version=4, video="v")
    assert state.at(2_000) == PlaybackState(
        paused=False, current_time=32.0, playback_rate=2.0, timestamp=2_000, version=4, video="v"
    )
    paused = PlaybackState(paused=True, current_time=30.0, timestamp=1_000, video="v")
    assert paused.at(5_000) == PlaybackState(paused=True, current_time=30.0, timestamp=5_000, video="v")
