"""Ports and waiting: a free local port, and a deadline poll instead of a fixed sleep."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll `check()` until it is true; fail naming `what` once `timeout` seconds have passed.

    The check runs once more at the deadline, so a slow machine fails only when the condition is
    really not met, and a fast one returns as soon as it is."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            if check():
                return
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(interval)


async def async_wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.05
) -> float:
    """`wait_until` for a coroutine check on the running loop; returns the seconds it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start >= timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start
