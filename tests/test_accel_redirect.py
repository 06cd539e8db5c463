"""`--accel-redirect`: a real nginx, configured exactly as docs/production.md says, in front of a
real `python -m videosync --accel-redirect /_media`. Through nginx, every media route answers as
without it (the bytes, ranges, HEAD, 416, JSON errors, the upload rules); directly, videosync
answers the redirect and no body, having made every decision itself."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.media_support import SMALL
from tests.support.http import wait_http
from tests.support.net import free_port
from tests.support.nginx import Nginx, accel_config, find_nginx
from tests.wsclient import Client
from videosync.ffmpeg import find_tools
from videosync.handlers.accel import AccelRedirect
from videosync.ranges import format_http_date
from videosync.sample import make_clip

pytestmark = [pytest.mark.slow, pytest.mark.ffmpeg]

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
ODD_NAME = "a b%c?#ü.mp4"  # every character nginx would misread unless percent-encoded


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> object:
        assert self.headers["Content-Type"] == "application/json", self.headers
        return json.loads(self.body)


def call(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


@dataclass
class Stack:
    nginx: Nginx
    videosync_port: int
    media: Path
    clip: Path

    def via_nginx(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
        return call(self.nginx.port, method, path, body, **headers)

    def direct(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
        return call(self.videosync_port, method, path, body, **headers)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if find_nginx() is None:
        pytest.fail("nginx is not installed: run scripts/test.sh, which installs it")
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed: run scripts/test.sh, which installs it")
    work = tmp_path_factory.mktemp("accel")
    media = work / "media"
    media.mkdir()
    (media / "bench.mp4").write_bytes(os.urandom(3 * MIB))
    (media / ODD_NAME).write_bytes(os.urandom(MIB + 17))
    clip = make_clip(work / "clip.mp4", find_tools(), seconds=4, **SMALL)  # uploaded, then packaged
    vport, nport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOSYNC_") and k != "REDIS_URL"}
    server = subprocess.Popen(
        [sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(vport),
         "--media-dir", str(media), "--video", "bench.mp4", "--data-dir", "memory://",
         "--web-dir", str(work / "no-web"), "--log-level", "warning", "--accel-redirect", "/_media"],
        cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_http(f"http://127.0.0.1:{vport}/health")
        with Nginx(work / "nginx", accel_config(vport, nport, media), nport) as nginx:
            yield Stack(nginx, vport, media, clip)
    finally:
        server.terminate()
        server.wait(10)


def test_a_1_mib_range_comes_from_nginx_with_the_right_bytes(stack: Stack) -> None:
    data = (stack.media / "bench.mp4").read_bytes()
    r = stack.via_nginx("GET", "/api/video", Range=f"bytes={MIB}-{2 * MIB - 1}")
    assert r.status == 206
    assert r.body == data[MIB:2 * MIB]
    assert r.headers["Content-Range"] == f"bytes {MIB}-{2 * MIB - 1}/{len(data)}"
    assert r.headers["Content-Type"] == "video/mp4"
    # as Go's /api/video: Last-Modified, CORS for everyone, and no ETag (nginx's is removed)
    mtime = int((stack.media / "bench.mp4").stat().st_mtime)
    assert r.headers["Last-Modified"] == format_http_date(mtime)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert "ETag" not in r.headers


def test_the_whole_file_and_head(stack: Stack) -> None:
    data = (stack.media / "bench.mp4").read_bytes()
    whole = stack.via_nginx("GET", "/api/video")
    assert (whole.status, whole.body) == (200, data)
    assert whole.headers.get_all("Accept-Ranges") == ["bytes"]  # once: videosync sends none
    mtime = int((stack.media / "bench.mp4").stat().st_mtime)
    later = stack.via_nginx("GET", "/api/video", If_Modified_Since=format_http_date(mtime + 3600))
    assert (later.status, later.body) == (304, b"")  # Go's rule: not modified since any later date
    head = stack.via_nginx("HEAD", "/api/video")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Content-Type"] == "video/mp4"


def test_a_range_past_the_end_is_416_with_the_size(stack: Stack) -> None:
    r = stack.via_nginx("GET", "/api/video", Range="bytes=99999999-", Origin="https://elsewhere.example")
    assert r.status == 416
    assert r.headers["Content-Range"] == f"bytes */{3 * MIB}"
    assert r.headers.get_all("Access-Control-Allow-Origin") == ["*"]  # once, so browsers accept it


def test_a_library_file_has_go_s_etag_and_revalidates(stack: Stack) -> None:
    st = (stack.media / ODD_NAME).stat()
    r = stack.via_nginx("GET", "/api/videos/a-b-c/file", Range="bytes=0-9")
    assert r.status == 206
    assert r.body == (stack.media / ODD_NAME).read_bytes()[:10]
    assert r.headers.get_all("ETag") == [f'"{int(st.st_mtime):x}-{st.st_size:x}"']
    again = stack.via_nginx("GET", "/api/videos/a-b-c/file", If_None_Match=r.headers["ETag"])
    assert (again.status, again.body) == (304, b"")


def test_unknown_and_bad_ids_get_videosync_s_json_errors(stack: Stack) -> None:
    assert stack.via_nginx("GET", "/api/videos/no-such-video/file").json() == {"error": "video not found"}
    bad = stack.via_nginx("GET", "/api/videos/bad%20id/file")
    assert bad.status == 400 and "invalid video id" in str(bad.json())
    missing = stack.via_nginx("GET", "/media/hls/clip/0-0/seg_99999.ts")
    assert (missing.status, missing.json()) == (404, {"error": "not found"})


def test_the_media_dir_is_not_reachable_from_outside(stack: Stack) -> None:
    for path in ["/_media/bench.mp4", "/_media/.videosync/catalogue.json", "/_media/"]:
        r = stack.via_nginx("GET", path)
        assert (r.status, r.json()) == (404, {"error": "video not found"}), path


def test_directly_videosync_answers_the_redirect_and_no_body(stack: Stack) -> None:
    r = stack.direct("GET", "/api/video", Range="bytes=0-1023")  # ranges are nginx's to answer
    assert (r.status, r.body) == (200, b"")
    assert r.headers["X-Accel-Redirect"] == "/_media/bench.mp4"
    assert r.headers["Content-Type"] == "video/mp4"
    assert "Accept-Ranges" not in r.headers and "Last-Modified" not in r.headers
    odd = stack.direct("HEAD", "/api/videos/a-b-c/file")
    assert odd.headers["X-Accel-Redirect"] == "/_media/a%20b%25c%3F%23%C3%BC.mp4"
    assert stack.direct("GET", "/api/videos/no-such-video/file").status == 404


def test_the_websocket_goes_through(stack: Stack) -> None:
    session = stack.via_nginx("POST", "/api/sessions", b"")
    key = json.loads(session.body)["sessionKey"]

    async def join() -> str:
        client = await Client.connect(stack.nginx.port, f"?sessionKey={key}")
        await client.conn.close()
        return client.member_id

    assert asyncio.run(asyncio.wait_for(join(), 20))


def test_an_upload_needs_its_token_is_served_by_nginx_and_gone_once_deleted(stack: Stack) -> None:
    body = stack.clip.read_bytes()
    refused = stack.via_nginx("POST", "/api/videos?filename=mine.mp4", body)
    assert refused.status == 401 and "host token" in str(refused.json())
    # the refusal waits for the body (dropped, never stored), so the connection stays whole: a
    # hang-up on unread data would reset it, and nginx would answer 502 instead of the 401
    direct = http.client.HTTPConnection("127.0.0.1", stack.videosync_port, timeout=10)
    direct.request("POST", "/api/videos?filename=mine.mp4", body)
    again = direct.getresponse()
    assert (again.status, again.getheader("Connection")) == (401, None) and again.read()
    direct.request("GET", "/health")
    assert direct.getresponse().status == 200
    direct.close()
    session = json.loads(stack.via_nginx("POST", "/api/sessions", b"").body)
    auth = f"Bearer {session['hostToken']}"
    query = f"?session={session['sessionKey']}"
    forged = stack.via_nginx("POST", f"/api/videos{query}&filename=mine.mp4", body, Authorization="Bearer nope")
    assert forged.status == 401
    uploaded = stack.via_nginx("POST", f"/api/videos{query}&filename=mine.mp4", body, Authorization=auth)
    assert uploaded.status == 201, uploaded.body
    video = json.loads(uploaded.body)
    served = stack.via_nginx("GET", video["file"])
    assert (served.status, served.body) == (200, body)
    assert stack.direct("GET", video["file"]).headers["X-Accel-Redirect"].startswith("/_media/.uploads/")

    hls = wait_for_packaging(stack, video["id"], auth, query)
    playlist = stack.via_nginx("GET", hls["playlist"])
    assert playlist.status == 200 and playlist.body.startswith(b"#EXTM3U")
    assert playlist.headers["Cache-Control"] == "no-cache"  # served by videosync: its inode ETag
    assert "X-Accel-Redirect" not in stack.direct("GET", hls["playlist"]).headers
    base = hls["playlist"].rsplit("/", 1)[0]
    name = next(line for line in playlist.body.decode().splitlines() if line.endswith(".ts"))
    segment = stack.via_nginx("GET", f"{base}/{name}")
    on_disk = stack.media / ".hls" / base.removeprefix("/media/hls/") / name
    assert (segment.status, segment.body) == (200, on_disk.read_bytes())
    assert segment.headers["Content-Type"] == "video/mp2t"
    assert segment.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "ETag" not in segment.headers

    deleted = stack.via_nginx("DELETE", f"/api/videos/{video['id']}{query}", Authorization=auth)
    assert deleted.status == 204
    assert stack.via_nginx("GET", video["file"]).json() == {"error": "video not found"}


def wait_for_packaging(stack: Stack, video_id: str, auth: str, query: str) -> dict[str, str]:
    deadline = time.monotonic() + 120
    while True:
        video = json.loads(stack.via_nginx("GET", f"/api/videos/{video_id}{query}", Authorization=auth).body)
        hls = video.get("hls") or {}
        if hls.get("status") == "ready":
            return hls  # type: ignore[no-any-return]
        assert hls.get("status") != "failed", hls
        assert time.monotonic() < deadline, f"not packaged within 120 s: {hls}"
        time.sleep(0.2)


def test_paths_outside_the_media_dir_are_not_redirected(tmp_path: Path) -> None:
    accel = AccelRedirect("/_media", str(tmp_path / "media"))
    assert accel.uri_for(str(tmp_path / "media" / "x y.mp4")) == "/_media/x%20y.mp4"
    assert accel.uri_for(str(tmp_path / "media-other" / "x.mp4")) is None
    assert accel.uri_for(str(tmp_path / "elsewhere.mp4")) is None
    not_utf8 = os.fsdecode(b"caf\xe9.mp4")  # a Latin-1 name: its byte, not U+FFFD
    assert accel.uri_for(str(tmp_path / "media" / not_utf8)) == "/_media/caf%E9.mp4"
