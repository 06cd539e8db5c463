#!/usr/bin/env python3
"""What the access log costs per request, at the default level (info) against the log off (warning).

Two measurements, each printed as CPU microseconds per request and as the difference on - off:

- `call`: the access-log function alone (`videosync.app.log_request`) on a request, with logging
  configured as `python -m videosync` configures it and stderr sent to /dev/null (the write
  still happens). process_time over `--calls` calls: precise, and other load cannot inflate it
  much.
- `server`: `python -m videosync` at --log-level info and at warning (stderr to /dev/null), taking
  turns under the same wrk client creating sessions (POST /api/sessions); server CPU (utime +
  stime from /proc/PID/stat) divided by the requests wrk completed.

    python scripts/bench/bench_access_log.py
    python scripts/bench/bench_access_log.py --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import logging
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
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.debian import ensure  # noqa: E402  (imports no videosync: --repo still picks the checkout)
from tests.support.net import free_port  # noqa: E402  (nor do these)
from tests.support.procstat import cpu_seconds  # noqa: E402

REPO = [ROOT]  # --repo: measure another checkout (the code before a change) alike
POST_LUA = 'wrk.method = "POST"\nwrk.body = ""\n'


def per_call(level: str, calls: int) -> float:
    """µs of CPU per log_request call, logging configured as the server does it."""
    from videosync.__main__ import configure_logging
    from videosync.app import log_request

    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    root = logging.getLogger()
    old_handlers, old_level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        configure_logging(level)
        start = time.monotonic()
        request = SimpleNamespace(
            method="POST", path="/api/sessions",
            request_time=lambda: time.monotonic() - start,
        )
        handler = SimpleNamespace(request=request, get_status=lambda: 201)
        for _ in range(1000):  # warm caches
            log_request(handler)  # type: ignore[arg-type]
        began = time.process_time()
        for _ in range(calls):
            log_request(handler)  # type: ignore[arg-type]
        return 1e6 * (time.process_time() - began) / calls
    finally:
        for h in root.handlers:
            h.flush()
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


def per_request_in_server(level: str, seconds: int, connections: int, workdir: Path) -> float:
    port = free_port()
    media = workdir / "media"
    media.mkdir(exist_ok=True)
    (media / "placeholder.mp4").write_bytes(b"not a video")  # no sample rendering meanwhile
    proc = subprocess.Popen(
        [sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(port),
         "--media-dir", str(media), "--log-level", level, "--data-dir", "memory://",
         "--create-rate", "0", "--max-sessions", "0"],  # measuring creation, not its limits
        cwd=REPO[0], env={**os.environ, "PYTHONPATH": str(REPO[0])},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        lua = workdir / "post.lua"
        lua.write_text(POST_LUA)
        url = f"http://127.0.0.1:{port}/api/sessions"
        subprocess.run(["wrk", "-t1", "-c", str(connections), "-d", "2s", "-s", str(lua), url],
                       check=True, capture_output=True)  # warm-up
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(
            ["wrk", "-t1", "-c", str(connections), "-d", f"{seconds}s", "-s", str(lua), url],
            check=True, capture_output=True, text=True,
        ).stdout
        cpu = cpu_seconds(proc.pid) - cpu0
        match = re.search(r"(\d+) requests in", out)
        assert match, out
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if non2xx:
            print(f"  ({level}: {non2xx.group(1)} non-2xx answers)", file=sys.stderr)
        return 1e6 * cpu / int(match.group(1))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--no-server", action="store_true", help="only the in-process measurement")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose videosync to measure")
    args = parser.parse_args()
    REPO[0] = args.repo.resolve()
    sys.path.insert(0, str(REPO[0]))
    print(f"videosync from {REPO[0]}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    on = min(per_call("INFO", args.calls) for _ in range(3))
    off = min(per_call("WARNING", args.calls) for _ in range(3))
    print(f"call:   log on {on:6.2f} µs, off {off:6.2f} µs  -> the access log costs {on - off:5.2f} µs"
          f" per request (best of 3 x {args.calls} calls)")
    if not args.no_server:
        ensure("wrk", "wrk")
        results: dict[str, list[float]] = {"INFO": [], "WARNING": []}
        with tempfile.TemporaryDirectory() as tmp:
            for rnd in range(args.rounds):
                for level in (["INFO", "WARNING"] if rnd % 2 == 0 else ["WARNING", "INFO"]):
                    results[level].append(
                        per_request_in_server(level, args.seconds, args.connections, Path(tmp)))
        on_s, off_s = statistics.median(results["INFO"]), statistics.median(results["WARNING"])
        print(f"server: log on {on_s:6.1f} µs, off {off_s:6.1f} µs CPU per session creation"
              f" -> {on_s - off_s:5.1f} µs (medians of {args.rounds}; runs: on "
              f"{', '.join(f'{v:.0f}' for v in results['INFO'])}; off "
              f"{', '.join(f'{v:.0f}' for v in results['WARNING'])})")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
