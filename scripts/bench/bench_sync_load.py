#!/usr/bin/env python3
"""Does sync wait behind video? Host-update fan-out latency to N members, unloaded and while other
connections pull the video as fast as they can.

For each store (memory, Redis) and process count (1; 2 with Redis), a real `python -m videosync`
serves a 64 MiB file and an HLS packaging of a real clip. One host sends `stateUpdate`s paced
`--gap-ms` apart to N members (a lean raw-socket WebSocket client from bench_fanout.py, in this
process), and every receipt is timed against its send, in three conditions:

- idle: nothing else;
- ranges: `--pullers` wrk connections pull random 1 MiB ranges of /api/video back to back;
- hls: `--pullers` wrk connections pull the HLS segments back to back.

Reports p50/p99/max, the p50 of the first and last quarter of the updates (a backlog shows as a
last quarter far above the first: latency growing over the run), and the bulk throughput.

A config ending in `:accel` (or `:accel-nice`: nginx at `nice 10`, as `worker_priority 10` makes
its workers) puts Debian's nginx in front, as in production: videosync runs with
`--accel-redirect /_media` behind the config docs/production.md documents, and the pullers and
the WebSocket members all go through nginx (videosync decides, nginx sends the media bytes).
Its rows add nginx's CPU (`nginx_cpu_pct`, one nginx process).

    python scripts/bench/bench_sync_load.py                        # the whole matrix
    python scripts/bench/bench_sync_load.py --configs redis:1 --loads idle,ranges
    python scripts/bench/bench_sync_load.py --configs memory:1,memory:1:accel,redis:1,redis:1:accel
    python scripts/bench/bench_sync_load.py --turns --configs redis:1 --loads ranges

`--turns` runs the server on the stock asyncio loop with a loop-turn counter and reports, per host
update, how many loop turns pass from the host's frame being handled to the update's fan-out, and
how long turns take (the server is otherwise unchanged; the counter costs a little).
Needs wrk, ffmpeg (for the clip) and redis-server; nginx for `:accel`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_fanout import WSClient, connect, percentile  # noqa: E402

from tests.support.net import free_port  # noqa: E402
from tests.support.nginx import Nginx, accel_config, ensure_nginx  # noqa: E402
from tests.support.procstat import cpu_seconds, terminate  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

MIB = 1024 * 1024
SERVER_ROOT = [ROOT]  # --server-root: measure another checkout (the code before a change) alike
RANGES_LUA = """
request = function()
  local start = math.random(0, {size} / {mib} - 1) * {mib}
  return wrk.format("GET", "/api/video", {{Range = "bytes=" .. start .. "-" .. (start + {mib} - 1)}})
