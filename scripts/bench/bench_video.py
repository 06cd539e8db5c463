#!/usr/bin/env python3
"""Range-serving throughput of /api/video against nginx: 1 MiB ranges and whole-file GETs, with wrk.

    python scripts/bench/bench_video.py                     # videosync vs nginx, alternating
    python scripts/bench/bench_video.py --no-reference      # videosync alone
    python scripts/bench/bench_video.py --url http://127.0.0.1:8080/api/video   # a running server

Each scenario runs against `python -m videosync` and against Debian's nginx (one worker,
`sendfile on`, a throw-away config on a free port serving the same file; installed with apt-get
when missing), taking turns for `--rounds` rounds with the same wrk client. Prints MiB/s, p50/p99
latency and server CPU per MiB (utime + stime from /proc/PID/stat, which other load on the
machine cannot inflate) and the ratios videosync/nginx, then videosync's RSS while 50 clients
stream whole files (memory must stay flat). `wrk` too is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.debian import ensure  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.nginx import Nginx, ensure_nginx  # noqa: E402  (one nginx harness for tests and benches)
from tests.support.procstat import cpu_seconds as process_cpu_seconds  # noqa: E402

MIB = 1024 * 1024
SERVER_ROOT = [ROOT]  # --server-root: measure another checkout (the code before a change) alike

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


NGINX_SITE = """
    sendfile on;
    tcp_nopush on;
    server {{
        listen 127.0.0.1:{port};
        location = /api/video {{
            alias {file};
            default_type video/mp4;
        }}
    }}
"""


def start_nginx(media: Path, conf_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    nginx = Nginx(conf_dir, NGINX_SITE.format(port=port, file=media / "bench.mp4"), port, ensure_nginx())
    nginx.start()
    assert nginx.process is not None
    return nginx.process, nginx.url("/api/video")


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
    env = {**os.environ, "PYTHONPATH": str(SERVER_ROOT[0]), "VIDEOSYNC_LOG_LEVEL": "warning"}
    if kind == "videosync":
        cmd = [sys.executable, "-m", "videosync", "serve", "--port", str(port), "--host", "127.0.0.1",
               "--media-dir", str(media), "--video", "bench.mp4", "--log-level", "warning",
               "--data-dir", "memory://"]
    else:
        cmd = [sys.executable, "-c", STANDALONE, str(port), str(media)]
    proc = subprocess.Popen(cmd, env=env, cwd=SERVER_ROOT[0],  # `-m` looks in the cwd first
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
    return float("nan") if pid is None else process_cpu_seconds(pid)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def measure(url: str, pid: int | None, seconds: int, conns: int, script: str | None,
            headers: list[str]) -> dict[str, float]:
    cpu0 = cpu_seconds(pid)
    r = run_wrk(url, conns, seconds, script, headers)
    cpu = cpu_seconds(pid) - cpu0
    mib = r["mib_s"] * seconds
    return {**r, "cpu_pct": 100 * cpu / seconds, "cpu_us_per_mib": 1e6 * cpu / mib if mib else float("nan")}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="benchmark this running server's /api/video instead")
    parser.add_argument("--server", choices=["videosync", "standalone", "auto"], default="auto",
                        help="`python -m videosync`, or just the media routes (auto: videosync if wired)")
    parser.add_argument("--no-reference", action="store_true", help="skip nginx")
    parser.add_argument("--server-root", type=Path, default=ROOT,
                        help="run the videosync of this checkout (e.g. the code before a change)")
    parser.add_argument("--rounds", type=int, default=2, help="turns each server takes per scenario")
    parser.add_argument("--file-mib", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    SERVER_ROOT[0] = args.server_root.resolve()
    ensure("wrk", "wrk")
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        size = args.file_mib * MIB
        with (media / "bench.mp4").open("wb") as f:
            for _ in range(args.file_mib):
                f.write(os.urandom(MIB))  # real pages, not a sparse file
        servers: dict[str, tuple[subprocess.Popen[bytes] | None, str]] = {}
        try:
            if args.url:
                servers["external"] = (None, args.url)
            else:
                kinds = ["videosync", "standalone"] if args.server == "auto" else [args.server]
                for kind in kinds:
                    try:
                        servers[kind] = start_server(media, kind)
                        break
                    except RuntimeError as exc:
                        print(f"({exc}; trying the next)", file=sys.stderr)
                if not servers:
                    return 1
            ours = next(iter(servers))
            if not args.no_reference:
                conf_dir = Path(tmp) / "nginx"
                conf_dir.mkdir()
                servers["nginx"] = start_nginx(media, conf_dir)
            print(f"servers: {', '.join(servers)} ({SERVER_ROOT[0]}); file {args.file_mib} MiB;"
                  f" {args.connections} connections; {args.seconds} s per run; {args.rounds} rounds,"
                  f" taking turns;"
                  f" load average {os.getloadavg()[0]:.2f}")
            lua = RANDOM_RANGE_LUA.format(size=size, mib=MIB)
            scenarios = [
                ("1 MiB random ranges", lua, [], 0.8),
                ("1 MiB fixed range", None, ["Range: bytes=1048576-2097151"], 0.8),
                ("whole-file GETs", None, [], 0.9),
            ]
            for name, script, headers, target in scenarios:
                runs: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
                for rnd in range(args.rounds):
                    order = list(servers) if rnd % 2 == 0 else list(reversed(servers))
                    for kind in order:
                        proc, url = servers[kind]
                        runs[kind].append(measure(url, proc.pid if proc else None, args.seconds,
                                                  args.connections, script, headers))
                print(f"\n{name}")
                for kind, results in runs.items():
                    for r in results:
                        print(f"  {kind:10s} {r['mib_s']:8.0f} MiB/s {r['rps']:8.1f} req/s"
                              f"  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                              f"  non-2xx {int(r['non2xx'])}  | server CPU {r['cpu_pct']:4.0f}%,"
                              f" {r['cpu_us_per_mib']:6.0f} µs per MiB")
                if "nginx" in runs and ours in runs:
                    tput = (median([r["mib_s"] for r in runs[ours]])
                            / median([r["mib_s"] for r in runs["nginx"]]))
                    cpu = (median([r["cpu_us_per_mib"] for r in runs[ours]])
                           / median([r["cpu_us_per_mib"] for r in runs["nginx"]]))
                    print(f"  ratio {ours}/nginx (medians): throughput {tput:.2f}x (target >= {target}x),"
                          f" CPU per MiB {cpu:.2f}x (target <= 1.5x)")
            proc = servers[ours][0]
            if proc is not None:
                url = servers[ours][1]
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
                print(f"\n{'50 streaming clients':22s} {r['mib_s']:8.0f} MiB/s  {ours} RSS {before:.0f} MiB"
                      f" before, {peak[0]:.0f} MiB peak")
            print(f"load average at the end {os.getloadavg()[0]:.2f}")
        finally:
            for proc, _ in servers.values():
                if proc is not None:
                    proc.terminate()
                    proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
