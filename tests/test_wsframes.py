"""The framing rules a client frame's two header bytes are checked against, in Go's words."""

from __future__ import annotations

import pytest

from videosync.wsframes import framing_error, is_utf8

FIN, RSV1, RSV2, RSV3, MASK = 0x80, 0x40, 0x20, 0x10, 0x80
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


@pytest.mark.parametrize(
    ("first", "second", "mid_message"),
    [
        (FIN | TEXT, MASK | 5, False),
        (FIN | BINARY, MASK | 127, False),
        (TEXT, MASK | 10, False),  # the first fragment of a message
        (CONT, MASK | 10, True),  # a middle fragment
        (FIN | CONT, MASK | 10, True),  # the last one
        (FIN | PING, MASK | 125, True),  # a control frame between fragments
        (FIN | CLOSE, MASK | 2, False),
        (FIN | PONG, MASK, False),
    ],
)
def test_well_formed_client_frames_pass(first: int, second: int, mid_message: bool) -> None:
    assert framing_error(first, second, mid_message) is None


@pytest.mark.parametrize(
    ("first", "second", "mid_message", "reason"),
    [
        (FIN | TEXT, 5, False, "bad MASK"),
        (FIN | RSV1 | TEXT, MASK, False, "RSV1 set"),
        (FIN | RSV2 | TEXT, MASK, False, "RSV2 set"),
        (FIN | RSV3 | TEXT, MASK, False, "RSV3 set"),
        (FIN | 0x3, MASK, False, "bad opcode 3"),
        (FIN | 0xB, MASK, False, "bad opcode 11"),
        (FIN | PING, MASK | 126, False, "len > 125 for control"),
        (PING, MASK, False, "FIN not set on control"),
        (FIN | CONT, MASK, False, "continuation after FIN"),
        (FIN | TEXT, MASK, True, "data before FIN"),
        (RSV1 | RSV3 | 0x3, 0, False, "RSV1 set, RSV3 set, bad opcode 3, bad MASK"),
        (CLOSE, 127, False, "len > 125 for control, FIN not set on control, bad MASK"),
    ],
)
def test_broken_rules_are_named_as_go_named_them(first: int, second: int, mid_message: bool, reason: str) -> None:
    assert framing_error(first, second, mid_message) == reason


def test_rsv1_means_compression_once_permessage_deflate_is_negotiated() -> None:
    assert framing_error(FIN | RSV1 | TEXT, MASK, False, deflate=True) is None
    assert framing_error(FIN | RSV2 | TEXT, MASK, False, deflate=True) == "RSV2 set"


def test_utf8_check() -> None:
    assert is_utf8("héllo ✓".encode())
    assert not is_utf8(b"\xff\xfe")
    assert not is_utf8(b"\xed\xa0\x80")  # a lone surrogate is not UTF-8
