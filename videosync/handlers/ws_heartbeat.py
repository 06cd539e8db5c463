"""A socket's pings: one timer per socket (no task), and a lenient pong deadline.

Tornado's own pinger closes a socket that misses one pong; a phone on a flaky link misses some, so
a socket is closed only when it has been silent for `PONG_DEADLINE_PINGS` intervals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PONG_DEADLINE_PINGS = 3


def _stopped() -> bool:
    return False


def _nothing() -> None:
    pass


class Heartbeat:
    def __init__(self, interval: float, ping: Callable[[], bool], timed_out: Callable[[], None]) -> None:
        self.interval = interval
        self._ping = ping  # sends a ping; False: the socket is closed, stop
        self._timed_out = timed_out
        self._handle: asyncio.TimerHandle | None = None
        self._last_pong = time.monotonic()

    def start(self) -> None:
        if self._ping is _stopped:
            return
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._beat)

    def stop(self) -> None:
        """For good: the callbacks (the socket's bound methods) are dropped, so a stopped heartbeat
        holds no cycle back to its socket and the socket is freed by reference counting."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._ping = _stopped
        self._timed_out = _nothing

    def pong(self) -> None:
        self._last_pong = time.monotonic()

    def _beat(self) -> None:
        self._handle = None
        if time.monotonic() - self._last_pong > PONG_DEADLINE_PINGS * self.interval + 1.0:
            self._timed_out()
            return
        if self._ping():
            self.start()
