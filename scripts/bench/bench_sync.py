#!/usr/bin/env python3
"""Measure how closely browsers play together: steady-state skew, convergence after a host seek
and a host play, a late joiner's convergence, and pause alignment.

Real parts only: a `python -m videosync` process, an ffmpeg-made clip, Debian's Chromium driven by
Playwright, one browser context per viewer. Skew is measured as the issue prescribes (see
tests/e2e/harness.py): per page the median of `wall/1000 - currentTime` over 500 ms windows, the
difference between pages' medians, windows with a stall rejected.

    python scripts/bench/bench_sync.py                       # 2, 3 and 4 viewers
    python scripts/bench/bench_sync.py --viewers 2 --steady 20 --out docs/benchmarks-sync.md
    python scripts/bench/bench_sync.py --weak --viewers --steady 20   # weak devices and links only

`--weak` adds a session of an unthrottled host, a viewer whose CPU the DevTools protocol slows 4×
(`Emulation.setCPUThrottlingRate`) and a viewer on an emulated slow link
(`Network.emulateNetworkConditions`: 150 ms latency, 1.5 Mbit/s down, 0.75 Mbit/s up), whose page
also goes through `tests/tools/netem_proxy.py` for jitter on the sync channel: that command has no
packet loss for HTTP or WebSockets (its `packetLoss` is WebRTC-only), so loss is not emulated.
Each weak viewer's skew is measured against the host; unthrottled late joiners then join that
session.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the harness uses tests.support
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import harness  # noqa: E402  (lives with the browser tests; shared on purpose)

from tests.tools.netem_proxy import Delay, ProxyThread  # noqa: E402

log = logging.getLogger("bench_sync")

BOUND_MS = 50.0  # "everyone within 50 ms"
HOLD_MS = 1000.0  # ... and staying there for a second


@dataclass
class Result:
    viewers: int
    steady: list[float] = field(default_factory=list)  # pairwise window skews, ms
    fast: list[float] = field(default_factory=list)  # the same at 1.5x (pitch preserved)
    seek: list[float | None] = field(default_factory=list)  # s until within BOUND_MS
    play: list[float | None] = field(default_factory=list)
    late: list[float | None] = field(default_factory=list)
    late_playing: list[float | None] = field(default_factory=list)  # s from opening to first advancing frame
    pause_frames: list[float] = field(default_factory=list)  # worst currentTime spread when paused, ms


def open_page(
    browser: Any, url: str, cdp: Sequence[tuple[str, dict[str, Any]]] = (), init_script: str | None = None
) -> Any:
    """A page in a context of its own; `cdp` DevTools commands are sent before it navigates, so a
    throttled viewer loads the page throttled too; `init_script` runs before the page's own."""
    context = browser.new_context(viewport={"width": 800, "height": 600})
    if init_script:
        context.add_init_script(script=init_script)
    page = context.new_page()
    page.on("pageerror", lambda exc: log.warning("page error: %s", exc))
    if cdp:
        session = page.context.new_cdp_session(page)
        for method, params in cdp:
            session.send(method, params)
    page.goto(url)
    return page


def wait_video(page: Any, predicate: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('video'); return {predicate}; }}", timeout=timeout
    )


def play_together(
    host: Any, pages: list[Any], ready_timeout: float = 15_000, play_timeout: float = 15_000
) -> None:
    """Every page loaded and sampling its video, then the host presses play and every page plays."""
    for p in pages:
        wait_video(p, "v.readyState >= 3", timeout=ready_timeout)
        harness.install_sampler(p)
    host.click("[data-play]")
    for p in pages:
        wait_video(p, "!v.paused && v.currentTime > 0.3", timeout=play_timeout)


def create_host(browser: Any, base: str) -> tuple[Any, str]:
    page = open_page(browser, base + "/")
    page.click("[data-create]")
    page.wait_for_selector("[data-created]:not([hidden])")
    link = page.input_value("[data-share-link]")
    page.click("[data-open-player]")
    page.wait_for_selector('[data-role-badge][data-role="host"]')
    return page, link


def join(browser: Any, link: str, cdp: Sequence[tuple[str, dict[str, Any]]] = ()) -> Any:
    page = open_page(browser, link, cdp)
    page.wait_for_selector('[data-role-badge][data-role="participant"]')
    return page


