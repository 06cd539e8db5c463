"""The Range/precondition rules of Go's http.ServeContent (docs/go-protocol.md §2.6), as one table each."""

from __future__ import annotations

import pytest

from videosync.ranges import (
    ByteRange,
    Decision,
    InvalidRange,
    NoOverlap,
    Outcome,
    check_preconditions,
    closing_delimiter,
    format_http_date,
    multipart_length,
    parse_http_date,
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
    assert check_preconditions(method, _headers(**headers), MTIME, etag) == Decision(outcome, use_range)


def test_http_date_formats_like_go() -> None:
    assert format_http_date(MTIME) == LM


# -- the edges each rule has, from both sides --------------------------------------------------------

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=-5,0-9", [(995, 5), (0, 10)]),  # a suffix range does not end the list
        ("bytes=2000-,0-9", [(0, 10)]),  # nor does an unsatisfiable one
        ("bytes=2000-,-5,1000-,0-0", [(995, 5), (0, 1)]),
        ("bytes=999-", [(999, 1)]),  # the last byte: satisfiable
        ("bytes=999-999", [(999, 1)]),
        ("bytes=998-999", [(998, 2)]),
        ("bytes=5-5", [(5, 1)]),
        ("bytes=0-998", [(0, 999)]),
        ("bytes=0-1000", [(0, SIZE)]),  # one past the end is clamped
        ("bytes=-999", [(1, 999)]),
        ("bytes=-1000", [(0, SIZE)]),
        ("bytes=-1001", [(0, SIZE)]),
        ("bytes=\t0-9", [(0, 10)]),
        ("bytes=0 - 9", [(0, 10)]),  # Go trims around the dash too
        ("bytes=-+5", [(995, 5)]),  # ParseInt takes a sign after the suffix dash as well
        (f"bytes=-{INT64_MAX}", [(0, SIZE)]),  # Go's largest int64 is a number
        (f"bytes=0-{INT64_MAX}", [(0, SIZE)]),
    ],
)
def test_range_edges(header: str, expected: list[tuple[int, int]]) -> None:
    assert parse_range(header, SIZE) == [ByteRange(s, n) for s, n in expected]


@pytest.mark.parametrize(
    "header",
    [
        f"bytes=-{INT64_MAX + 1}",  # past Go's int64: a ParseInt range error
        f"bytes={INT64_MAX + 1}-",
        f"bytes=0-{INT64_MAX + 1}",
        f"bytes=0--{INT64_MAX + 1}",
        "bytes=0--1",
        "bytes=-1-",
        "bytes=5",
        "bytes=1-0",
        "bytes=0-9,5",
        "bytes=,x",
        " bytes=0-9",
        "bytes=0x10-20",
    ],
)
def test_range_edges_that_are_invalid(header: str) -> None:
    with pytest.raises(InvalidRange):
        parse_range(header, SIZE)


@pytest.mark.parametrize("header", [f"bytes={INT64_MAX}-", "bytes=1000-1000", f"bytes={SIZE}-,{INT64_MAX}-5000"])
def test_range_edges_that_fail_to_overlap(header: str) -> None:
    with pytest.raises(NoOverlap):
        parse_range(header, SIZE)


def test_invalid_beats_no_overlap_wherever_it_is() -> None:
    with pytest.raises(InvalidRange):
        parse_range("bytes=2000-,abc", SIZE)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-499,500-999", [(0, 500), (500, 500)]),  # exactly the file: still ranges
        ("bytes=0-499,500-", [(0, 500), (500, 500)]),
        ("bytes=0-500,500-999", []),  # one byte more than the file: the whole file
        ("bytes=0-", [(0, SIZE)]),
        ("bytes=2000-,0-9", [(0, 10)]),
    ],
)
def test_ranges_served_up_to_the_size_of_the_file(header: str, expected: list[tuple[int, int]]) -> None:
    assert ranges_to_serve(header, SIZE) == [ByteRange(s, n) for s, n in expected]


