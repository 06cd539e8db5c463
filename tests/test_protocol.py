"""Parsing and validation of client messages, encoding of server messages, play scheduling."""

from __future__ import annotations

import json

import pytest

from videosync.playback import apply_command, for_joiner
from videosync.protocol import (
    BAD_JSON,
    INVALID_MESSAGE,
    INVALID_STATE,
    UNKNOWN_TYPE,
    Ignored,
    ProtocolError,
    Report,
    SetName,
    StateCommand,
    TimeSyncRequest,
    TransferHost,
    encode_init,
    encode_state_update,
    parse_command,
)
from videosync.ratelimit import TokenBucket
from videosync.state import PlaybackState


def test_go_a_state_update_parses() -> None:
    raw = '{"type":"stateUpdate","state":{"paused":false,"currentTime":12.5,"playbackRate":1.5,"timestamp":123}}'
    assert parse_command(raw) == StateCommand(False, 12.5, 1.5)


def test_keys_are_case_insensitive_as_in_go() -> None:
    raw = '{"TYPE":"stateUpdate","State":{"PAUSED":true,"currenttime":3,"PlaybackRate":2}}'
    assert parse_command(raw) == StateCommand(True, 3.0, 2.0)


def test_go_b_state_update_alias_and_binary_frames() -> None:
    raw = b'{"type":"state_update","state":{"paused":true,"currentTime":1,"playbackRate":1}}'
    assert parse_command(raw) == StateCommand(True, 1.0, 1.0)


def test_last_duplicate_key_wins() -> None:
    assert parse_command('{"type":"other","type":"stateUpdate","state":{"paused":true}}') == StateCommand(True)


def test_missing_fields_are_none_not_zero() -> None:
    assert parse_command('{"type":"stateUpdate"}') == StateCommand()
    assert parse_command('{"type":"stateUpdate","state":{"currentTime":4}}') == StateCommand(None, 4.0, None)
    assert parse_command('{"type":"stateUpdate","state":{"paused":null}}') == StateCommand()


def test_unknown_fields_and_client_timestamps_are_ignored() -> None:
    raw = '{"type":"stateUpdate","foo":1,"timestamp":"abc","state":{"paused":true,"extra":{"a":1}}}'
    assert parse_command(raw) == StateCommand(True)


@pytest.mark.parametrize(
    "state",
    [
        {"paused": "yes"},
        {"paused": 1},
        {"currentTime": "12"},
        {"currentTime": -1},
        {"currentTime": True},
        {"playbackRate": 0},
        {"playbackRate": 0.06},
        {"playbackRate": 16.5},
        {"playbackRate": -0.5},
        {"video": 3},
        {"video": ""},
    ],
)
def test_invalid_state_values_are_rejected(state: dict[str, object]) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(json.dumps({"type": "stateUpdate", "state": state}))
    assert err.value.code == INVALID_STATE


@pytest.mark.parametrize("raw", ['{"type":"stateUpdate","state":{"currentTime":1e400}}',
                                 '{"type":"stateUpdate","state":"x"}'])