def sample_for(pages: list[Any], seconds: float) -> tuple[list[list[harness.Sample]], float, float]:
    start = harness.wall_now(pages[0])
    time.sleep(seconds)
    samples = [harness.read_samples(p, start - 2000) for p in pages]
    end = min(s[-1][0] for s in samples if s)
    return samples, start, end


def convergence(pages: list[Any], command_at: float, seconds: float = 5.0) -> float | None:
    time.sleep(seconds)
    samples = [harness.read_samples(p, command_at) for p in pages]
    end = min(s[-1][0] for s in samples if s)
    series = harness.max_pair_skew_series(samples, command_at, end, window_ms=100.0)
    return harness.convergence_time(series, command_at, BOUND_MS, HOLD_MS)


def run_one(
    browser: Any, base: str, viewers: int, steady_s: float, rounds: int, rng: random.Random
) -> Result:
    result = Result(viewers)
    host, link = create_host(browser, base)
    pages = [host] + [join(browser, link) for _ in range(viewers - 1)]
    play_together(host, pages)
    time.sleep(3)

    samples, start, end = sample_for(pages, steady_s)
    result.steady = harness.window_skews(samples, start, end, window_ms=500.0)

    host.select_option("[data-speed]", "1.5")
    time.sleep(3)
    samples, start, end = sample_for(pages, steady_s / 2)
    result.fast = harness.window_skews(samples, start, end, window_ms=500.0, rate=1.5)
    host.select_option("[data-speed]", "1")
    time.sleep(2)

    for _ in range(rounds):
        target = rng.uniform(10, 80)
        at = harness.wall_now(host)
        host.eval_on_selector(
            "[data-seek]",
            "(el, t) => { el.value = String(t); el.dispatchEvent(new Event('change')); }",
            target,
        )
        result.seek.append(convergence(pages, at))

        host.click("[data-play]")  # pause
        for p in pages:
            wait_video(p, "v.paused && !v.seeking")
        time.sleep(0.5)
        times = [p.evaluate("() => document.querySelector('video').currentTime") for p in pages]
        result.pause_frames.append((max(times) - min(times)) * 1000.0)
        at = harness.wall_now(host)
        host.click("[data-play]")  # play
        result.play.append(convergence(pages, at))

    for _ in range(rounds):
        at = harness.wall_now(host)
        late = open_page(browser, link)
        harness.install_sampler(late)
        late.wait_for_selector('[data-role-badge][data-role="participant"]')
        result.late.append(convergence([host, late], at, seconds=6.0))
        playing = [
            w
            for (w, _ct, paused, seeking, ready) in harness.read_samples(late, at)
            if not paused and not seeking and ready >= 3
        ]
        result.late_playing.append((playing[0] - at) / 1000.0 if playing else None)
        late.context.close()

    for p in pages:
        p.context.close()
    return result


CPU_RATE = 4.0
NET_LATENCY_MS = 150.0
NET_DOWN_BPS = 1_500_000
NET_UP_BPS = 750_000
NET_JITTER = Delay(20.0, 20.0)  # the proxy's one-way delay of the sync channel, each direction


def cpu_throttle(rate: float = CPU_RATE) -> list[tuple[str, dict[str, Any]]]:
    return [("Emulation.setCPUThrottlingRate", {"rate": rate})]


def slow_link() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Network.enable", {}),
        (
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": NET_LATENCY_MS,
                "downloadThroughput": NET_DOWN_BPS / 8,
                "uploadThroughput": NET_UP_BPS / 8,
            },
        ),
    ]


@dataclass
class WeakResult:
    steady: dict[str, list[float]] = field(default_factory=dict)  # viewer -> window skews vs the host
    rtt_ms: dict[str, float | None] = field(default_factory=dict)  # as each page's clock measured it
    late_host: list[float | None] = field(default_factory=list)  # s until within 50 ms of the host
    late_all: list[float | None] = field(default_factory=list)  # ... of every viewer, weak ones too
    late_playing: list[float | None] = field(default_factory=list)


