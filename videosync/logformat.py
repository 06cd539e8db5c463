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

    def format(self, record: logging.LogRecord) -> str:
        # LINE_FORMAT written out: Formatter.format's general path (usesTime, a %-style mapping
        # over the record's __dict__) is a third of an access line's cost. A record carrying a
        # traceback or stack takes that path, which appends them.
        if record.exc_info or record.exc_text or record.stack_info:
            return super().format(record)
        message = record.getMessage()
        return self.line(record.created, int(record.msecs), record.levelname, record.name, message)

    def line(self, created: float, msecs: int, level_name: str, name: str, message: str) -> str:
        """One line of LINE_FORMAT, from a record's fields or (LineHandler.write_line) without one."""
        return f"{self.stamp(created, msecs)} {level_name} {name}: {message}"

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self.stamp(record.created, int(record.msecs))

    def stamp(self, created: float, msecs: int) -> str:
        second = int(created)
        cached_second, stamp = self._stamp
        if second != cached_second:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(created))
            self._stamp = (second, stamp)
        return f"{stamp},{msecs:03d}"


class LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The server's one handler, LineFormatter's lines to a stream. `write_line` is the access
    log's way in: through a LogRecord, the logger hierarchy and the Formatter a line costs ~5 µs,
    written straight ~1.5 µs, and there is one per request. `direct_for` says when a logger's
    lines would come here and nowhere else, unchanged, so that writing them straight is the same."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.line_formatter = LineFormatter()
        self.setFormatter(self.line_formatter)

    @staticmethod
    def direct_for(logger: logging.Logger) -> LineHandler | None:
        """The handler a record of `logger` would reach alone, with no filter on its way."""
        node: logging.Logger | None = logger
        while node is not None:
            if node.filters or (node.handlers and node is not logging.root):
                return None
            if not node.propagate:
                return None
            node = node.parent
        handlers = logging.root.handlers
        if len(handlers) != 1 or logging.root.filters:
            return None
        handler = handlers[0]
        return handler if isinstance(handler, LineHandler) and not handler.filters else None

    def write_line(self, level: int, name: str, message: str) -> None:
        if level < self.level:
            return
        now = time.time()
        msecs = int((now - int(now)) * 1000)
        line = self.line_formatter.line(now, msecs, logging.getLevelName(level), name, message) + "\n"
        try:
            with self.lock:  # type: ignore[union-attr]  # StreamHandler always makes one
                self.stream.write(line)
                self.stream.flush()
        except Exception:  # as logging itself does: a failed write is reported, never raised
            self.handleError(logging.makeLogRecord({"name": name, "levelno": level, "msg": message}))


def configure(level: str | int, stream: TextIO) -> None:
    """Root logging at `level` to `stream` in LINE_FORMAT."""
    # fields of every record that LINE_FORMAT never shows: not gathered at all
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.basicConfig(level=level, handlers=[LineHandler(stream)])
