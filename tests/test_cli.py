"""`python -m videosync` as operators and scripts drive it: one clear line and exit 2 on bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http import wait_http
from tests.support.net import free_port


def run(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOSYNC_") and k != "REDIS_URL"}
    return subprocess.run(
        [sys.executable, "-m", "videosync", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("videosync: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_help_documents_every_flag_and_its_variable() -> None:
    result = run("serve", "--help")
    assert result.returncode == 0
    for flag, env in [
        ("--host", "VIDEOSYNC_HOST"),
        ("--port", "VIDEOSYNC_PORT"),
        ("--redis-url", "REDIS_URL"),
        ("--media-dir", "VIDEOSYNC_MEDIA_DIR"),
        ("--data-dir", "VIDEOSYNC_DATA_DIR"),
        ("--video", "VIDEOSYNC_VIDEO"),
        ("--session-ttl", "VIDEOSYNC_SESSION_TTL"),
        ("--allowed-origins", "VIDEOSYNC_ALLOWED_ORIGINS"),
        ("--log-level", "VIDEOSYNC_LOG_LEVEL"),
        ("--create-rate", "VIDEOSYNC_CREATE_RATE"),
        ("--create-burst", "VIDEOSYNC_CREATE_BURST"),
        ("--max-sessions", "VIDEOSYNC_MAX_SESSIONS"),
        ("--public-url", "VIDEOSYNC_PUBLIC_URL"),
        ("--accel-redirect", "VIDEOSYNC_ACCEL_REDIRECT"),
    ]:
        assert flag in result.stdout and env in result.stdout


def test_a_bad_flag_value_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run("--port", "not-a-port"), "--port")


def test_an_accel_prefix_under_a_route_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run("--accel-redirect", "/api/files"), "--accel-redirect", "/api")


def test_an_unreachable_redis_given_explicitly_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run("--redis-url", f"redis://127.0.0.1:{free_port()}/0"), "--redis-url")


def test_a_data_dir_that_cannot_be_made_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    result = run("--port", str(free_port()), "--media-dir", str(tmp_path), "--data-dir", str(tmp_path / "file" / "d"))
    assert_one_line_error(result, "--data-dir", "cannot use data dir")


def test_a_data_dir_another_server_uses_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from videosync.store.sqlite import SqliteFile, path_of, url_for_dir

    held = SqliteFile(path_of(url_for_dir(str(tmp_path / "data"))))  # as a running server holds it
    try:
        result = run("--port", str(free_port()), "--media-dir", str(tmp_path), "--data-dir", str(tmp_path / "data"))
        assert_one_line_error(result, "--data-dir", "in use by another videosync process")
    finally:
        held.close()


def test_a_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_one_line_error(run("--host", "127.0.0.1", "--port", str(port)), "cannot listen", str(port))


def test_serve_is_the_default_command_and_says_store_and_url_first(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOSYNC_") and k != "REDIS_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosync", "--port", str(port), "--media-dir", str(tmp_path),
         "--data-dir", str(tmp_path / "data")],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first = proc.stderr.readline() if proc.stderr else ""
        assert "store sqlite" in first and f"http://localhost:{port}/" in first
        wait_http(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        if proc.stderr:
            proc.stderr.close()


@pytest.mark.redis
def test_a_redis_store_is_named_in_the_first_log_line(redis_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosync", "--port", str(port), "--redis-url", redis_server.url,
         "--media-dir", str(tmp_path)],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        first = proc.stderr.readline() if proc.stderr else ""
        assert "store redis" in first
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
