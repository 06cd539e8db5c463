"""RFC 7232/7233 as Go's net/http ServeContent does them: Range parsing, preconditions, multipart.

Pure functions (no I/O, no clock) so the Go behaviour recorded in docs/go-protocol.md §2.6 is unit-tested
case by case. Go's quirks are kept on purpose and marked "Go:".
"""

from __future__ import annotations

import email.utils
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

# Go's strconv.ParseInt(s, 10, 64): optional sign, ASCII digits, no underscores or spaces.
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT64_MAX = 2**63 - 1
_GO_SPACE = " \t\r\n"  # textproto.TrimString


class InvalidRange(ValueError):
    """The Range header is malformed (Go: 416 `invalid range`, no Content-Range)."""


class NoOverlap(ValueError):
    """Every range starts beyond the end (Go: 416 `invalid range: failed to overlap`)."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int

    @property
    def end(self) -> int:
        """Inclusive last byte; start - 1 for Go's empty `bytes=-0` range."""
        return self.start + self.length - 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _go_int(text: str) -> int:
    if not _GO_INT.match(text):
        raise InvalidRange(text)
    value = int(text)
    if value > _INT64_MAX or value < -_INT64_MAX - 1:
        raise InvalidRange(text)  # Go: ParseInt range error
    return value


def parse_range(header: str, size: int) -> list[ByteRange]:
    """The ranges a `Range` header asks for, clamped to `size`, exactly as Go's parseRange.

    An empty list means "serve the whole file" (`bytes=` alone). Raises InvalidRange or NoOverlap.
    """
    prefix = "bytes="
    if not header.startswith(prefix):  # Go: case-sensitive, so `Bytes=0-9` is invalid
        raise InvalidRange(header)
    ranges: list[ByteRange] = []
    no_overlap = False
    for part in header[len(prefix):].split(","):
        part = part.strip(_GO_SPACE)
        if not part:
            continue
        dash = part.find("-")
        if dash < 0:
            raise InvalidRange(part)
        first, last = part[:dash].strip(_GO_SPACE), part[dash + 1:].strip(_GO_SPACE)
        if first == "":
            # suffix-byte-range-spec: the last N bytes
            if last == "" or last[0] == "-":
                raise InvalidRange(part)
            count = _go_int(last)
            if count < 0:
                raise InvalidRange(part)
            count = min(count, size)
            ranges.append(ByteRange(size - count, count))
            continue
        start = _go_int(first)
        if start < 0:
            raise InvalidRange(part)
        if start >= size:
            no_overlap = True  # RFC 7233 §2.1: unsatisfiable, but others may still be served
            continue
        if last == "":
            ranges.append(ByteRange(start, size - start))
            continue
        end = _go_int(last)
        if start > end:
            raise InvalidRange(part)
        end = min(end, size - 1)
        ranges.append(ByteRange(start, end - start + 1))
    if no_overlap and not ranges:
        raise NoOverlap(header)
    return ranges


def ranges_to_serve(header: str, size: int) -> list[ByteRange]:
    """parse_range plus ServeContent's policy: empty files ignore unsatisfiable ranges, and a
    request whose ranges add up to more than the file (`0-,0-`) is answered whole (Go)."""
    try:
        ranges = parse_range(header, size)
    except NoOverlap:
        if size == 0:
            return []
        raise
    if sum(r.length for r in ranges) > size:
        return []
    return ranges


# -- multipart/byteranges (Go's mime/multipart writer framing) ----------------------------------


def part_header(boundary: str, r: ByteRange, content_type: str, size: int, first: bool) -> bytes:
    """The delimiter and headers before one part's data: the first part has no leading CRLF."""
    lead = "" if first else "\r\n"
    return (
        f"{lead}--{boundary}\r\nContent-Range: {r.content_range(size)}\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode("ascii")


def closing_delimiter(boundary: str) -> bytes:
    return f"\r\n--{boundary}--\r\n".encode("ascii")


def multipart_length(ranges: list[ByteRange], boundary: str, content_type: str, size: int) -> int:
    """Exact body length, so multipart responses carry Content-Length as Go's do."""
    total = len(closing_delimiter(boundary))
    for i, r in enumerate(ranges):
        total += len(part_header(boundary, r, content_type, size, i == 0)) + r.length
    return total


# -- preconditions (RFC 7232 §6 order, as Go's checkPreconditions) ------------------------------


class Outcome(enum.Enum):
    PROCEED = "proceed"
    NOT_MODIFIED = "304"
    PRECONDITION_FAILED = "412"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    use_range: bool  # False when If-Range did not match: serve the whole representation


def parse_http_date(text: str) -> int | None:
    """Seconds since the epoch, or None when the date is unparseable (Go ignores such headers)."""
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return int(parsed.timestamp())


def _scan_etags(value: str) -> tuple[list[str], bool]:
    """(entity tags, saw "*") from a comma list; stops at the first malformed token, as Go."""
    tags: list[str] = []
    rest = value
    while True:
        rest = rest.strip(_GO_SPACE)
        if not rest:
            return tags, False
        if rest[0] == ",":
            rest = rest[1:]
            continue
        if rest[0] == "*":
            return tags, True
        match = re.match(r'(W/)?"[^"\x00-\x20\x7f]*"', rest)
        if not match:
            return tags, False
        tags.append(match.group(0))
        rest = rest[match.end():]


def _strong_match(a: str, b: str | None) -> bool:
    return b is not None and a == b and not a.startswith("W/")


def _weak_match(a: str, b: str | None) -> bool:
    return b is not None and a.removeprefix("W/") == b.removeprefix("W/")


def check_preconditions(
    method: str, header: Callable[[str], str | None], mtime: int, etag: str | None = None
) -> Decision:
    """Evaluate If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range.

    `header(name)` returns a request header or None; `mtime` is whole seconds (HTTP dates have
    no fractions, so comparisons truncate as Go's do)."""
    get_or_head = method in ("GET", "HEAD")
    if_match = header("If-Match")
    if if_match:
        tags, star = _scan_etags(if_match)
        matched = star or any(_strong_match(t, etag) for t in tags)
    else:
        matched = None
        ius = header("If-Unmodified-Since")
        since = parse_http_date(ius) if ius else None
        if since is not None:
            matched = mtime <= since
    if matched is False:
        return Decision(Outcome.PRECONDITION_FAILED, False)

    inm = header("If-None-Match")
    if inm:
        tags, star = _scan_etags(inm)
        if star or any(_weak_match(t, etag) for t in tags):
            outcome = Outcome.NOT_MODIFIED if get_or_head else Outcome.PRECONDITION_FAILED
            return Decision(outcome, False)
    elif get_or_head:
        # RFC 7232 §3.3: If-Modified-Since only counts when If-None-Match is absent
        ims = header("If-Modified-Since")
        since = parse_http_date(ims) if ims else None
        if since is not None and mtime <= since:
            return Decision(Outcome.NOT_MODIFIED, False)

    use_range = True
    if_range = header("If-Range")
    if get_or_head and if_range and header("Range"):
        tags, _ = _scan_etags(if_range)
        if tags:
            use_range = _strong_match(tags[0], etag)
        else:
            use_range = parse_http_date(if_range) == mtime
    return Decision(Outcome.PROCEED, use_range)


def format_http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)
