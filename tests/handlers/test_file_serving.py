"""The file-serving path (videos and HLS output) over real sockets: bodies go through sendfile(2),
fall back to copying where it cannot be used, and neither slow nor vanished clients hold the
loop or a descriptor."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
from pathlib import Path

import pytest
from tornado.web import Application

from tests.support.http import call
from tests.support.net import until
from videosync.handlers.media import media_routes
from videosync.media import MediaLibrary
from videosync.settings import Settings

FILE_BYTES = 3 * 1024 * 1024 + 12345  # not a multiple of any slice or buffer size
REV = "1-2"


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    (media / "clip.mp4").write_bytes(os.urandom(FILE_BYTES))
    rev = media / ".hls" / "clip" / REV
    rev.mkdir(parents=True)
    (rev / "seg_00000.ts").write_bytes(b"\x47" + os.urandom(188 * 1000 - 1))
    (rev / "index.m3u8").write_text("#EXTM3U\n#EXTINF:2.0,\nseg_00000.ts\n")
    return media


@pytest.fixture
def app(media_dir: Path) -> Application:
    settings = Settings(media_dir=str(media_dir), video="clip.mp4")
    library = MediaLibrary(media_dir, None, settings.video)
    return Application(media_routes(library, None, settings), allowed_origins=("*",))


@pytest.fixture
def sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Bytes each os.sendfile call sent (the real call underneath)."""
    calls: list[int] = []
    real = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        n = real(out_fd, in_fd, offset, count)
        calls.append(n)
        return n

    monkeypatch.setattr(os, "sendfile", counting)
    return calls


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


SEGMENT = f"/media/hls/clip/{REV}/seg_00000.ts"
PLAYLIST = f"/media/hls/clip/{REV}/index.m3u8"


@pytest.mark.gen_test
@pytest.mark.parametrize("path", ["/api/video", "/api/videos/clip/file", SEGMENT])
@pytest.mark.parametrize("range_", [None, "bytes=1000-1048575", "bytes=-70000"])
async def test_whole_files_and_single_ranges_are_sent_by_the_kernel(
    http_client, base_url, media_dir, sendfile_calls, path, range_
) -> None:
    file = media_dir / ("clip.mp4" if path.startswith("/api") else f".hls/clip/{REV}/seg_00000.ts")
    data = file.read_bytes()
    got = await call(http_client, base_url, path, headers={"Range": range_} if range_ else {})
    expected = data if range_ is None else data[1000:1048576] if "1000" in range_ else data[-70000:]
    assert got.code == (200 if range_ is None else 206)
    assert got.body == expected
    assert sum(sendfile_calls) == len(expected), "every body byte went out through sendfile"


@pytest.mark.gen_test
async def test_a_head_sends_headers_only_and_multipart_is_still_copied(
    http_client, base_url, sendfile_calls
) -> None:
    head = await call(http_client, base_url, "/api/video", method="HEAD")
    assert head.code == 200 and head.body == b"" and int(head.headers["Content-Length"]) == FILE_BYTES
    multi = await call(http_client, base_url, "/api/video", headers={"Range": "bytes=0-9,20-29"})
    assert multi.code == 206 and multi.headers["Content-Type"].startswith("multipart/byteranges")
    assert sendfile_calls == []