def run_weak(
    browser: Any, base: str, port: int, proxies: ProxyThread, steady_s: float, rounds: int
) -> WeakResult:
    result = WeakResult()
    host, link = create_host(browser, base)
    proxy = proxies.add("127.0.0.1", port, up=NET_JITTER, down=NET_JITTER, seed=1)
    weak = {
        f"CPU {CPU_RATE:g}× slower": join(browser, link, cpu_throttle()),
        f"{NET_LATENCY_MS:g} ms, {NET_DOWN_BPS / 1e6:g} Mbit/s down, sync channel {NET_JITTER}": join(
            browser, link.replace(base, f"http://127.0.0.1:{proxy.port}"), slow_link()
        ),
    }
    pages = [host, *weak.values()]
    play_together(host, pages, ready_timeout=60_000, play_timeout=30_000)
    time.sleep(5)  # clock estimates and rate nudges settle

    samples, start, end = sample_for(pages, steady_s)
    for (name, page), mine in zip(weak.items(), samples[1:], strict=True):
        result.steady[name] = harness.window_skews([samples[0], mine], start, end, window_ms=500.0)
        result.rtt_ms[name] = page.evaluate("() => window.videosync?.clock?.rtt ?? null")

    for _ in range(rounds):
        at = harness.wall_now(host)
        late = open_page(browser, link)
        harness.install_sampler(late)
        late.wait_for_selector('[data-role-badge][data-role="participant"]')
        time.sleep(8.0)  # a loaded machine can take seconds to load the page
        got = [harness.read_samples(p, at) for p in [*pages, late]]
        end = min(s[-1][0] for s in got if s)
        for subset, out in ((got[:1] + got[-1:], result.late_host), (got, result.late_all)):
            series = harness.max_pair_skew_series(subset, at, end, window_ms=100.0)
            out.append(harness.convergence_time(series, at, BOUND_MS, HOLD_MS))
        playing = [w for (w, _ct, paused, seeking, ready) in got[-1] if not (paused or seeking) and ready > 2]
        result.late_playing.append((playing[0] - at) / 1000.0 if playing else None)
        late.context.close()
    for p in pages:
        p.context.close()
    return result


def weak_report(result: WeakResult, seconds: float) -> list[str]:
    lines = [
        "",
        "## Weak devices and links",
        "",
        f"One session: an unthrottled host, a viewer with its CPU slowed {CPU_RATE:g}× by"
        " `Emulation.setCPUThrottlingRate` (page load included), and a viewer on"
        f" `Network.emulateNetworkConditions` ({NET_LATENCY_MS:g} ms latency, {NET_DOWN_BPS / 1e6:g} Mbit/s"
        f" down, {NET_UP_BPS / 1e6:g} Mbit/s up) whose page also crosses `tests/tools/netem_proxy.py`"
        f" ({NET_JITTER} each way on the WebSocket, for jitter). Packet loss is not emulated: the DevTools"
        " command has none for HTTP or WebSockets. Steady skew: each weak viewer against the host over"
        f" {seconds:.0f} s (500 ms windows). Late joiners are unthrottled and join this session; times count"
        " from opening the page.",
        "",
        "| viewer | steady windows | skew p50 | skew p95 | skew max | its clock's last RTT |",
        "|---|---|---|---|---|---|",
    ]
    for name, skews in result.steady.items():
        rtt = result.rtt_ms.get(name)
        stats = "– | – | –"
        if skews:
            p50, p95 = harness.percentile(skews, 50), harness.percentile(skews, 95)
            stats = f"{p50:.1f} ms | {p95:.1f} ms | {max(skews):.1f} ms"
        lines.append(f"| {name} | {len(skews)} | {stats} | {f'{rtt:.0f} ms' if rtt is not None else '–'} |")
    lines += [
        "",
        "| late joiner (unthrottled) | playing | within 50 ms of the host | within 50 ms of everyone |",
        "|---|---|---|---|",
        f"| {len(result.late_host)} joins | {fmt_times(result.late_playing)} |"
        f" {fmt_times(result.late_host)} | {fmt_times(result.late_all)} |",
        "",
        "Targets (issue 13): weak viewers' steady skew p95 ≤ 20 ms; a late joiner within 50 ms of the"
        " others in ≤ 0.5 s.",
        "",
    ]
    return lines


def fmt_times(values: list[float | None]) -> str:
    got = sorted(v for v in values if v is not None)
    missed = len(values) - len(got)
    if not got:
        return f"never (0/{len(values)})"
    text = f"median {harness.percentile(got, 50):.2f} s, max {got[-1]:.2f} s"
    return text + (f", {missed} of {len(values)} never" if missed else "")


