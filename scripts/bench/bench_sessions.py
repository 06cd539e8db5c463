"""Session-creation throughput: wrk, 50 connections, 10 s, against a real server per store.

    python scripts/bench/bench_sessions.py [--duration 10] [--connections 50] [--workers 1 2]
        [--stores memory sqlite redis] [--rounds 1]

Starts its own redis-server on a free port and one `python -m videosync` per configuration, then
prints requests/s and latency percentiles as wrk reports them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.debian import ensure  # noqa: E402
from tests.support.http import wait_http  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.procstat import children, cpu_seconds  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

POST_SCRIPT = 'wrk.method = "POST"\nwrk.body = ""\n'


@dataclass
class Result:
    label: str
    rps: float
    p50: str
    p99: str
    errors: str
    cpu_ms_per_k: float  # server CPU (all its threads and workers) per 1,000 sessions created:
    # steadier than req/s on a machine others share, where req/s follows their load


def run_wrk(url: str, duration: int, connections: int, script: Path) -> tuple[float, str, str, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, errors.group(1) if errors else "0"


def bench(label: str, extra: list[str], args: argparse.Namespace, script: Path, media: str) -> Result:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--media-dir", media,
         "--create-rate", "0", "--max-sessions", "0", *extra],  # measuring creation, not its limits
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=15)
        time.sleep(0.5 if "--workers" in extra else 0)  # every worker up
        # the server and its worker processes (a single process's children are passing ffprobes)
        forks = "--workers" in extra and extra[extra.index("--workers") + 1] != "1"
        workers = [server.pid, *(children(server.pid) if forks else [])]
        cpu_before = cpu_seconds(*workers)
        rps, p50, p99, errors = run_wrk(
            f"http://127.0.0.1:{port}/api/sessions", args.duration, args.connections, script
        )
        cpu = cpu_seconds(*workers) - cpu_before
        return Result(label, rps, p50, p99, errors, 1e6 * cpu / (rps * args.duration))
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="Redis runs: processes")
    parser.add_argument("--stores", nargs="+", default=["memory", "sqlite", "redis"],
                        choices=["memory", "sqlite", "redis"])
    parser.add_argument("--rounds", type=int, default=1, help="runs of the embedded stores, interleaved")
    args = parser.parse_args()
    ensure("wrk", "wrk")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(POST_SCRIPT)
        media = os.path.join(tmp, "media")
        # not empty: into an empty media dir the server renders and packages a sample video,
        # which takes a core away from the requests being measured
        os.makedirs(media)
        Path(media, "placeholder.mp4").write_bytes(b"not a video")
        redis = RedisServer(Path(tmp))
        redis.start()
        redis_port = redis.port
        try:
            results = []
            for round_ in range(args.rounds):  # stores interleaved: a change in load hits them all
                if "memory" in args.stores:
                    memory = ["--data-dir", "memory://"]
                    results.append(bench("memory, 1 process", memory, args, script, media))
                if "sqlite" in args.stores:
                    data = ["--data-dir", os.path.join(tmp, f"data{round_}")]
                    results.append(bench("sqlite, 1 process", data, args, script, media))
            for workers in args.workers if "redis" in args.stores else []:
                subprocess.run(["redis-cli", "-p", str(redis_port), "flushall"], capture_output=True)
                results.append(bench(
                    f"redis, {workers} process{'es' if workers > 1 else ''}",
                    ["--redis-url", f"redis://127.0.0.1:{redis_port}/0", "--workers", str(workers)],
                    args, script, media,
                ))
        finally:
            redis.stop()
    print(f"POST /api/sessions, wrk -t2 -c{args.connections} -d{args.duration}s")
    print(f"{'store':<22}{'req/s':>10}{'p50':>10}{'p99':>10}{'non-2xx':>9}{'CPU ms/1k':>11}")
    for r in results:
        print(f"{r.label:<22}{r.rps:>10.0f}{r.p50:>10}{r.p99:>10}{r.errors:>9}{r.cpu_ms_per_k:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
