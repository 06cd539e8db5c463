"""Ports and waiting: a free local port, and deadline polls instead of fixed sleeps."""

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


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll `check()` until it is true; fail naming `what` past `timeout` seconds. Returns the
    seconds it took (some tests bound or report that)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start >= timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Whether `predicate()` turns true within `timeout` seconds (polled every 20 ms); the caller
    asserts on the answer with its own message."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
