"""Go-A's /api/video transcripts (golden/go-a/video.json) replayed against ours, byte for byte.

The server serves a generated clip padded to the recorded file's exact size and given its mtime,
so every number in the transcripts (Content-Length 344 of a multipart answer, Content-Range
totals, Last-Modified) applies literally. Steps where we differ on purpose are in DELIBERATE with
our answer and the reason; PROTOCOL.md §3 carries the same rows.
"""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from videosync.app import make_app
from videosync.ranges import format_http_date

from ..media_support import GOLDEN_MTIME, clips, media_services, tools  # noqa: F401 (fixtures)
from .replay import GOLDEN, Bindings, Response, load_cases, replay_http_step

# every test here serves a clip the real ffmpeg generated
pytestmark = pytest.mark.ffmpeg

META = json.loads((GOLDEN / "go-a" / "video.json").read_text())["meta"]
SIZE = int(META["media"]["size"])
EXPOSE_MEDIA = "Content-Length, Content-Range, Accept-Ranges"
API_405 = {
    "status": 405,
    "headers": [["Content-Type", "application/json"], ["Content-Length", "31"]],
    "text": '{"error":"method not allowed"}\n',
    "why": "API errors are JSON bodies with an Allow header (as every /api path)",
}
DELIBERATE: dict[tuple[str, str], dict[str, Any]] = {
    ("video_misc", "GET Range 0-0 with Origin"): {
        "expose": EXPOSE_MEDIA, "why": "cross-origin players may read Content-Range and Accept-Ranges"},
    ("video_misc", "HEAD with Origin"): {
        "expose": EXPOSE_MEDIA, "why": "cross-origin players may read Content-Range and Accept-Ranges"},
    ("video_misc", "POST"): API_405,
    ("video_misc", "DELETE"): API_405,
    ("video_misc", "OPTIONS preflight GET + range"): {
        "status": 200,
        "headers": [["Access-Control-Allow-Origin", "*"], ["Access-Control-Allow-Headers", "Range"],
                    ["Content-Length", "0"]],
        "text": "",
        "why": "a cross-origin <video> or hls.js sends Range: Go refused the preflight (403)",
    },
}


@pytest.fixture
def media_dir(tmp_path: Path, clips: dict[str, Path]) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    target = media / "sample.mp4"
    shutil.copy(clips["h264_aac"], target)
    with target.open("r+b") as f:
        f.truncate(SIZE)  # zero padding: only the byte count matters for the transcripts
    os.utime(target, (GOLDEN_MTIME, GOLDEN_MTIME))
    return media


@pytest.fixture
def app(media_dir: Path, tools, tmp_path: Path, io_loop):  # type: ignore[no-untyped-def]
    services, _, packager = media_services(media_dir, tools, tmp_path)
    yield make_app(services)
    io_loop.run_sync(services.store.close)


def substitute(text: str) -> str:
    """Bind the media placeholders to our file (same size and mtime as the recorded one)."""
    text = re.sub(r"\{SIZE-(\d+)\}", lambda m: str(SIZE - int(m.group(1))), text)
    text = text.replace("{SIZE}", str(SIZE))
    text = text.replace("{LAST_MODIFIED-1d}", format_http_date(GOLDEN_MTIME - 86400))
    text = text.replace("{LAST_MODIFIED+1d}", format_http_date(GOLDEN_MTIME + 86400))
    return text.replace("{LAST_MODIFIED}", format_http_date(GOLDEN_MTIME))


def expected_body(want: dict[str, Any], got: Response, data: bytes) -> bytes | None:
    """The exact body Go's answer implies for our file, or None when only `text` is checked."""
    if want.get("kind") == "binary":
        start, end = (int(x) for x in re.fullmatch(r"\[(\d+):(\d+)\]", want["media_slice"]).groups())
        return data[start:end]
    if want.get("kind") == "multipart":
        boundary = re.search(r"boundary=([0-9a-f]{60})$", got.header("Content-Type") or "")
        assert boundary, "multipart boundary is not Go's 60 lower-hex characters"
        # the recorder wrote CRLFs as the four characters \r\n
        skeleton = want["skeleton"].replace("\\r\\n", "\r\n").replace("{BOUNDARY}", boundary.group(1))
        chunks = re.split(r"<DATA \d+ bytes>", skeleton)
        out = chunks[0].encode()
        for part, tail in zip(want["parts"], chunks[1:], strict=True):
            start = int(re.search(r"bytes (\d+)-", dict(part["headers"])["Content-Range"]).group(1))
            out += data[start:start + part["length"]] + tail.encode()
        return out
    if want.get("kind") in ("empty", "none(HEAD)"):
        return b""
    return None


def _cases() -> list[Any]:
    return [pytest.param(case, id=name) for name, case in load_cases("go-a", "video").items()]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("case", _cases())
async def test_video_exchange_matches_the_go_server(http_server, http_port, media_dir, case) -> None:
    data = (media_dir / "sample.mp4").read_bytes()
    failures = []
    for raw_step in case["steps"]:
        if raw_step["kind"] != "http":
            continue
        step = json.loads(substitute(json.dumps(raw_step)))
        ours = DELIBERATE.get((case["name"], step["step"]))
        if ours is not None:
            want = step["response"]
            if "expose" in ours:
                want["headers"] = [[k, ours["expose"] if k == "Access-Control-Expose-Headers" else v]
                                   for k, v in want["headers"]]
            else:
                want.update(status=ours["status"], headers=ours["headers"],
                            body={"kind": "text", "text": ours["text"]})
        got, problems = await replay_http_step(http_port, step, Bindings())
        body = expected_body(step["response"]["body"], got, data)
        if body is not None and got.body != body:
            problems.append(f"body: {len(got.body)} bytes differ from Go's {len(body)}")
        declared = got.header("Content-Length")
        if step["request"]["method"] != "HEAD" and declared is not None and int(declared) != len(got.body):
            problems.append(f"Content-Length {declared} but {len(got.body)} bytes")
        failures += [f"{step['step']}: {p}" for p in problems]
    assert not failures, "\n".join(failures)


def test_every_deliberate_difference_names_a_recorded_step() -> None:
    recorded = {(c["name"], s["step"]) for c in load_cases("go-a", "video").values() for s in c["steps"]}
    assert set(DELIBERATE) <= recorded
