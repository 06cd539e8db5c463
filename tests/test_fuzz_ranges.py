"""Fuzz: Range and precondition headers against the range parser and against `/api/video` on a
real in-process server. The parser answers or raises one of its two errors; the handler never
answers 500, and every 206 carries exactly the bytes its Content-Range names."""

from __future__ import annotations

import http.client
import os
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_server import ThreadedServer
from videosync.app import Services
from videosync.media import MediaLibrary
from videosync.ranges import InvalidRange, NoOverlap, parse_range, ranges_to_serve
from videosync.sessions import SessionService
from videosync.settings import Settings
from videosync.store import open_store

FILE_SIZE = 5000

number_text = st.one_of(
    st.integers(-5, FILE_SIZE * 2).map(str),
    st.sampled_from(["", "-", "+1", "00", "9223372036854775807", "9223372036854775808", "1e3", " 5", "0x10"]),
    st.text("0123456789-+ ", max_size=25),
)
range_spec = st.builds(
    lambda a, b, dash: f"{a}{dash}{b}", number_text, number_text, st.sampled_from(["-", "", "--"])
)
range_header = st.one_of(
    st.builds(lambda unit, specs, sep: unit + sep.join(specs),
              st.sampled_from(["bytes=", "Bytes=", "bytes =", "", "items="]),
              st.lists(range_spec, max_size=6), st.sampled_from([",", ", ", " ,\t", ",,"])),
    st.text(max_size=60),
)


@settings(max_examples=2000, deadline=None)
@given(header=range_header, size=st.integers(0, 10**13))
def test_the_range_parser_answers_within_the_file_or_raises_its_errors(header: str, size: int) -> None:
    for parse in (parse_range, ranges_to_serve):
        try:
            ranges = parse(header, size)
        except (InvalidRange, NoOverlap):
            continue
        for r in ranges:
            assert 0 <= r.start and 0 <= r.length and r.start + r.length <= size, (header, size, r)


# -- the handler --------------------------------------------------------------------------------

# header values HTTP can carry: visible latin-1 and spaces, no line breaks
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                      max_size=60)
dates = st.sampled_from(["Tue, 15 Apr 2025 13:45:28 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
                         "Fri, 31 Dec 9999 23:59:59 GMT", "Tuesday, 15-Apr-25 13:45:28 GMT", "0", ""])
etags = st.sampled_from(['"x"', "*", 'W/"x"', '"', 'W/', '"a", "b"', ""])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadedServer, bytes]]:
    root = tmp_path_factory.mktemp("ranges")
    media = root / "media"
    media.mkdir()
    content = os.urandom(FILE_SIZE)
    (media / "clip.mp4").write_bytes(content)
    config = Settings(media_dir=str(media), web_dir=str(root / "no-web"))

    def build() -> Services:
        store = open_store("memory://")
        library = MediaLibrary(media)
        return Services(
            settings=config, store=store, sessions=SessionService(store, config.session_ttl),
            library=library,
        )

    with ThreadedServer(build) as running:
        yield running, content


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "HEAD"]),
    range_value=(range_header | header_text).filter(lambda v: all(" " <= c != "\x7f" for c in v)),
    extra=st.dictionaries(
        st.sampled_from(
            ["If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"]
        ),
        dates | etags | header_text, max_size=3,
    ),
)
def test_api_video_never_fails_and_206_bodies_match_their_content_range(
    server: tuple[ThreadedServer, bytes], method: str, range_value: str, extra: dict[str, str],
) -> None:
    running, content = server
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    try:
        conn.putrequest(method, "/api/video", skip_accept_encoding=True)
        conn.putheader("Range", range_value.encode("utf-8"))  # bytes above 0x7f are obs-text
        for name, value in extra.items():
            conn.putheader(name, value.encode("latin-1"))
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status in (200, 206, 304, 412, 416), (response.status, body[:200])
    if method == "HEAD":
        assert body == b""
        return
    if response.status in (304, 412):
        assert body == b""
        return
    assert len(body) == int(response.headers["Content-Length"])
    if response.status == 200:
        assert body == content
    if response.status == 206 and not response.headers["Content-Type"].startswith("multipart/"):
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", response.headers["Content-Range"])
        assert match, response.headers["Content-Range"]
        first, last, total = map(int, match.groups())
        assert total == FILE_SIZE and body == content[first:last + 1]
