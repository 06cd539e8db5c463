#!/usr/bin/env python3
"""Soak benchmark: does the server give back what closed sockets and ended sessions held?

Each round creates `--sessions` sessions, opens `--per-session` WebSocket connections into each
(10,000 across 1,000 by default), waits for every `init`, closes them all, then waits until the
sessions have expired (`--session-ttl` given to the server, plus the store's sweep) and reads the
server's RSS. A server that keeps something per closed socket or per ended session grows round
after round; one that does not levels off after the first round (allocator pools, caches).

Starts its own `python -m videosync` per store (memory, the SQLite-backed default, Redis with a
throw-away redis-server), using bench_fanout.py's raw-socket client.

With `--probe DIR` the server runs under soak_probe.py: after each round the RSS is read again
after glibc's malloc_trim (what the C allocator kept though Python freed it comes back; what is
still referenced does not), and with `--trace` also a tracemalloc snapshot, diffed at the end
against the first round's, grouped by traceback (what the later rounds added, and where).

usage: python scripts/bench/bench_soak.py [--stores memory,sqlite,redis] [--rounds 5]
                                           [--sessions 1000] [--per-session 10] [--session-ttl 10]
                                           [--probe DIR [--trace]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench_fanout import Server, WSClient, loop_factory, rss_kb

HERE = Path(__file__).resolve().parent

BATCH = 100  # connections opened at once


def create_sessions(port: int, count: int) -> list[str]:
    def one(_: int) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/sessions", method="POST")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.loads(answer.read())["sessionKey"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


async def join(port: int, key: str) -> WSClient:
    """One member, once its `init` has arrived (or the server closed it: counted as failed)."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WSClient(key, False), "127.0.0.1", port)
    deadline = loop.time() + 120
    while not client.init.done() and not client.closed:
        if loop.time() > deadline:
            raise TimeoutError(f"no init for a member of {key}")
        await asyncio.sleep(0.05)
    return client


async def close_all(clients: list[WSClient], timeout: float = 30.0) -> None:
    """Close every client's connection; until the server has closed them all (at most `timeout`)."""
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    deadline = time.monotonic() + timeout
    while not all(c.closed for c in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def one_round(server: Server, sessions: int, per_session: int, ttl: float) -> dict[str, float]:
    started = time.monotonic()
    clients: list[WSClient] = []
    per_batch = max(1, BATCH // per_session)
    for start in range(0, sessions, per_batch):
        # created just before their members join: with a short TTL, a session made long before
        # would have expired unvisited
        keys = await asyncio.to_thread(create_sessions, server.port, min(per_batch, sessions - start))
        batch = [key for key in keys for _ in range(per_session)]
        clients += await asyncio.gather(*(join(server.port, key) for key in batch))
    opened_rss = rss_kb(server.process.pid)
    lost = [c for c in clients if not c.init.done()]
    failed = len(lost)
    # why they failed: the handshake's answer and the close code, if any
    reasons = Counter(f"{c.status or 'no answer'} / close {c.close_code}" for c in lost)
    failed_sessions = len({c.key for c in lost})
    await close_all(clients)
    # sessions expire `ttl` after the last activity; the sweep runs every second; the host grace
    # and presence ticks end within a few seconds
    await asyncio.sleep(ttl + 5)
    why = {"why": dict(reasons), "failed_sessions": failed_sessions} if reasons else {}
    return {"connections": len(clients), "failed": failed, **why, "open_rss_kb": opened_rss,
            "rss_kb": rss_kb(server.process.pid),
            "round_s": round(time.monotonic() - started, 1)}


async def probe(directory: Path, request: str) -> dict[str, object]:
    """Ask the probe (soak_probe.py) for `request` and wait for the line it appends."""
    log = directory / "probe.jsonl"
    seen = len(log.read_text().splitlines()) if log.exists() else 0
    (directory / "request").write_text(request)
    deadline = time.monotonic() + 300  # a snapshot of 10,000 sockets' worth takes a while
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) > seen:
            return dict(json.loads(lines[seen]))
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the probe did not answer {request!r}")


async def probes(args: argparse.Namespace, directory: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    if args.trace:
        found.update(await probe(directory, "snapshot"))
        found.pop("probe")
    if args.garbage:
        found.update(await probe(directory, "garbage"))
        found.pop("probe")
    trimmed = await probe(directory, "trim")
    found.update((name, value) for name, value in trimmed.items() if name not in ("probe", "rss_kb"))
    return found


def report_growth(directory: Path, top: int = 15) -> None:
    """What the last snapshot holds beyond the first round's, by allocating traceback."""
    import tracemalloc

    snapshots = sorted(directory.glob("snapshot-*.pickle"), key=lambda p: int(p.stem.split("-")[1]))
    if len(snapshots) < 3:
        return
    first, last = (tracemalloc.Snapshot.load(str(p)) for p in (snapshots[1], snapshots[-1]))
    stats = last.compare_to(first, "traceback")
    print(f"# rounds 1->{len(snapshots) - 1}: traced {sum(s.size_diff for s in stats)} B more, "
          f"{sum(s.count_diff for s in stats)} blocks; largest:")
    for stat in stats[:top]:
        print(f"# {stat.size_diff:+} B in {stat.count_diff:+} blocks, allocated at:")
        for line in stat.traceback.format(limit=6):
            print(f"#   {line}")


async def soak(store: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(args.probe, store) if args.probe else None
        launcher = None
        if directory is not None:
            launcher = [sys.executable, *(["-X", "tracemalloc=8"] if args.trace else []),
                        str(HERE / "soak_probe.py"), str(directory)]
        server = Server(store, Path(tmp), launcher=launcher, extra=[
            "--session-ttl", str(args.session_ttl), "--max-connections-per-ip", "1000000",
            "--create-rate", "0", "--max-sessions", "0", "--log-level", "warning",
        ])
        try:
            await asyncio.sleep(1.0)
            start = rss_kb(server.process.pid)
            found = await probes(args, directory) if directory is not None else {}
            print(json.dumps({"store": store, "round": 0, "rss_kb": start, **found,
                              "load1": round(os.getloadavg()[0], 1)}), flush=True)
            for round_ in range(1, args.rounds + 1):
                result = await one_round(server, args.sessions, args.per_session, args.session_ttl)
                found = await probes(args, directory) if directory is not None else {}
                print(json.dumps({"store": store, "round": round_, **result, **found,
                                  "growth_kb": result["rss_kb"] - start,
                                  "load1": round(os.getloadavg()[0], 1)}), flush=True)
        finally:
            server.stop()
        if directory is not None:
            report_growth(directory)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="memory,sqlite,redis")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--per-session", type=int, default=10)
    parser.add_argument("--session-ttl", type=int, default=10)
    parser.add_argument("--probe", help="run the server under soak_probe.py, its output in this directory")
    parser.add_argument("--trace", action="store_true", help="with --probe: tracemalloc snapshots too")
    parser.add_argument("--garbage", action="store_true",
                        help="with --probe: what the cycle collector frees after each round, by type")
    args = parser.parse_args()
    if args.garbage and not args.probe:
        parser.error("--garbage needs --probe DIR")
    if args.trace and not args.probe:
        parser.error("--trace needs --probe DIR")
    # stopped with SIGTERM, still stop the server (finally clauses run for SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the server inherits it too
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for store in args.stores.split(","):
        await soak(store, args)


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
