"""Real parts for the browser tests and the sync benchmark: a `python -m videosync` process, a
`redis-server`, ffmpeg-made media, Debian's Chromium through Playwright, and the skew arithmetic.

Skew is measured the way the issue prescribes: every page samples
`(performance.timeOrigin + performance.now(), video.currentTime)` every few ms; per page and window
the median of `rate * wall/1000 - currentTime` is that page's offset; the difference between two
pages' offsets is their skew. Windows whose spread shows a stall (or a seek) are rejected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from tests.support.http import wait_http
from tests.support.net import free_port
from tests.support.redis_server import RedisServer

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

Sample = tuple[float, float, int, int, int]  # wall ms, currentTime s, paused, seeking, readyState


def lavfi_clip(path: Path, seconds: int, size: str, fps: int, tone: str, codec_args: Sequence[str]) -> Path:
    """ffmpeg's testsrc2 pattern with a sine `tone` (its lavfi options), encoded with `codec_args`."""
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
         "-f", "lavfi", "-i", f"sine={tone}",
         "-t", str(seconds), *codec_args, str(path)],
        check=True,
    )
    return path


def make_clip(path: Path, seconds: int = 30, size: str = "320x240", fps: int = 30) -> Path:
    """A short H.264/AAC MP4 with a keyframe every second (cheap seeks) and the moov up front."""
    if path.exists():
        return path
    return lavfi_clip(path, seconds, size, fps, "frequency=440:sample_rate=48000", [
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps),
        "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart",
    ])


def make_slow_to_package(path: Path, seconds: int = 60) -> Path:
    """MPEG-4 part 2 video + MP3 audio in Matroska: no stream copy possible, so packaging
    transcodes and the playlist grows while people watch."""
    return lavfi_clip(path, seconds, "854x480", 30, "frequency=330:sample_rate=44100", [
        "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-b:a", "96k",
    ])


def start_redis() -> RedisServer:
    """A redis-server of the test's own (no persistence, so no working directory needed)."""
    server = RedisServer()
    server.start()
    return server


@dataclass
class ServerProcess:
    """`python -m videosync` on a fixed port; stop() and start() again keep the port."""

    media_dir: Path
    log_path: Path
    port: int = field(default_factory=free_port)
    redis_url: str | None = None
    extra_args: Sequence[str] = ()
    proc: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None  # the embedded store's; default: one beside the log, never the repo

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "videosync",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--media-dir",
            str(self.media_dir),
            "--data-dir",
            str(self.data_dir or self.log_path.parent / f"data-{self.port}"),
            *self.extra_args,
        ]
        if self.redis_url:
            cmd += ["--redis-url", self.redis_url]
        log.info("starting %s", " ".join(cmd))
        out = self.log_path.open("ab")
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        out.close()
        try:
            wait_http(self.base_url + "/health")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"server did not start; log:\n{self.log_path.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextmanager
