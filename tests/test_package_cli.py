"""`python -m videosync package`: the file lands in the library, packaged, with progress shown."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from media_support are redefined as arguments)
import argparse
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from videosync.hls import JobStatus, read_ready
from videosync.package_cli import ProgressReport, add_package_command, describe, run_package

from .media_support import clips, tools  # noqa: F401 (fixtures)


def package(*argv: str) -> int:
    """run_package in its own thread: its asyncio.run must not touch the main thread's loop
    state, which pytest-tornado's fixtures manage."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_package, parse(*argv)).result()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_package_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["package", *argv])


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (JobStatus("packaging", 0.42, mode="copy", duration=100.0, speed=2.0),
         " 42.0%  2.0x realtime  ETA 0:29  (copy)"),
        (JobStatus("packaging", 0.0), "  0.0%"),
        (JobStatus("ready", 1.0, mode="transcode"), "ready (transcode)"),
        (JobStatus("failed", 0.1, message="moov atom not found"), "failed: moov atom not found"),
    ],
)
def test_progress_is_described_with_speed_and_eta(status: JobStatus, text: str) -> None:
    assert describe(status) == text


def test_a_terminal_gets_one_redrawn_bar_and_a_log_gets_lines() -> None:
    steps = [JobStatus("packaging", p / 10, speed=3.0, duration=10.0) for p in range(0, 10)]
    steps.append(JobStatus("ready", 1.0, mode="copy"))
    tty, log = io.StringIO(), io.StringIO()
    now = [0.0]
    bar = ProgressReport("clip", tty, tty=True)
    plain = ProgressReport("clip", log, tty=False, clock=lambda: now[0])
    for status in steps:
        now[0] += 0.5
        bar(status)
        plain(status)
    assert tty.getvalue().count("\r") == len(steps) and tty.getvalue().endswith("ready (copy)\x1b[K\n")
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("clip:   0.0%") and lines[-1] == "clip: ready (copy)"
    assert 2 < len(lines) < len(steps)  # throttled to one line per 2 s, plus every state change


@pytest.mark.ffmpeg
def test_package_puts_the_file_in_the_library_and_packages_it(clips, tmp_path, capsys) -> None:
    media = tmp_path / "media"
    assert package(str(clips["h264_aac"]), "--id", "demo", "--media-dir", str(media)) == 0
    assert (media / "demo.mp4").read_bytes() == clips["h264_aac"].read_bytes()
    st = (media / "demo.mp4").stat()
    status = read_ready(media / ".hls" / "demo", st.st_size, st.st_mtime)
    assert status is not None and status.mode == "copy"
    assert capsys.readouterr().out.strip() == f"/media/hls/demo/{status.rev}/index.m3u8"
    assert (media / ".hls" / "demo" / status.rev / "index.m3u8").exists()
    # the same id again would overwrite a video: refused
    assert package(str(clips["h264_aac"]), "--id", "demo", "--media-dir", str(media)) == 2


@pytest.mark.ffmpeg
def test_an_unreadable_input_exits_1_with_the_reason(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    assert package(str(junk), "--media-dir", str(tmp_path / "media")) == 1
    assert "failed:" in capsys.readouterr().err


@pytest.mark.ffmpeg
def test_the_media_dir_comes_from_the_servers_settings(clips, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VIDEOSYNC_MEDIA_DIR", str(tmp_path / "from-env"))
    assert package(str(clips["h264_aac"]), "--id", "env") == 0
    assert (tmp_path / "from-env" / "env.mp4").is_file()
    from videosync.media import MediaLibrary

    assert MediaLibrary(tmp_path / "from-env").get("env").uploaded is False  # the operator's: read-only


def test_a_missing_input_exits_2(tmp_path: Path, capsys) -> None:
    assert package(str(tmp_path / "nope.mp4"), "--media-dir", str(tmp_path)) == 2
    assert "no such file" in capsys.readouterr().err
