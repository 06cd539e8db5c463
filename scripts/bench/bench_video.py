#!/usr/bin/env python3
"""Range-serving throughput of /api/video: 1 MiB ranges and whole-file GETs, with wrk.

    python scripts/bench/bench_video.py                     # starts `python -m videosync`
    python scripts/bench/bench_video.py --url http://127.0.0.1:8080/api/video   # a running server

Prints MiB/s, requests/s and p50/p99 latency per scenario, and the server's RSS while 50 clients
stream whole files (memory must stay flat). Needs `wrk` (apt install wrk). The server is started
as its own process on a generated random file so the load generator does not share its loop.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

RANDOM_RANGE_LUA = """
local size = {size}
request = function()
  local start = math.random(0, size / {mib} - 1) * {mib}
  return wrk.format("GET", nil, {{Range = "bytes=" .. start .. "-" .. (start + {mib} - 1)}})
end
"""

STANDALONE = """
import asyncio, sys
from tornado.httpserver import HTTPServer
from tornado.web import Application
from videosync.handlers.media import media_routes
from videosync.media import MediaLibrary
from videosync.settings import Settings

async def main():
    settings = Settings(media_dir=sys.argv[2])
    app = Application(media_routes(MediaLibrary(settings.media_dir), None, settings),
                      allowed_origins=("*",), compress_response=False, log_function=lambda h: None)
    HTTPServer(app).listen(int(sys.argv[1]), "127.0.0.1")
    await asyncio.Event().wait()

try:
    import uvloop  # as `python -m videosync` does when it is installed
    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
except ImportError:
    runner = asyncio.Runner()
with runner:
    runner.run(main())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            req = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(req, timeout=1) as resp:
                return resp.status == 200
        except OSError:
            time.sleep(0.2)
    return False


def start_server(media: Path, kind: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/video"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDEOSYNC_LOG_LEVEL": "warning"}
    if kind == "videosync":
        cmd = [sys.executable, "-m", "videosync", "serve", "--port", str(port), "--host", "127.0.0.1",
               "--media-dir", str(media), "--video", "bench.mp4", "--log-level", "warning",
               "--data-dir", "memory://"]
    else:
        cmd = [sys.executable, "-c", STANDALONE, str(port), str(media)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_ready(url, proc):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{kind} server did not serve {url}")
    return proc, url


def run_wrk(url: str, connections: int, seconds: int, script: str | None = None,
            headers: list[str] = ()) -> dict[str, float]:  # type: ignore[assignment]
    cmd = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{seconds}s",
           "--latency", "--timeout", "30s"]
    for header in headers:
        cmd += ["-H", header]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
    if script:
        cmd += ["-s", lua.name]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    os.unlink(lua.name)
    return parse_wrk(out)


_UNITS = {"B": 1, "KB": 1024, "MB": MIB, "GB": 1024 * MIB}
_TIME = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(out: str) -> dict[str, float]:
    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * _TIME[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(B|KB|MB|GB)", out).groups()  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "mib_s": float(value) * _UNITS[unit] / MIB, "p50_ms": latency("50"),
            "p99_ms": latency("99"), "non2xx": float(errors.group(1)) if errors else 0.0}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of the server: a figure other load on the machine cannot skew."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="benchmark this running server's /api/video instead")
    parser.add_argument("--server", choices=["videosync", "standalone", "auto"], default="auto",
                        help="`python -m videosync`, or just the media routes (auto: videosync if wired)")
    parser.add_argument("--file-mib", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_video: needs wrk (apt install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp)
        size = args.file_mib * MIB
        with (media / "bench.mp4").open("wb") as f:
            for _ in range(args.file_mib):
                f.write(os.urandom(MIB))  # real pages, not a sparse file
        proc = None
        url = args.url
        kind = "external"
        if url is None:
            kinds = ["videosync", "standalone"] if args.server == "auto" else [args.server]
            for kind in kinds:
                try:
                    proc, url = start_server(media, kind)
                    break
                except RuntimeError as exc:
                    print(f"({exc}; trying the next)", file=sys.stderr)
            if url is None:
                return 1
        try:
            print(f"server: {kind}; file {args.file_mib} MiB; {args.connections} connections;"
                  f" {args.seconds} s each")
            lua = RANDOM_RANGE_LUA.format(size=size, mib=MIB)
            scenarios = [
                ("1 MiB random ranges", args.connections, lua, []),
                ("1 MiB fixed range", args.connections, None, ["Range: bytes=1048576-2097151"]),
                ("whole-file GETs", args.connections, None, []),
            ]
            pid = proc.pid if proc is not None else None
            for name, conns, script, headers in scenarios:
                cpu0 = cpu_seconds(pid)
                r = run_wrk(url, conns, args.seconds, script, headers)
                cpu = cpu_seconds(pid) - cpu0
                per_cpu = r["mib_s"] * args.seconds / cpu if cpu else float("nan")
                print(f"{name:22s} {r['mib_s']:8.0f} MiB/s {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
                      f"  p99 {r['p99_ms']:7.2f} ms  non-2xx {int(r['non2xx'])}"
                      f"  | server CPU {100 * cpu / args.seconds:4.0f}%, {per_cpu:6.0f} MiB per CPU-second")
            if proc is not None:
                before = rss_mib(proc.pid)
                peak = [before]
                done = threading.Event()

                def sample() -> None:
                    while not done.wait(0.2):
                        peak[0] = max(peak[0], rss_mib(proc.pid))

                sampler = threading.Thread(target=sample)
                sampler.start()
                r = run_wrk(url, 50, args.seconds)
                done.set()
                sampler.join()
                print(f"{'50 streaming clients':22s} {r['mib_s']:8.0f} MiB/s  server RSS {before:.0f} MiB"
                      f" before, {peak[0]:.0f} MiB peak")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
