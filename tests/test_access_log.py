"""The access line: status, method, path without its query, session keys shortened, duration;
at a level that hides it, nothing is built."""

from __future__ import annotations

import io
import logging
import re
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest

from videosync import logformat
from videosync.app import log_request

KEY = "0b6f8f9e-8d4e-4c1e-9a59-5bb2f1e6c0d1"


def handler(status: int, method: str, path: str) -> Any:
    started = time.time() - 0.0125
    request = SimpleNamespace(method=method, path=path, request_time=lambda: time.time() - started)
    return SimpleNamespace(request=request, get_status=lambda: status)


@pytest.fixture
def lines() -> Any:
    """The root logger configured as the server does, writing into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    out = io.StringIO()
    logformat.configure("INFO", out)
    yield out
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_an_access_line_shortens_keys_and_names_status_method_and_duration(lines: io.StringIO) -> None:
    log_request(handler(201, "POST", "/api/sessions"))
    log_request(handler(404, "GET", f"/api/sessions/{KEY}/validate"))
    first, second = lines.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO tornado\.access: 201 POST /api/sessions 1\d\.\d\dms", first
    )
    assert " WARNING tornado.access: 404 GET /api/sessions/…f1e6c0d1/validate " in second
    assert "0b6f8f9e" not in second


def test_below_the_level_nothing_is_logged(lines: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    log_request(handler(200, "GET", "/health"))
    assert lines.getvalue() == ""


def test_the_date_matches_what_logging_itself_would_write() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    assert logformat.LineFormatter().format(record) == logging.Formatter(logformat.LINE_FORMAT).format(record)


def test_a_line_with_arguments_a_traceback_or_a_stack_is_what_logging_itself_would_write() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("x", logging.ERROR, "", 0, "%s failed", ("packaging",), sys.exc_info())
    stacked = logging.LogRecord("x", logging.WARNING, "", 0, "here", None, None, sinfo="Stack (most recent call last):")
    for record in (failed, stacked):
        assert logformat.LineFormatter().format(record) == logging.Formatter(logformat.LINE_FORMAT).format(record)
    line = logformat.LineFormatter().format(failed)
    assert " ERROR x: packaging failed\nTraceback" in line and line.endswith("ValueError: boom")


def test_a_handler_or_filter_added_beside_the_servers_still_gets_every_access_line(lines: io.StringIO) -> None:
    # the line is written straight to the server's handler only while nothing else would see it
    seen: list[str] = []
    extra = logging.Handler()
    extra.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(extra)
    try:
        log_request(handler(201, "POST", "/api/sessions"))
    finally:
        logging.getLogger().removeHandler(extra)
    access = logging.getLogger("tornado.access")
    access.addFilter(lambda record: "health" not in record.getMessage())
    try:
        log_request(handler(200, "GET", "/health"))
    finally:
        access.filters.clear()
    log_request(handler(200, "GET", "/api/video"))
    assert len(seen) == 1 and seen[0].startswith("201 POST /api/sessions ")
    written = lines.getvalue().splitlines()
    assert [line.split(": ", 1)[1].rsplit(" ", 1)[0] for line in written] == [
        "201 POST /api/sessions", "200 GET /api/video",
    ]