@pytest.mark.gen_test
async def test_where_sendfile_is_refused_the_body_is_copied(
    http_client, base_url, media_dir, monkeypatch
) -> None:
    def refused(*args: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", refused)
    got = await call(http_client, base_url, "/api/videos/clip/file", headers={"Range": "bytes=5-2000000"})
    assert got.code == 206 and got.body == (media_dir / "clip.mp4").read_bytes()[5:2000001]


@pytest.mark.gen_test
async def test_segments_follow_the_same_range_policy_as_the_videos(http_client, base_url) -> None:
    malformed = await call(http_client, base_url, SEGMENT, headers={"Range": "bytes=abc"})
    assert malformed.code == 416 and malformed.body == b"invalid range\n"
    assert "Cache-Control" not in malformed.headers, "an error is never cached as the segment"
    beyond = await call(http_client, base_url, SEGMENT, headers={"Range": "bytes=999999999-"})
    assert beyond.code == 416 and beyond.headers["Content-Range"] == "bytes */188000"
    whole = await call(http_client, base_url, SEGMENT)
    assert whole.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Last-Modified" in whole.headers and "Etag" not in whole.headers
    again = await call(http_client, base_url, SEGMENT,
                       headers={"If-Modified-Since": whole.headers["Last-Modified"]})
    assert again.code == 304 and again.body == b""
    missing = await call(http_client, base_url, f"/media/hls/clip/{REV}/seg_00001.ts")
    assert missing.code == 404


@pytest.mark.gen_test
async def test_a_playlist_replaced_within_the_same_second_is_never_answered_304(
    http_client, base_url, media_dir
) -> None:
    first = await call(http_client, base_url, PLAYLIST)
    assert first.code == 200 and first.headers["Cache-Control"] == "no-cache"
    assert "Last-Modified" not in first.headers
    same = await call(http_client, base_url, PLAYLIST, headers={"If-None-Match": first.headers["Etag"]})
    assert same.code == 304
    rev = media_dir / ".hls" / "clip" / REV
    (rev / "index.tmp").write_text("#EXTM3U\n#EXTINF:2.0,\nseg_00000.ts\n#EXTINF:2.0,\nseg_00001.ts\n")
    os.replace(rev / "index.tmp", rev / "index.m3u8")  # as ffmpeg does, well within one second
    changed = await call(
        http_client, base_url, PLAYLIST,
        headers={"If-None-Match": first.headers["Etag"], "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    )
    assert changed.code == 200 and b"seg_00001.ts" in changed.body


@pytest.mark.gen_test(timeout=30)
async def test_a_slow_reader_does_not_hold_up_other_requests(
    http_client, base_url, http_port, media_dir, sendfile_calls
) -> None:
    with (media_dir / "big.mp4").open("wb") as f:
        f.truncate(256 * 1024 * 1024)  # sparse: all in the page cache at once
    with socket.create_connection(("127.0.0.1", http_port)) as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        slow.sendall(b"GET /api/videos/big/file HTTP/1.1\r\nHost: x\r\n\r\n")
        slow.setblocking(False)
        assert await until(lambda: sum(sendfile_calls) > 0), "the slow download started"
        for _ in range(5):  # it reads a little now and then, never keeping up
            await asyncio.sleep(0.05)
            slow.recv(16384)
            other = await call(http_client, base_url, "/api/videos/clip/file", headers={"Range": "bytes=0-99"})
            assert other.code == 206 and len(other.body) == 100
        assert sum(sendfile_calls) < 64 * 1024 * 1024, "the server sent only what the socket took"


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_client_vanishing_mid_file_leaves_no_descriptor_open(
    http_client, base_url, http_port, media_dir, how, caplog
) -> None:
    with (media_dir / "big.mp4").open("wb") as f:
        f.truncate(256 * 1024 * 1024)
    warm = await call(http_client, base_url, "/api/videos/big/file", headers={"Range": "bytes=0-0"})
    assert warm.code == 206
    baseline = open_fds()
    reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
    writer.write(b"GET /api/videos/big/file HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert int(re.search(rb"Content-Length: (\d+)", head).group(1)) == 256 * 1024 * 1024  # type: ignore[union-attr]
    await reader.readexactly(1024 * 1024)
    assert open_fds() > baseline, "mid-file the server holds the file (and our socket) open"
    sock = writer.get_extra_info("socket")
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()
    assert await until(lambda: open_fds() <= baseline), f"{open_fds() - baseline} descriptors leaked"
    after = await call(http_client, base_url, "/api/videos/clip/file", headers={"Range": "bytes=0-9"})
    assert after.code == 206
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], "a client going away is no server error"


@pytest.mark.gen_test(timeout=30)
async def test_a_reset_seen_first_by_sendfile_closes_the_connection_quietly(
    http_server, http_port, media_dir, monkeypatch, caplog
) -> None:
    real = os.sendfile
    calls = [0]

    def resetting(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        calls[0] += 1
        if calls[0] > 1:  # the client reset, and the server learns it from sendfile, not Tornado
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
        return real(out_fd, in_fd, offset, min(count, 100_000))

    monkeypatch.setattr(os, "sendfile", resetting)
    reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
    writer.write(b"GET /api/videos/clip/file HTTP/1.1\r\nHost: x\r\n\r\n")
    rest = await asyncio.wait_for(reader.read(), 10)  # EOF: the server closed the connection
    writer.close()
    assert rest.startswith(b"HTTP/1.1 200") and len(rest) < FILE_BYTES
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], "a client going away is no server error"