def report(results: list[Result], command: str, seconds: float, weak: WeakResult | None = None) -> str:
    chromium = subprocess.run([harness.CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# Sync benchmark (browsers playing together)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {platform.system()} {platform.release()}, {chromium or 'Chromium'};"
        f" one `python -m videosync` process (memory store), a 120 s 320x240 H.264/AAC clip, progressive MP4"
        f" unless the page chose HLS; one browser context per viewer. {os.cpu_count()} CPUs, load average"
        f" {load} when the report was written (other test suites share this machine).",
        "",
        f"Steady state: {seconds:.0f} s of play sampled every 4 ms, 500 ms windows, pairwise skew between"
        " every two viewers (windows showing a stall rejected). Convergence: time from the host's command"
        f" until every pair stays within {BOUND_MS:.0f} ms for {HOLD_MS / 1000:.0f} s (100 ms windows)."
        " A late joiner's times count from opening a new browser context on the link, so they include"
        " the page load; 'playing' is its first advancing frame. Windows in which a page's sampler got"
        " too few samples (CPU starvation) are left out of convergence, not counted as stalls.",
        "",
        "| viewers | steady windows | skew p50 | skew p95 | skew max | at 1.5× p50 / p95 | after seek"
        " | after play | late joiner: playing | late joiner: within 50 ms | pause spread |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.steady:
            p50, p95, mx = (harness.percentile(r.steady, 50), harness.percentile(r.steady, 95), max(r.steady))
            skew = f"{p50:.1f} ms | {p95:.1f} ms | {mx:.1f} ms"
        else:
            skew = "– | – | –"
        pause = f"{max(r.pause_frames):.1f} ms" if r.pause_frames else "–"
        fast = (
            f"{harness.percentile(r.fast, 50):.1f} / {harness.percentile(r.fast, 95):.1f} ms"
            if r.fast
            else "–"
        )
        lines.append(
            f"| {r.viewers} | {len(r.steady)} | {skew} | {fast} | {fmt_times(r.seek)} | {fmt_times(r.play)} |"
            f" {fmt_times(r.late_playing)} | {fmt_times(r.late)} | {pause} |"
        )
    lines += [
        "",
        "Targets (issue 5): steady skew p50 ≤ 10 ms and p95 ≤ 20 ms; after a host seek or play everyone"
        " within 50 ms in under 2 s; a late joiner within 50 ms in under 3 s; pause on the same frame"
        " (spread 0 ms).",
        "",
    ]
    if weak is not None:
        lines += weak_report(weak, seconds)
    return "\n".join(lines)


@contextmanager
def browser_rig(prefix: str) -> Iterator[tuple[harness.ServerProcess, ProxyThread, Any]]:
    """What every run measures against: a server with a 120 s clip, the delaying proxies, Chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        harness.make_clip(media / "clip.mp4", seconds=120)
        with harness.running_server(media, Path(tmp) / "server.log") as server, ProxyThread() as proxies, \
                sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
            yield server, proxies, browser
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, nargs="*", default=[2, 3, 4])
    parser.add_argument("--weak", action="store_true", help="also run the weak devices and links session")
    parser.add_argument("--steady", type=float, default=15.0, help="seconds of steady-state sampling")
    parser.add_argument("--rounds", type=int, default=3, help="seeks, plays and late joins per run")
    parser.add_argument(
        "--out", type=Path, help="write the Markdown report here (e.g. docs/benchmarks-sync.md)"
    )
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    missing = harness.have_tools()
    if missing:
        log.error("missing: %s", ", ".join(missing))
        return 2

    rng = random.Random(args.seed)
    results: list[Result] = []
    weak: WeakResult | None = None
    with browser_rig("bench-sync-") as (server, proxies, browser):
        for n in args.viewers:
            log.info("%d viewers", n)
            results.append(run_one(browser, server.base_url, n, args.steady, args.rounds, rng))
        if args.weak:
            log.info("weak devices and links")
            weak = run_weak(browser, server.base_url, server.port, proxies, args.steady, args.rounds)
            log.info("%s", weak)
    command = "python scripts/bench/bench_sync.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(results, command.strip(), args.steady, weak)
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
