"""The server's log line, made cheap enough for one access-log line per request.

`logging.Formatter` formats the date with `time.strftime` for every line, and every record
gathers thread, process and multiprocessing names the line never shows; together over a third of
an access line's cost (scripts/bench/bench_access_log.py). The line is unchanged:
`2026-12-01 17:20:05,123 INFO tornado.access: 201 POST /api/sessions 0.84ms`.
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LineFormatter(logging.Formatter):
    """LINE_FORMAT, with the date and time to the second formatted once per second."""

    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)
        self._stamp: tuple[int, str] = (-1, "")  # one tuple: threads swap it whole

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        cached_second, stamp = self._stamp
        if second != cached_second:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
            self._stamp = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"


def configure(level: str | int, stream: TextIO) -> None:
    """Root logging at `level` to `stream` in LINE_FORMAT."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter())
    # fields of every record that LINE_FORMAT never shows: not gathered at all
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.basicConfig(level=level, handlers=[handler])
