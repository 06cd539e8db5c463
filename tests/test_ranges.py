"""The Range/precondition rules of Go's http.ServeContent (PROTOCOL.md §2.6), as one table each."""

from __future__ import annotations

import pytest

from videosync.ranges import (
    ByteRange,
    InvalidRange,
    NoOverlap,
    Outcome,
    check_preconditions,
    closing_delimiter,
    format_http_date,
    multipart_length,
    parse_range,
    part_header,
    ranges_to_serve,
)

SIZE = 1000
MTIME = 1744724728  # Tue, 15 Apr 2025 13:45:28 GMT, the golden files' Last-Modified
LM = "Tue, 15 Apr 2025 13:45:28 GMT"
DAY_BEFORE = "Mon, 14 Apr 2025 13:45:28 GMT"
DAY_AFTER = "Wed, 16 Apr 2025 13:45:28 GMT"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", [(0, 100)]),
        ("bytes=-100", [(900, 100)]),
        ("bytes=100-", [(100, 900)]),
        ("bytes=0-0", [(0, 1)]),
        ("bytes=0-999999999", [(0, SIZE)]),
        ("bytes=-5000", [(0, SIZE)]),
        ("bytes=-0", [(SIZE, 0)]),
        ("bytes=", []),
        ("bytes= 0-9", [(0, 10)]),
        ("bytes=0-9 ", [(0, 10)]),
        ("bytes=0-9,20-29", [(0, 10), (20, 10)]),
        ("bytes=0-9,-5", [(0, 10), (995, 5)]),
        ("bytes=0-9,5-14", [(0, 10), (5, 10)]),
        ("bytes=0-9,999999999-", [(0, 10)]),
        ("bytes=0-9,,20-29", [(0, 10), (20, 10)]),
        ("bytes=+5-9", [(5, 5)]),  # Go's ParseInt takes a sign
    ],
)
def test_satisfiable_ranges_match_go(header: str, expected: list[tuple[int, int]]) -> None:
    assert parse_range(header, SIZE) == [ByteRange(s, n) for s, n in expected]


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "items=0-1",
        "Bytes=0-9",
        "bytes=5-1",
        "bytes=0-9,abc",
        "bytes=--1",
        "bytes=1-2-3",
        "bytes=-",
        "bytes=1_0-20",  # Python's int() would take this; Go's ParseInt does not
        "bytes=99999999999999999999-",
        "",
    ],
)
def test_malformed_ranges_are_invalid(header: str) -> None:
    with pytest.raises(InvalidRange):
        parse_range(header, SIZE)


@pytest.mark.parametrize("header", ["bytes=999999999-", "bytes=1000-", "bytes=1000-,2000-3000"])
def test_ranges_past_the_end_fail_to_overlap(header: str) -> None:
    with pytest.raises(NoOverlap):
        parse_range(header, SIZE)


def test_ranges_larger_than_the_file_together_are_served_whole() -> None:
    assert ranges_to_serve("bytes=0-,0-", SIZE) == []


def test_unsatisfiable_range_on_an_empty_file_is_ignored() -> None:
    assert ranges_to_serve("bytes=0-", 0) == []


def test_empty_suffix_range_reports_go_content_range() -> None:
    assert ByteRange(SIZE, 0).content_range(SIZE) == f"bytes {SIZE}-{SIZE - 1}/{SIZE}"


def test_multipart_length_matches_go_for_two_ten_byte_parts() -> None:
    boundary = "b" * 60
    size = 22151237
    ranges = [ByteRange(0, 10), ByteRange(20, 10)]
    body = b"".join(
        part_header(boundary, r, "video/mp4", size, i == 0) + b"x" * r.length
        for i, r in enumerate(ranges)
    ) + closing_delimiter(boundary)
    assert len(body) == multipart_length(ranges, boundary, "video/mp4", size) == 344
    assert body.startswith(f"--{boundary}\r\n".encode())


def _headers(**values: str):
    table = {k.replace("_", "-").lower(): v for k, v in values.items()}
    return lambda name: table.get(name.lower())


@pytest.mark.parametrize(
    ("method", "headers", "etag", "outcome", "use_range"),
    [
        ("GET", {}, None, Outcome.PROCEED, True),
        ("GET", {"Range": "bytes=0-9", "If-Range": LM}, None, Outcome.PROCEED, True),
        ("GET", {"Range": "bytes=0-9", "If-Range": DAY_BEFORE}, None, Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"abc"'}, None, Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": "garbage"}, None, Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"v1"'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Modified-Since": LM}, None, Outcome.NOT_MODIFIED, False),
        ("HEAD", {"If-Modified-Since": LM}, None, Outcome.NOT_MODIFIED, False),
        ("GET", {"If-Modified-Since": DAY_AFTER}, None, Outcome.NOT_MODIFIED, False),
        ("GET", {"If-Modified-Since": DAY_BEFORE}, None, Outcome.PROCEED, True),
        ("GET", {"If-Modified-Since": "garbage"}, None, Outcome.PROCEED, True),
        ("GET", {"If-None-Match": "*"}, None, Outcome.NOT_MODIFIED, False),
        ("GET", {"If-None-Match": '"abc"'}, None, Outcome.PROCEED, True),
        ("GET", {"If-None-Match": '"abc"', "If-Modified-Since": LM}, None, Outcome.PROCEED, True),
        ("GET", {"If-None-Match": 'W/"v1"'}, '"v1"', Outcome.NOT_MODIFIED, False),
        ("GET", {"If-Match": "*"}, None, Outcome.PROCEED, True),
        ("GET", {"If-Match": '"abc"'}, None, Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"v1"'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Unmodified-Since": DAY_BEFORE}, None, Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Unmodified-Since": LM}, None, Outcome.PROCEED, True),
        ("GET", {"If-Unmodified-Since": DAY_AFTER}, None, Outcome.PROCEED, True),
    ],
)
def test_preconditions_follow_go_order(method, headers, etag, outcome, use_range) -> None:
    decision = check_preconditions(method, _headers(**headers), MTIME, etag)
    assert decision.outcome is outcome
    if outcome is Outcome.PROCEED:
        assert decision.use_range is use_range


def test_http_date_formats_like_go() -> None:
    assert format_http_date(MTIME) == LM
