#!/usr/bin/env python3
"""Scale benchmarks: WS fan-out at 1 vs 2 workers, 5,000 idle sockets on one process, and
200 sessions × 10 viewers with hosts updating every second.

Builds on bench_fanout.py (its raw-socket WebSocket client and fan-out measurement, imported, not
copied): the load generator is one asyncio process of lean protocol objects, so it takes as little
CPU from the server as it can on a small machine. Every run starts its own `python -m videosync`
(and a throw-away redis-server on a free port when a run needs Redis) and prints one JSON line.

    python scripts/bench/bench_scale.py fanout --workers 1 2 --n 1000
    python scripts/bench/bench_scale.py idle --connections 5000 --window 30
    python scripts/bench/bench_scale.py sessions --sessions 200 --viewers 10 --seconds 30 --workers 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_fanout import WSClient, connect, percentile, run_fanout  # noqa: E402

from tests.support.http import wait_http  # noqa: E402  (bench_fanout put the repo on the path)
from tests.support.net import free_port  # noqa: E402
from tests.support.procstat import children, cpu_seconds, rss_kb, terminate  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def raise_fd_limit() -> int:
    """Sockets are files: lift the soft limit to the hard one (the server inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class ScaleServer:
    """`python -m videosync` with `workers` processes; Redis of its own when it needs one.

    Quacks like bench_fanout.Server (port, session(), alive(), stop(), process)."""

    workdir: Path
    workers: int = 1
    redis: bool = False
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.redis_proc: RedisServer | None = None
        args = [sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(self.port),
                "--media-dir", str(self.workdir / "media"), "--log-level", "warning",
                "--rate-limit", "1000", "--rate-burst", "1000", "--max-connections-per-ip", "100000",
                "--create-rate", "0", "--max-sessions", "0",
                "--workers", str(self.workers), "--data-dir", str(self.workdir / "data"), *self.extra]
        if self.redis or self.workers > 1:
            self.redis_proc = RedisServer(self.workdir)
            self.redis_proc.start()
            args += ["--redis-url", self.redis_proc.url]
        (self.workdir / "media").mkdir(exist_ok=True)
        # an empty media dir makes the server render (and package) a sample video: a core lost
        (self.workdir / "media" / "placeholder.mp4").write_bytes(b"not a video")
        self.process = subprocess.Popen(args, cwd=ROOT)
        wait_http(f"http://127.0.0.1:{self.port}/health", timeout=30)
        time.sleep(0.5 if self.workers > 1 else 0)  # every worker up

    @property
    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def session(self) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/sessions", method="POST")
        return str(json.loads(urllib.request.urlopen(request).read())["sessionKey"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids)

    def stop(self) -> None:
        terminate(self.process, 30)
        if self.redis_proc is not None:
            self.redis_proc.stop()


async def connect_many(port: int, keys: list[str], record: bool) -> list[WSClient]:
    clients: list[WSClient] = []
    for start in range(0, len(keys), 100):
        clients += await asyncio.gather(*(connect(port, k, record) for k in keys[start:start + 100]))
    return clients


def close_all(clients: list[WSClient]) -> None:
    for c in clients:
        if c.transport is not None:
            c.transport.close()


# -- fan-out at 1 vs 2 workers ----------------------------------------------------------------------


async def fanout(args: argparse.Namespace) -> None:
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            server = ScaleServer(Path(tmp), workers=workers, redis=True)
            try:
                result = await run_fanout(server, args.n, args.updates, args.gap_ms)  # type: ignore[arg-type]
            finally:
                server.stop()
        print(json.dumps({"bench": "fanout", "workers": workers, "store": "redis", **result}), flush=True)


# -- idle sockets -----------------------------------------------------------------------------------


async def idle(args: argparse.Namespace) -> None:
    """`connections` sockets in sessions of `per_session`, doing nothing; memory per socket and the
    CPU the idle load costs: pings (at `--ping-interval` vs effectively never) and presence ticks."""
    for ping in (args.ping_interval, 3600.0):
        with tempfile.TemporaryDirectory() as tmp:
            server = ScaleServer(Path(tmp), redis=args.redis, extra=["--ping-interval", str(ping)])
            try:
                warm = await connect_many(server.port, [server.session()] * 5, record=False)
                await asyncio.sleep(1.0)
                before = server.rss_kb()
                sessions = [server.session() for _ in range(args.connections // args.per_session)]
                keys = [k for k in sessions for _ in range(args.per_session)]
                started = time.perf_counter()
                clients = await connect_many(server.port, keys, record=False)
                joined_s = time.perf_counter() - started
                await asyncio.sleep(5.0)
                after = server.rss_kb()
                cpu0, t0 = cpu_seconds(*server.pids), time.perf_counter()
                await asyncio.sleep(args.window)
                cpu = (cpu_seconds(*server.pids) - cpu0) / (time.perf_counter() - t0)
                alive = sum(not c.closed for c in clients)
                close_all([*warm, *clients])
            finally:
                server.stop()
        print(json.dumps({
            "bench": "idle", "connections": len(clients), "sessions": len(sessions),
            "store": "redis" if args.redis else "memory", "ping_interval_s": ping,
            "join_all_s": round(joined_s, 1), "rss_before_mb": round(before / 1024, 1),
            "rss_after_mb": round(after / 1024, 1),
            "kb_per_connection": round((after - before) / len(clients), 1),
            "idle_cpu_percent": round(100 * cpu, 2), "still_open": alive,
        }), flush=True)


# -- 200 sessions × 10 viewers, hosts updating every second ----------------------------------------


async def many_sessions(args: argparse.Namespace) -> None:
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            server = ScaleServer(Path(tmp), workers=workers, redis=args.redis or workers > 1)
            try:
                result = await run_sessions(server, args.sessions, args.viewers, args.seconds)
            finally:
                server.stop()
        store = "redis" if args.redis or workers > 1 else "memory"
        print(json.dumps({"bench": "sessions", "workers": workers, "store": store, **result}), flush=True)


async def run_sessions(server: ScaleServer, sessions: int, viewers: int, seconds: float) -> dict[str, object]:
    keys = [server.session() for _ in range(sessions)]
    hosts = await connect_many(server.port, keys, record=False)
    audiences = await connect_many(server.port, [k for k in keys for _ in range(viewers)], record=True)
    by_session = [audiences[i * viewers:(i + 1) * viewers] for i in range(sessions)]
    await asyncio.sleep(2.0 + sessions * viewers / 1000)  # join announcements settle
    sent: list[dict[int, int]] = [{} for _ in range(sessions)]
    cpu0, t0 = cpu_seconds(*server.pids), time.perf_counter()

    async def host_loop(index: int) -> None:
        await asyncio.sleep(random.random())  # hosts are not in lockstep
        for i in range(int(seconds)):
            message = {"type": "stateUpdate", "state": {"paused": False, "currentTime": i, "playbackRate": 1}}
            sent[index][i] = time.perf_counter_ns()
            hosts[index].send(json.dumps(message).encode())
            await asyncio.sleep(1.0)

    await asyncio.gather(*(host_loop(i) for i in range(sessions)))
    await asyncio.sleep(2.0)
    cpu = (cpu_seconds(*server.pids) - cpu0) / (time.perf_counter() - t0)
    latencies: list[float] = []
    missing = 0
    for index, clients in enumerate(by_session):
        for c in clients:
            got = {i: t for i, t in c.received}
            missing += sum(i not in got for i in sent[index])
            latencies += [(got[i] - sent[index][i]) / 1e6 for i in sent[index] if i in got]
    close_all([*hosts, *audiences])
    return {
        "sessions": sessions, "viewers_per_session": viewers, "updates_per_host": int(seconds),
        "deliveries": len(latencies), "missing": missing,
        "p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2), "server_cpu_percent": round(100 * cpu, 1),
        "server_alive": server.alive(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    f = commands.add_parser("fanout", help="one session, N participants, Redis, 1 vs 2 workers")
    f.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    f.add_argument("--n", type=int, default=1000)
    f.add_argument("--updates", type=int, default=200)
    f.add_argument("--gap-ms", type=float, default=20.0)
    i = commands.add_parser("idle", help="idle sockets on one process")
    i.add_argument("--connections", type=int, default=5000)
    i.add_argument("--per-session", type=int, default=10)
    i.add_argument("--ping-interval", type=float, default=5.0)
    i.add_argument("--window", type=float, default=30.0, help="seconds of idle CPU measured")
    i.add_argument("--redis", action="store_true")
    s = commands.add_parser("sessions", help="many sessions, hosts updating every second")
    s.add_argument("--sessions", type=int, default=200)
    s.add_argument("--viewers", type=int, default=10)
    s.add_argument("--seconds", type=float, default=30.0)
    s.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    s.add_argument("--redis", action="store_true", help="Redis even for one worker")
    args = parser.parse_args()
    print(json.dumps({"fd_limit": raise_fd_limit(), "load": os.getloadavg()}), flush=True)
    asyncio.run({"fanout": fanout, "idle": idle, "sessions": many_sessions}[args.command](args))


if __name__ == "__main__":
    main()