def test_unsatisfiable_ranges_of_a_non_empty_file_are_refused() -> None:
    with pytest.raises(NoOverlap):
        ranges_to_serve("bytes=1000-", SIZE)
    with pytest.raises(NoOverlap):
        ranges_to_serve("bytes=1-", 1)
    with pytest.raises(InvalidRange):
        ranges_to_serve("bytes=x", 0)


def test_byte_range_end_and_content_range() -> None:
    assert ByteRange(10, 5).end == 14
    assert ByteRange(0, 1).end == 0
    assert ByteRange(10, 5).content_range(SIZE) == "bytes 10-14/1000"


def test_multipart_framing_bytes() -> None:
    r = ByteRange(0, 10)
    first = part_header("B", r, "video/mp4", SIZE, True)
    assert first == b"--B\r\nContent-Range: bytes 0-9/1000\r\nContent-Type: video/mp4\r\n\r\n"
    assert part_header("B", r, "video/mp4", SIZE, False) == b"\r\n" + first
    assert closing_delimiter("B") == b"\r\n--B--\r\n"


def test_multipart_length_of_three_parts_counts_every_delimiter() -> None:
    ranges = [ByteRange(0, 10), ByteRange(20, 10), ByteRange(990, 10)]
    body = b"".join(
        part_header("B", r, "text/plain", SIZE, i == 0) + b"x" * r.length for i, r in enumerate(ranges)
    ) + closing_delimiter("B")
    assert multipart_length(ranges, "B", "text/plain", SIZE) == len(body)
    assert multipart_length([], "B", "text/plain", SIZE) == len(closing_delimiter("B"))


