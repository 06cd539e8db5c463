"""SIGTERM: the server stops accepting, closes every socket with 1001 (reconnect, maybe elsewhere)
and exits within a few seconds, also with `--workers 2` when only the parent is signalled."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RedisServer
from tests.wsclient import Client

from .conftest import MakeServer
from .procs import ServerProc, http

pytestmark = pytest.mark.slow

EXIT_WITHIN_S = 5.0


async def members_of_one_session(server: ServerProc, count: int) -> list[Client]:
    body: Any = (await asyncio.to_thread(http, "POST", server.base + "/api/sessions")).json()
    query = f"?sessionKey={body['sessionKey']}"
    return [await Client.connect(server.port, query) for _ in range(count)]


async def terminate_and_watch(server: ServerProc, clients: list[Client]) -> None:
    assert server.proc is not None
    proc = server.proc
    server.signal(signal.SIGTERM)
    signalled = time.monotonic()
    closes = await asyncio.gather(*(c.closed(timeout=EXIT_WITHIN_S) for c in clients))
    assert [c.code for c in closes] == [1001] * len(clients)
    assert not server.accepts()  # the listening socket was closed before the sockets were
    code = await asyncio.to_thread(proc.wait, EXIT_WITHIN_S)
    print(f"exit {code} {time.monotonic() - signalled:.2f} s after SIGTERM")
    assert code == 0
    server.proc = None


def test_sigterm_closes_sockets_with_1001_and_exits(make_server: MakeServer) -> None:
    server = make_server()

    async def scenario() -> None:
        await terminate_and_watch(server, await members_of_one_session(server, 3))

    asyncio.run(scenario())


@pytest.mark.redis
def test_sigterm_to_the_parent_of_two_workers_stops_them_all(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    server = make_server(own_redis.url, ("--workers", "2"))

    async def scenario() -> None:
        # enough sockets that both workers (the kernel spreads connections) most likely hold some
        await terminate_and_watch(server, await members_of_one_session(server, 8))

    asyncio.run(scenario())


def worker_pids(parent: int) -> set[int]:
    text = Path(f"/proc/{parent}/task/{parent}/children").read_text()  # Linux
    return {int(pid) for pid in text.split()}


@pytest.mark.redis
def test_a_crashed_worker_is_replaced_and_the_port_keeps_serving(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    server = make_server(own_redis.url, ("--workers", "2"))
    assert server.proc is not None
    before = worker_pids(server.proc.pid)
    assert len(before) == 2
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        now = worker_pids(server.proc.pid)
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, f"workers now {now}"
        time.sleep(0.1)
    for _ in range(10):  # whichever worker the kernel picks, it answers
        assert http("POST", server.base + "/api/sessions").status == 200


def listening_pids(port: int) -> list[int]:
    """The processes holding a listening TCP socket on `port`, one entry per socket (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fd_dir.iterdir()]
        except OSError:
            continue  # gone, or not ours to read
        pids += [int(fd_dir.parent.name)] * sum(link in inodes for link in links)
    return pids


@pytest.mark.redis
def test_each_worker_listens_on_its_own_socket_and_the_parent_on_none(
    own_redis: RedisServer, make_server: MakeServer
) -> None:
    server = make_server(own_redis.url, ("--workers", "2"))
    assert server.proc is not None
    # the server answers once one worker listens; the other may still be starting (loaded machine)
    deadline = time.monotonic() + 15
    while len(listening_pids(server.port)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = worker_pids(server.proc.pid)
    # one socket each (SO_REUSEPORT): the kernel spreads connections instead of the first to wake
    # taking them; the parent accepts nothing, so its stop leaves no queue behind
    assert sorted(listening_pids(server.port)) == sorted(workers)