def running_server(media_dir: Path, log_path: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    server = ServerProcess(media_dir=media_dir, log_path=log_path, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def have_tools() -> list[str]:
    """What the browser tests need and this machine lacks (empty: all there)."""
    missing = [t for t in ("ffmpeg",) if shutil.which(t) is None]
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    return missing


class FlakyLink:
    """A TCP proxy in front of the server whose link can go silent: `blackhole()` keeps every
    connection open but swallows all bytes and turns new connections away (what a dropped Wi-Fi
    looks like: no FIN, no RST); `restore()` drops the dead connections and forwards again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.forwarding = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.forwarding:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    break
                if self.forwarding:
                    dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def blackhole(self) -> None:
        self.forwarding = False

    def restore(self) -> None:
        with self.lock:
            dead, self.conns = self.conns, []
        for s in dead:
            with contextlib.suppress(OSError):
                s.close()
        self.forwarding = True

    def close(self) -> None:
        self.listener.close()
        self.restore()


# --- sampling in the page -------------------------------------------------------------------------

SAMPLER_JS = """() => {
  if (window.__sampler) return;
  const samples = [];
  window.__samples = samples;
  window.__sampler = setInterval(() => {
    const v = document.querySelector('video');
    if (!v) return;
    samples.push([performance.timeOrigin + performance.now(), v.currentTime,
                  v.paused ? 1 : 0, v.seeking ? 1 : 0, v.readyState]);
    if (samples.length > 60000) samples.splice(0, 10000);
  }, 4);
}"""

READ_SAMPLES_JS = "(since) => window.__samples.filter((s) => s[0] >= since)"
WALL_NOW_JS = "() => performance.timeOrigin + performance.now()"


def install_sampler(page: Any) -> None:
    page.evaluate(SAMPLER_JS)


def read_samples(page: Any, since_ms: float) -> list[Sample]:
    return [tuple(s) for s in page.evaluate(READ_SAMPLES_JS, since_ms)]  # type: ignore[misc]


def wall_now(page: Any) -> float:
    return float(page.evaluate(WALL_NOW_JS))


# --- skew arithmetic (pure) ----------------------------------------------------------------------

STALL_SPREAD_S = 0.025  # p5..p95 spread of a page's offset inside one window above this: a stall


def page_offset(
    samples: Sequence[Sample],
    start: float,
    end: float,
    rate: float = 1.0,
    min_samples: int = 20,
    stall_spread: float = STALL_SPREAD_S,
) -> float | None:
    """Median of `rate*wall/1000 - currentTime` in [start, end) ms; None if the window is unusable."""
    values = sorted(
        rate * w / 1000.0 - ct
        for (w, ct, paused, seeking, ready) in samples
        if start <= w < end and not paused and not seeking and ready >= 3
    )
    if len(values) < min_samples:
        return None
    lo, hi = values[len(values) * 5 // 100], values[(len(values) * 95) // 100 - 1]
    if hi - lo > stall_spread:
        return None
    return statistics.median(values)


def window_skews(
    pages: Sequence[Sequence[Sample]],
    start: float,
    end: float,
    window_ms: float = 500.0,
    rate: float = 1.0,
    stall_spread: float = STALL_SPREAD_S,
) -> list[float]:
    """Pairwise skews (ms, absolute) over consecutive windows where every page was steady."""
    skews: list[float] = []
    t = start
    while t + window_ms <= end:
        offsets = [page_offset(p, t, t + window_ms, rate, stall_spread=stall_spread) for p in pages]
        if all(o is not None for o in offsets):
            for a, b in combinations(offsets, 2):
                skews.append(abs(a - b) * 1000.0)  # type: ignore[operator]
        t += window_ms
    return skews


def max_pair_skew_series(
    pages: Sequence[Sequence[Sample]],
    start: float,
    end: float,
    window_ms: float = 100.0,
    rate: float = 1.0,
    min_samples: int = 5,
) -> list[tuple[float, float | None]]:
    """(window end, worst pairwise skew in ms, or None when a page was paused, seeking or stalled)
    per window. A window in which some page took fewer than `min_samples` samples at all says
    nothing about playback (that page's sampler was starved of CPU) and is left out."""
    series: list[tuple[float, float | None]] = []
    t = start
    while t + window_ms <= end:
        taken = [sum(1 for s in p if t <= s[0] < t + window_ms) for p in pages]
        if min(taken) >= min_samples:
            offsets = [
                page_offset(p, t, t + window_ms, rate, min_samples=min_samples, stall_spread=0.2)
                for p in pages
            ]
            worst = None
            if all(o is not None for o in offsets):
                worst = max(abs(a - b) for a, b in combinations(offsets, 2)) * 1000.0  # type: ignore[operator]
            series.append((t + window_ms, worst))
        t += window_ms
    return series


def convergence_time(
    series: Sequence[tuple[float, float | None]],
    since: float,
    bound_ms: float = 50.0,
    hold_ms: float = 1000.0,
) -> float | None:
    """Seconds from `since` until the worst skew stays within bound for hold_ms; None if never."""
    candidate: float | None = None
    for end, worst in series:
        if worst is not None and worst <= bound_ms:
            if candidate is None:
                candidate = end
            if end - candidate >= hold_ms:
                return (candidate - since) / 1000.0
        else:
            candidate = None
    return None


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    k = (len(ordered) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(ordered) - 1)
    return ordered[f] + (ordered[c] - ordered[f]) * (k - f)