def test_non_finite_numbers_and_non_object_state_are_invalid(raw: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert err.value.code == INVALID_STATE


@pytest.mark.parametrize(
    "raw",
    ["", "not json", "[1,2]", '"x"', '{"type":"stateUpdate"} trailing', b"\xff\xfe",
     '{"type":"stateUpdate","state":{"currentTime":NaN}}', '{"type":"stateUpdate","state":{"currentTime":Infinity}}'],
)
def test_malformed_messages_are_bad_json(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert err.value.code == BAD_JSON


@pytest.mark.parametrize("raw", ['{"type":"stateupdate"}', '{"type":"play"}', '{"type":1}', "{}"])
def test_unknown_types(raw: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert err.value.code == UNKNOWN_TYPE


def test_other_commands() -> None:
    assert parse_command('{"type":"timeSync","t0":1.5}') == TimeSyncRequest(1.5)
    assert parse_command('{"type":"report","rtt":12,"drift":-3.5,"buffering":true}') == Report(12.0, -3.5, True)
    assert parse_command('{"type":"report"}') == Report(None, None, None)
    assert parse_command('{"type":"setName","name":"  Ann\\u0000 "}') == SetName("Ann")
    assert parse_command('{"type":"setName","name":"' + "x" * 100 + '"}') == SetName("x" * 40)
    assert parse_command('{"type":"transferHost","memberId":"abc"}') == TransferHost("abc")
    assert parse_command('{"type":"heartbeatAck"}') == Ignored()


@pytest.mark.parametrize(
    "raw",
    ['{"type":"timeSync"}', '{"type":"timeSync","t0":"1"}', '{"type":"report","rtt":"x"}',
     '{"type":"report","buffering":"no"}', '{"type":"setName","name":5}', '{"type":"transferHost"}'],
)
def test_invalid_other_commands(raw: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert err.value.code == INVALID_MESSAGE


def test_init_keeps_go_a_prefix_then_extensions_and_newline() -> None:
    text = encode_init(True, '{"paused":true,"currentTime":0,"playbackRate":1}', 1700000000000, {"memberId": "m1"})
    assert text.startswith(
        '{"isHost":true,"state":{"paused":true,"currentTime":0,"playbackRate":1},'
        '"timestamp":1700000000000,"type":"init",'
    )
    assert text.endswith("}\n")
    assert list(json.loads(text)) == ["isHost", "state", "timestamp", "type", "memberId"]


def test_state_update_has_go_a_shape_then_by() -> None:
    text = encode_state_update('{"paused":true,"currentTime":1,"playbackRate":1,"timestamp":5}', 5, "m1")
    assert text == (
        '{"type":"stateUpdate","state":{"paused":true,"currentTime":1,"playbackRate":1,"timestamp":5},'
        '"timestamp":5,"by":"m1"}'
    )


# -- playback ----------------------------------------------------------------------------------


def test_play_from_pause_is_scheduled_ahead() -> None:
    current = PlaybackState(paused=True, current_time=10.0, timestamp=1000, version=3)
    new = apply_command(current, StateCommand(paused=False), now_ms=5000, play_lead_ms=120)
    assert (new.paused, new.current_time, new.timestamp, new.version) == (False, 10.0, 5120, 3)


def test_seek_while_playing_is_not_delayed() -> None:
    current = PlaybackState(paused=False, current_time=10.0, timestamp=1000)
    new = apply_command(current, StateCommand(current_time=50.0), now_ms=5000, play_lead_ms=120)
    assert (new.paused, new.current_time, new.timestamp) == (False, 50.0, 5000)


def test_rate_change_keeps_extrapolated_position() -> None:
    current = PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=1000)
    new = apply_command(current, StateCommand(playback_rate=1.0), now_ms=3000, play_lead_ms=120)
    assert (new.current_time, new.playback_rate, new.timestamp) == (14.0, 1.0, 3000)


def test_pause_snaps_to_position_now() -> None:
    current = PlaybackState(paused=False, current_time=10.0, timestamp=1000)
    new = apply_command(current, StateCommand(paused=True), now_ms=2500, play_lead_ms=120)
    assert (new.paused, new.current_time) == (True, 11.5)


def test_video_switch_restarts_at_zero() -> None:
    current = PlaybackState(paused=True, current_time=10.0, timestamp=1000, video="a")
    new = apply_command(current, StateCommand(video="b"), now_ms=2000, play_lead_ms=120)
    assert (new.video, new.current_time) == ("b", 0.0)


def test_late_joiner_gets_extrapolated_position_but_scheduled_start_is_kept() -> None:
    playing = PlaybackState(paused=False, current_time=10.0, playback_rate=1.5, timestamp=1000)
    assert for_joiner(playing, 3000).current_time == 13.0
    assert for_joiner(playing, 3000).timestamp == 3000
    scheduled = PlaybackState(paused=False, current_time=10.0, timestamp=5000)
    assert for_joiner(scheduled, 4950) == scheduled
    paused = PlaybackState(paused=True, current_time=10.0, timestamp=1000)
    assert for_joiner(paused, 9000) == paused


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.1) is True
    assert bucket.take(0.1) is False
    assert all(bucket.take(10.0) for _ in range(3))


@pytest.mark.parametrize(
    "raw",
    ['{"type":"report","rtt":-1}', '{"type":"report","rtt":1e300}', '{"type":"report","drift":-1e300}'],
)
def test_reports_outside_any_plausible_measurement_are_refused(raw: str) -> None:
    with pytest.raises(ProtocolError):
        parse_command(raw)
