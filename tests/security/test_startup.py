"""Every bad start-up value ends the real process with one line on stderr and exit code 2: never a
traceback, never a server that starts half-configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import assert_one_line_error, run

from .conftest import MakeServer


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    (root / "movie.mp4").write_bytes(b"not decoded at start-up")
    return root


def serve(media: Path, *args: str) -> list[str]:
    return ["--host", "127.0.0.1", "--port", "0", "--media-dir", str(media), *args]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--redis-url", "foo://bar"], ["--redis-url", "unsupported store URL"]),
        (["--redis-url", "redis://[bad"], ["--redis-url"]),
        (["--redis-url", "redis+sentinel://127.0.0.1:26379"], ["--redis-url", "service name"]),
        (["--video", "missing.mp4"], ["--video missing.mp4", "no such video"]),
        (["--allowed-origins", "evil.example"], ["--allowed-origins", "not an origin"]),
        (["--allowed-origins", "https://good.example/path"], ["--allowed-origins", "not an origin"]),
        (["--public-url", "ftp://watch.example"], ["--public-url"]),
        (["--public-url", "watch.example"], ["--public-url"]),
        (["--create-rate", "-1"], ["--create-rate"]),
        (["--create-rate", "inf"], ["--create-rate"]),
        (["--create-burst", "0"], ["--create-burst"]),
        (["--max-sessions", "-1"], ["--max-sessions"]),
        (["--max-sessions", "many"], ["--max-sessions"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else "",
)
def test_a_bad_value_is_one_line_and_exit_2(media: Path, args: list[str], fragments: list[str]) -> None:
    assert_one_line_error(run(*serve(media, *args)), *fragments)


def test_a_media_dir_that_cannot_be_created_is_one_line_and_exit_2() -> None:
    result = run("--host", "127.0.0.1", "--port", "0", "--media-dir", "/proc/nonexistent/x")
    assert_one_line_error(result, "--media-dir /proc/nonexistent/x", "No such file or directory")


def test_a_media_dir_that_is_a_file_is_one_line_and_exit_2(media: Path) -> None:
    assert_one_line_error(run(*serve(media / "movie.mp4")), "--media-dir", "not a directory")


def test_a_default_video_that_is_there_starts_the_server(make_server: MakeServer) -> None:
    """The --video check (made before the server answers) refuses only what is missing."""
    server = make_server("--video", "placeholder.mp4")
    assert server.proc is not None and server.proc.poll() is None