@pytest.mark.parametrize(
    ("method", "headers", "etag", "outcome", "use_range"),
    [
        # a Range without If-Range is simply used; an If-Range without a Range is not evaluated
        ("GET", {"Range": "bytes=0-9"}, None, Outcome.PROCEED, True),
        ("GET", {"Range": "bytes=0-9"}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Range": DAY_BEFORE}, None, Outcome.PROCEED, True),
        ("GET", {"If-Range": '"x"'}, '"v1"', Outcome.PROCEED, True),
        ("POST", {"Range": "bytes=0-9", "If-Range": DAY_BEFORE}, None, Outcome.PROCEED, True),
        ("HEAD", {"Range": "bytes=0-9", "If-Range": DAY_BEFORE}, None, Outcome.PROCEED, False),
        ("HEAD", {"Range": "bytes=0-9", "If-Range": LM}, None, Outcome.PROCEED, True),
        ("GET", {"Range": "bytes=0-9", "If-Range": DAY_AFTER}, None, Outcome.PROCEED, False),  # equal only
        # If-Range compares strongly, and only its first tag
        ("GET", {"Range": "bytes=0-9", "If-Range": '"x"'}, '"v1"', Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": 'W/"v1"'}, 'W/"v1"', Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"v1"'}, 'W/"v1"', Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"x", "v1"'}, '"v1"', Outcome.PROCEED, False),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"v1", "x"'}, '"v1"', Outcome.PROCEED, True),
        # If-Match: strong comparison over a list; "*" matches anything
        ("GET", {"If-Match": '"abc"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": 'W/"v1"'}, 'W/"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": 'W/"v1"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"a", "v1"'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Match": ' ,"a",,\t"v1" '}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Match": '"a","b"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"a", *'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Match": "*"}, '"v1"', Outcome.PROCEED, True),
        ("PUT", {"If-Match": '"a"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        # malformed If-Match: the scan stops at the first bad token, what follows is never seen
        ("GET", {"If-Match": "garbage"}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"a", garbage, "v1"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"v1'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"v 1"'}, '"v 1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Match": '"v1", garbage'}, '"v1"', Outcome.PROCEED, True),
        # If-Match decides alone: If-Unmodified-Since is then not consulted
        ("GET", {"If-Match": '"v1"', "If-Unmodified-Since": DAY_BEFORE}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-Match": '"x"', "If-Unmodified-Since": DAY_AFTER}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Unmodified-Since": "garbage"}, None, Outcome.PROCEED, True),
        # If-None-Match: weak comparison over a list; for other methods a match is 412
        ("GET", {"If-None-Match": '"a", W/"v1"'}, '"v1"', Outcome.NOT_MODIFIED, False),
        ("GET", {"If-None-Match": '"v1"'}, 'W/"v1"', Outcome.NOT_MODIFIED, False),
        ("GET", {"If-None-Match": '"a", "b"'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-None-Match": '"a", *'}, '"v1"', Outcome.NOT_MODIFIED, False),
        ("GET", {"If-None-Match": '"v1"'}, None, Outcome.PROCEED, True),
        ("HEAD", {"If-None-Match": '"v1"'}, '"v1"', Outcome.NOT_MODIFIED, False),
        ("POST", {"If-None-Match": '"v1"'}, '"v1"', Outcome.PRECONDITION_FAILED, False),
        ("POST", {"If-None-Match": "*"}, None, Outcome.PRECONDITION_FAILED, False),
        ("POST", {"If-None-Match": '"x"'}, '"v1"', Outcome.PROCEED, True),
        ("GET", {"If-None-Match": "garbage", "If-Modified-Since": LM}, None, Outcome.PROCEED, True),
        # If-Modified-Since counts only for GET and HEAD
        ("POST", {"If-Modified-Since": LM}, None, Outcome.PROCEED, True),
        ("GET", {"If-Modified-Since": LM, "Range": "bytes=0-9", "If-Range": LM}, None, Outcome.NOT_MODIFIED, False),
        # the order: If-Match / If-Unmodified-Since, then If-None-Match, then If-Modified-Since
        ("GET", {"If-Unmodified-Since": DAY_BEFORE, "If-None-Match": "*"}, None, Outcome.PRECONDITION_FAILED, False),
        ("GET", {"If-Unmodified-Since": LM, "If-None-Match": "*"}, None, Outcome.NOT_MODIFIED, False),
        ("GET", {"If-Unmodified-Since": LM, "If-Modified-Since": LM}, None, Outcome.NOT_MODIFIED, False),
    ],
)
def test_precondition_edges(method, headers, etag, outcome, use_range) -> None:
    assert check_preconditions(method, _headers(**headers), MTIME, etag) == Decision(outcome, use_range)


def test_an_empty_if_match_counts_as_absent() -> None:
    headers = _headers(**{"If-Match": "", "If-Unmodified-Since": DAY_BEFORE})
    assert check_preconditions("GET", headers, MTIME, '"v1"') == Decision(Outcome.PRECONDITION_FAILED, False)


def test_only_the_headers_that_apply_are_read() -> None:
    asked: list[str] = []

    def header(name: str) -> str | None:
        asked.append(name)
        return None

    check_preconditions("GET", header, MTIME)
    assert asked == ["If-Match", "If-Unmodified-Since", "If-None-Match", "If-Modified-Since", "If-Range"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(LM, MTIME), ("Tuesday, 15-Apr-25 13:45:28 GMT", MTIME), ("garbage", None), ("", None)],
)
def test_http_dates_are_read_or_ignored(text: str, seconds: int | None) -> None:
    assert parse_http_date(text) == seconds


# Go trims only ' ', \t, \r and \n (textproto.TrimString); Python's bare strip() takes more.
OTHER_SPACE = ["\x0b", "\x0c", "\x1f", "\xa0", "\u2003"]


@pytest.mark.parametrize("space", OTHER_SPACE)
def test_only_go_whitespace_is_trimmed_in_ranges(space: str) -> None:
    for header in (f"bytes={space}0-9", f"bytes=0-9{space}", f"bytes=0{space}-9", f"bytes=0-{space}9"):
        with pytest.raises(InvalidRange):
            parse_range(header, SIZE)


@pytest.mark.parametrize("space", OTHER_SPACE)
def test_only_go_whitespace_is_trimmed_in_entity_tags(space: str) -> None:
    headers = _headers(**{"If-None-Match": f'{space}"v1"'})
    assert check_preconditions("GET", headers, MTIME, '"v1"') == Decision(Outcome.PROCEED, True)
    headers = _headers(**{"If-None-Match": '\r\n\t "v1"'})
    assert check_preconditions("GET", headers, MTIME, '"v1"') == Decision(Outcome.NOT_MODIFIED, False)