end
"""
PATHS_LUA = """
local paths = {{{paths}}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""

# -- the instrumented server (--turns): runs in a child process as `--serve-with-turns OUT ARGS` --


def serve_with_turns(out: str, argv: list[str]) -> int:
    """`python -m videosync ARGV` on the stock loop, counting loop turns between a host update's
    frame reaching the hub and its fan-out. Written to OUT as JSON at exit."""
    import asyncio.base_events

    sys.path.insert(0, os.getcwd())  # the server's checkout (--server-root), not this script's
    import videosync.__main__ as entry
    from videosync.room.registry import Rooms
    from videosync.room.room import Room

    turn = [0]
    durations: list[float] = []
    handled: list[tuple[int, float]] = []  # (turn, time) a host stateUpdate reached Rooms.handle
    fanned: list[tuple[int, float]] = []  # (turn, time) a stateUpdate was fanned out to the room
    run_once = asyncio.base_events.BaseEventLoop._run_once

    def counted(self: Any) -> None:
        started = time.perf_counter()
        run_once(self)
        durations.append(time.perf_counter() - started)
        turn[0] += 1

    handle, fanout = Rooms.handle, Room.fanout

    async def handle_counted(self: Rooms, peer: Any, raw: Any, received_ms: float) -> None:
        if b'"stateUpdate"' in (raw if isinstance(raw, bytes) else raw.encode()):
            handled.append((turn[0], time.perf_counter()))
        await handle(self, peer, raw, received_ms)

    def fanout_counted(self: Room, wire: str, skip: str | None = None) -> None:
        if '"stateUpdate"' in wire:
            fanned.append((turn[0], time.perf_counter()))
        fanout(self, wire, skip)

    asyncio.base_events.BaseEventLoop._run_once = counted  # type: ignore[method-assign]
    Rooms.handle = handle_counted  # type: ignore[method-assign]
    Room.fanout = fanout_counted  # type: ignore[method-assign]
    entry.event_loop_factory = lambda: None  # the stock loop: uvloop's turns cannot be counted
    try:
        return entry.main(argv)
    finally:
        Path(out).write_text(json.dumps({"durations": durations, "handled": handled, "fanned": fanned}))


def turn_report(path: Path, since: float) -> dict[str, Any]:
    data = json.loads(path.read_text())
    handled = [h for h in data["handled"] if h[1] >= since]
    fanned = [f for f in data["fanned"] if f[1] >= since]
    pairs = list(zip(handled, fanned, strict=False))  # one host, FIFO: k-th handled is k-th fanned
    turns = [f[0] - h[0] for h, f in pairs]
    waits = [1000 * (f[1] - h[1]) for h, f in pairs]
    durations = [1000 * d for d in data["durations"][-20000:]]
    return {
        "updates": len(pairs),
        "turns_p50": statistics.median(turns) if turns else None,
        "turns_p99": percentile(turns, 0.99) if turns else None,
        "handle_to_fanout_ms_p50": round(statistics.median(waits), 2) if waits else None,
        "handle_to_fanout_ms_p99": round(percentile(waits, 0.99), 2) if waits else None,
        "turn_ms_p50": round(statistics.median(durations), 3),
        "turn_ms_p99": round(percentile(durations, 0.99), 3),
        "turn_ms_max": round(max(durations), 2),
    }


# -- servers and load ---------------------------------------------------------------------------


class Server:
    """videosync (and its Redis), alone or behind nginx in accel mode: `port` is where clients go."""

    def __init__(self, media: Path, workdir: Path, store: str, workers: int, turns: bool,
                 accel: bool = False, nginx_nice: int = 0) -> None:
        self.port = self.backend_port = free_port()
        self.redis: RedisServer | None = None
        self.nginx: Nginx | None = None
        self.turns_file = workdir / f"turns-{self.port}.json" if turns else None
        args = ["--host", "127.0.0.1", "--port", str(self.port), "--media-dir", str(media),
                "--video", "bench.mp4", "--log-level", "warning", "--workers", str(workers),
                "--rate-limit", "1000", "--rate-burst", "1000", "--max-connections-per-ip", "10000"]
        if store == "redis":
            self.redis = RedisServer(workdir)
            self.redis.start()
            args += ["--redis-url", self.redis.url]
        if accel:
            args += ["--accel-redirect", "/_media"]
        env = {**os.environ, "PYTHONPATH": str(SERVER_ROOT[0])}
        if self.turns_file is not None:
            cmd = [sys.executable, __file__, "--serve-with-turns", str(self.turns_file), *args]
        else:
            cmd = [sys.executable, "-m", "videosync", *args]
        self.process = subprocess.Popen(cmd, cwd=SERVER_ROOT[0], env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url("/health"), timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("server did not start")
        if accel:
            front = free_port()
            self.nginx = Nginx(workdir / f"nginx-{front}", accel_config(self.port, front, media.resolve()),
                               front, ensure_nginx(), nice=nginx_nice).start()
            self.port = front

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def session(self) -> str:
        request = urllib.request.Request(self.url("/api/sessions"), method="POST")
        return str(json.loads(urllib.request.urlopen(request).read())["sessionKey"])

    def segments(self, timeout: float = 120) -> list[str]:
        """The HLS segment paths of the clip, once the server packaged it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            video = json.loads(urllib.request.urlopen(self.url("/api/videos/clip")).read())
            hls = video.get("hls") or {}
            if hls.get("status") == "ready":
                playlist = urllib.request.urlopen(self.url(hls["playlist"])).read().decode()
                base = hls["playlist"].rsplit("/", 1)[0]
                names = [line for line in playlist.splitlines() if line and not line.startswith("#")]
                if names and names[0].endswith(".m3u8"):  # a master playlist: its first rendition
                    sub = urllib.request.urlopen(self.url(f"{base}/{names[0]}")).read().decode()
                    base = f"{base}/{names[0].rsplit('/', 1)[0]}"
                    names = [line for line in sub.splitlines() if line and not line.startswith("#")]
                return [f"{base}/{name}" for name in names]
            if hls.get("status") == "failed":
                raise RuntimeError(f"packaging failed: {hls}")
            time.sleep(0.5)
        raise RuntimeError("the clip was not packaged in time")

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        terminate(self.process, 20)
        if self.redis is not None:
            self.redis.stop()


def start_wrk(url: str, connections: int, seconds: float, script: str,
              workdir: Path) -> subprocess.Popen[str]:
    lua = workdir / f"load-{time.monotonic_ns()}.lua"
    lua.write_text(script)
    return subprocess.Popen(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "--timeout", "30s",
         "-s", str(lua), url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wrk_mib_s(out: str) -> float:
    match = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out)
    if not match:
        return float("nan")
    return float(match.group(1)) * {"B": 1, "KB": 1024, "MB": MIB, "GB": 1024 * MIB}[match.group(2)] / MIB


# -- one measurement ----------------------------------------------------------------------------


async def fanout_under(server: Server, load: str, args: argparse.Namespace, workdir: Path,
                       segments: list[str]) -> dict[str, Any]:
    key = server.session()
    host = await connect(server.port, key, record=False)
    members: list[WSClient] = []
    for start in range(0, args.members, 50):
        members += await asyncio.gather(
            *(connect(server.port, key) for _ in range(min(50, args.members - start))))
    await asyncio.sleep(1.0)
    updates = int(args.seconds * 1000 / args.gap_ms)
    wrk = None
    if load != "idle":
        script = (RANGES_LUA.format(size=args.file_mib * MIB, mib=MIB) if load == "ranges"
                  else PATHS_LUA.format(paths=", ".join(f'"{p}"' for p in segments)))
        wrk = start_wrk(server.url("/"), args.pullers, args.seconds + 6, script, workdir)
        await asyncio.sleep(2.0)  # the bulk load at full speed before the first update
    since = time.perf_counter()
    server_cpu = cpu_seconds(server.process.pid)
    nginx_cpu = cpu_seconds(server.nginx.pid) if server.nginx is not None else 0.0
    sent: list[int] = []
    next_at = time.perf_counter()
    for i in range(updates):
        state = {"paused": False, "currentTime": i, "playbackRate": 1}
        message = json.dumps({"type": "stateUpdate", "state": state})
        sent.append(time.perf_counter_ns())
        host.send(message.encode())
        next_at += args.gap_ms / 1000
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    # stragglers: a backlog drains after the host stops (bounded, so a stuck run still reports)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(len(m.received) for m in members) < updates * len(members):
        await asyncio.sleep(0.1)
    server_cpu = cpu_seconds(server.process.pid) - server_cpu
    if server.nginx is not None:
        nginx_cpu = cpu_seconds(server.nginx.pid) - nginx_cpu
    bulk = float("nan")
    if wrk is not None:
        wrk.send_signal(signal.SIGINT)
        bulk = wrk_mib_s(wrk.communicate(timeout=30)[0])
    for c in [host, *members]:
        if c.transport is not None:
            c.transport.close()
    latencies = [(t - sent[i]) / 1e6 for m in members for i, t in m.received]
    per_update: dict[int, list[float]] = {}
    for m in members:
        for i, t in m.received:
            per_update.setdefault(i, []).append((t - sent[i]) / 1e6)
    quarter = max(1, updates // 4)
    first = [v for i in range(quarter) for v in per_update.get(i, [])]
    last = [v for i in range(updates - quarter, updates) for v in per_update.get(i, [])]
    p50_first = statistics.median(first) if first else float("nan")
    p50_last = statistics.median(last) if last else float("nan")
    return {
        "load": load,
        "received": len(latencies),
        "expected": updates * len(members),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 2) if latencies else None,
        "max_ms": round(max(latencies), 2) if latencies else None,
        "first_quarter_p50_ms": round(p50_first, 2),
        "last_quarter_p50_ms": round(p50_last, 2),
        # a backlog: updates lost in the wait, the end of the run far behind its start, or the
        # start already later than a quarter of the run lasts (a queue from the first updates)
        "backlog": bool(len(latencies) < updates * len(members) or not p50_last <= 2 * p50_first + 5
                        or p50_first > 1000 * args.seconds / 4),
        "bulk_mib_s": None if bulk != bulk else round(bulk),
        "server_cpu_pct": round(100 * server_cpu / args.seconds),
        **({"nginx_cpu_pct": round(100 * nginx_cpu / args.seconds)} if server.nginx is not None else {}),
        "since": since,
    }


def make_clip(path: Path) -> None:
    """A 1280x720 H.264/AAC clip (so the packager stream-copies it into ~1 MiB segments)."""
    from videosync.ffmpeg import find_tools
    from videosync.sample import make_clip as render

    render(path, find_tools(), seconds=24, width=1280, height=720, fps=30)


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="memory:1,redis:1,redis:2",
                        help="store:processes[:accel|:accel-nice], comma-separated (behind nginx)")
    parser.add_argument("--loads", default="idle,ranges,hls")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--pullers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the host sends updates")
    parser.add_argument("--gap-ms", type=float, default=20.0, help="between host updates (50/s)")
    parser.add_argument("--file-mib", type=int, default=64)
    parser.add_argument("--turns", action="store_true", help="count loop turns per update (stock loop)")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="run the videosync of this checkout (e.g. the code before a change)")
    args = parser.parse_args()
    SERVER_ROOT[0] = args.server_root.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        media = workdir / "media"
        media.mkdir()
        with (media / "bench.mp4").open("wb") as f:
            for _ in range(args.file_mib):
                f.write(os.urandom(MIB))
        if "hls" in args.loads:
            make_clip(media / "clip.mp4")
        print(f"# server {SERVER_ROOT[0]}; {args.members} members, updates every {args.gap_ms:g} ms"
              f" for {args.seconds:g} s, {args.pullers} bulk pullers;"
              f" load average {os.getloadavg()[0]:.2f}", flush=True)
        for config in args.configs.split(","):
            store, workers, *front = config.split(":")
            accel = bool(front) and front[0] in ("accel", "accel-nice")
            nginx_nice = 10 if front == ["accel-nice"] else 0
            server = Server(media, workdir, store, int(workers), args.turns, accel, nginx_nice)
            try:
                segments = server.segments() if "hls" in args.loads else []
                for load in args.loads.split(","):
                    result = await fanout_under(server, load, args, workdir, segments)
                    since = result.pop("since")
                    extra: dict[str, Any] = {}
                    if server.turns_file is not None:
                        server.stop()
                        extra = {"turns": turn_report(server.turns_file, since)}
                        server = Server(media, workdir, store, int(workers), args.turns, accel, nginx_nice)
                        segments = server.segments() if "hls" in args.loads else []
                    row = {"store": store, "workers": int(workers), "accel": accel, "nginx_nice": nginx_nice,
                           **result, **extra}
                    print(json.dumps({**row, "load1": round(os.getloadavg()[0], 2)}), flush=True)
            finally:
                server.stop()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-with-turns":
        sys.exit(serve_with_turns(sys.argv[2], sys.argv[3:]))
    with asyncio.Runner(loop_factory=__import__("bench_fanout").loop_factory()) as runner:
        sys.exit(runner.run(main()))
