"""Parsing and validation of client messages, and the encoding of server messages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

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
    clean_name,
    parse_command,
)
from videosync.server_messages import (
    encode_ended,
    encode_error,
    encode_host_changed,
    encode_init,
    encode_media_status,
    encode_member_joined,
    encode_member_left,
    encode_member_updated,
    encode_state_update,
    encode_time_sync,
)


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


@pytest.mark.parametrize(
    "raw",
    ['{"type":"report","rtt":-1}', '{"type":"report","rtt":1e300}', '{"type":"report","drift":-1e300}'],
)
def test_reports_outside_any_plausible_measurement_are_refused(raw: str) -> None:
    with pytest.raises(ProtocolError):
        parse_command(raw)


# -- every limit from both sides, with the error each refusal carries ----------------------------------


def state_update(**state: object) -> str:
    return json.dumps({"type": "stateUpdate", "state": state})


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"currentTime": 0}, StateCommand(current_time=0.0)),
        ({"currentTime": 0.0}, StateCommand(current_time=0.0)),
        ({"currentTime": 5e-324}, StateCommand(current_time=5e-324)),
        ({"currentTime": 1e300}, StateCommand(current_time=1e300)),
        ({"playbackRate": 0.0625}, StateCommand(playback_rate=0.0625)),
        ({"playbackRate": 16}, StateCommand(playback_rate=16.0)),
        ({"playbackRate": 1}, StateCommand(playback_rate=1.0)),
        ({"paused": False}, StateCommand(paused=False)),
        ({"video": "a"}, StateCommand(video="a")),
        ({"video": "v" * 200}, StateCommand(video="v" * 200)),
        ({"video": "clip-2", "paused": True, "currentTime": 3, "playbackRate": 2},
         StateCommand(True, 3.0, 2.0, "clip-2")),
        ({"VIDEO": "b", "playbackrate": 0.5}, StateCommand(playback_rate=0.5, video="b")),
        ({"video": None}, StateCommand()),
    ],
)
def test_state_values_at_the_limits_are_accepted(state: dict[str, object], expected: StateCommand) -> None:
    assert parse_command(state_update(**state)) == expected


def test_numbers_come_back_as_floats() -> None:
    command = parse_command(state_update(currentTime=3, playbackRate=2))
    assert isinstance(command, StateCommand)
    assert (type(command.current_time), type(command.playback_rate)) == (float, float)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"currentTime": -5e-324}, "currentTime must be >= 0"),
        ({"currentTime": -0.001}, "currentTime must be >= 0"),
        ({"currentTime": "1"}, "currentTime must be a number"),
        ({"currentTime": False}, "currentTime must be a number"),
        ({"playbackRate": 0.0624999}, "playbackRate must be between 0.0625 and 16"),
        ({"playbackRate": 16.000001}, "playbackRate must be between 0.0625 and 16"),
        ({"playbackRate": "1"}, "playbackRate must be a number"),
        ({"playbackRate": True}, "playbackRate must be a number"),
        ({"paused": "true"}, "paused must be a boolean"),
        ({"paused": 0}, "paused must be a boolean"),
        ({"video": "v" * 201}, "video must be a non-empty string"),
        ({"video": ""}, "video must be a non-empty string"),
        ({"video": ["a"]}, "video must be a non-empty string"),
    ],
)
def test_state_values_just_past_the_limits_are_refused(state: dict[str, object], message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(state_update(**state))
    assert (err.value.code, err.value.message, str(err.value)) == (INVALID_STATE, message, message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"type":"stateUpdate","state":{"currentTime":1' + "0" * 400 + "}}", "currentTime must be finite"),
        ('{"type":"stateUpdate","state":{"currentTime":1e400}}', "currentTime must be finite"),
        ('{"type":"stateUpdate","state":{"playbackRate":-1e400}}', "playbackRate must be finite"),
        ('{"type":"stateUpdate","state":"x"}', "state must be an object"),
        ('{"type":"stateUpdate","state":[1]}', "state must be an object"),
    ],
)
def test_state_refusals_name_the_field(raw: str, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert (err.value.code, err.value.message) == (INVALID_STATE, message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "message is not UTF-8"),
        ("not json", "message is not valid JSON"),
        ('{"type":"timeSync","t0":NaN}', "message is not valid JSON"),
        ('{"type":"timeSync","t0":-Infinity}', "message is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "message is not valid JSON"),  # nesting past the recursion limit
        ("[]", "message must be a JSON object"),
        ("null", "message must be a JSON object"),
    ],
)
def test_malformed_messages_say_why(raw: str | bytes, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert (err.value.code, err.value.message) == (BAD_JSON, message)


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        ('{"type":1}', UNKNOWN_TYPE, "type must be a string"),
        ("{}", UNKNOWN_TYPE, "type must be a string"),
        ('{"type":"StateUpdate"}', UNKNOWN_TYPE, "unknown message type"),
        ('{"type":"timeSync"}', INVALID_MESSAGE, "t0 is required"),
        ('{"type":"timeSync","t0":null}', INVALID_MESSAGE, "t0 is required"),
        ('{"type":"timeSync","t0":"1"}', INVALID_MESSAGE, "t0 must be a number"),
        ('{"type":"timeSync","t0":1e999}', INVALID_MESSAGE, "t0 must be finite"),
        ('{"type":"report","rtt":-0.001}', INVALID_MESSAGE, "rtt must be between 0 and 86400000 ms"),
        ('{"type":"report","rtt":86400000.001}', INVALID_MESSAGE, "rtt must be between 0 and 86400000 ms"),
        ('{"type":"report","drift":86400000.5}', INVALID_MESSAGE, "drift must be within ±86400000 ms"),
        ('{"type":"report","drift":-86400001}', INVALID_MESSAGE, "drift must be within ±86400000 ms"),
        ('{"type":"report","rtt":"1"}', INVALID_MESSAGE, "rtt must be a number"),
        ('{"type":"report","drift":true}', INVALID_MESSAGE, "drift must be a number"),
        ('{"type":"report","buffering":1}', INVALID_MESSAGE, "buffering must be a boolean"),
        ('{"type":"setName","name":null}', INVALID_MESSAGE, "name must be a string"),
        ('{"type":"setName"}', INVALID_MESSAGE, "name must be a string"),
        ('{"type":"transferHost","memberId":""}', INVALID_MESSAGE, "memberId must be a member id"),
        ('{"type":"transferHost","memberId":5}', INVALID_MESSAGE, "memberId must be a member id"),
        ('{"type":"transferHost","memberId":"' + "m" * 65 + '"}', INVALID_MESSAGE, "memberId must be a member id"),
    ],
)
def test_refusals_carry_their_code_and_message(raw: str, code: str, message: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_command(raw)
    assert (err.value.code, err.value.message) == (code, message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type":"report","rtt":0,"drift":0,"buffering":false}', Report(0.0, 0.0, False)),
        ('{"type":"report","rtt":86400000,"drift":-86400000}', Report(86_400_000.0, -86_400_000.0, None)),
        ('{"type":"report","drift":86400000}', Report(None, 86_400_000.0, None)),
        ('{"type":"report","RTT":5,"Buffering":true}', Report(5.0, None, True)),
        ('{"type":"timeSync","t0":0}', TimeSyncRequest(0.0)),
        ('{"type":"timeSync","t0":-5}', TimeSyncRequest(-5.0)),
        ('{"type":"transferHost","memberId":"' + "m" * 64 + '"}', TransferHost("m" * 64)),
        ('{"type":"transferHost","MEMBERID":"x"}', TransferHost("x")),
        ('{"type":"setName","name":"' + "n" * 40 + '"}', SetName("n" * 40)),
        ('{"type":"setName","name":"' + "n" * 41 + '"}', SetName("n" * 40)),
        ('{"type":"setName","name":""}', SetName("")),
        ('{"type":"heartbeatAck","anything":1}', Ignored()),
    ],
)
def test_other_commands_at_their_limits(raw: str, expected: object) -> None:
    assert parse_command(raw) == expected


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("  Ann  ", "Ann"),
        ("A\tB\nC", "ABC"),  # control characters go, before the trim and the cut
        ("\u200b" + "x" * 40 + "y", "x" * 40),
        ("  " + "x" * 39 + " y", "x" * 39 + " "),  # cut after trimming: a space inside may end it
        ("Zoë 🎬", "Zoë 🎬"),
    ],
)
def test_names_are_cleaned_then_cut(raw: str, name: str) -> None:
    assert clean_name(raw) == name


# -- what the server sends, byte for byte ------------------------------------------------------------


def test_init_for_a_participant_with_no_extensions() -> None:
    assert encode_init(False, "{}", 5, {}) == '{"isHost":false,"state":{},"timestamp":5,"type":"init"}\n'


def test_init_extensions_are_compact_and_keep_unicode() -> None:
    text = encode_init(True, "{}", 1, {"name": "Zoë", "members": [{"id": "a"}], "n": None})
    assert text == (
        '{"isHost":true,"state":{},"timestamp":1,"type":"init",'
        '"name":"Zoë","members":[{"id":"a"}],"n":null}\n'
    )


def test_state_update_from_the_server_has_a_null_sender() -> None:
    assert encode_state_update("{}", 7, None) == '{"type":"stateUpdate","state":{},"timestamp":7,"by":null}'


# (encoder, arguments): called inside the test, so that what is tested is the code as it is then
@pytest.mark.parametrize(
    ("encode", "args", "expected"),
    [
        (encode_time_sync, (1.5, 2.0, 3.25), '{"type":"timeSync","t0":1.5,"t1":2.0,"t2":3.25}'),
        (encode_error, ("not_host", "Only the host can do that"),
         '{"type":"error","code":"not_host","message":"Only the host can do that"}'),
        (encode_member_joined, ({"id": "m1", "name": "Zoë"},),
         '{"type":"memberJoined","member":{"id":"m1","name":"Zoë"}}'),
        (encode_member_left, ("m1",), '{"type":"memberLeft","memberId":"m1"}'),
        (encode_member_updated, ({"id": "m1", "rtt": 12},), '{"type":"memberUpdated","member":{"id":"m1","rtt":12}}'),
        (encode_host_changed, ("m2", "transfer"), '{"type":"hostChanged","hostId":"m2","reason":"transfer"}'),
        (encode_host_changed, (None, "left"), '{"type":"hostChanged","hostId":null,"reason":"left"}'),
        (encode_ended, ("expired",), '{"type":"ended","reason":"expired"}'),
        (encode_media_status, ("clip", {"status": "ready", "progress": 1.0}),
         '{"type":"mediaStatus","video":"clip","status":{"status":"ready","progress":1.0}}'),
    ],
)
def test_server_messages_byte_for_byte(encode: Callable[..., str], args: tuple[Any, ...], expected: str) -> None:
    assert encode(*args) == expected
