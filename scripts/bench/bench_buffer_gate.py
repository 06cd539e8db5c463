#!/usr/bin/env python3
"""The buffering gate in real Chromium: one viewer's network throttled below the video's bitrate
through the DevTools protocol (Network.emulateNetworkConditions), two more unthrottled.

The throttled player stalls again and again while the session plays; each stall pauses the
session for everyone, and everyone resumes once it has caught up (or at --buffer-wait). Measured
from events each page records with `performance.timeOrigin + performance.now()` (one machine,
one clock):

* pause latency: the throttled page's `waiting` event (its stall) → each other page's `pause`
  event (target: within 300 ms);
* resume spread: after each resume `stateUpdate`, the spread of the pages' `playing` events
  (target: within 50 ms of each other);
* clock-start spread: after each resume, the spread of the instants each page's `currentTime`
  started moving again (a 4 ms sampler; each instant extrapolated back from the first sample
  that moved). `playing` fires when a page calls play(); a page that knows its element starts
  slowly calls it earlier, so this is the spread viewers see.

    python scripts/bench/bench_buffer_gate.py                 # 60 s, throttle at 60 % of the bitrate
    python scripts/bench/bench_buffer_gate.py --seconds 120 --throttle 0.5
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

import harness  # noqa: E402  (the browser tests' real parts)
from bench_sync import create_host, join, wait_video  # noqa: E402  (same page flows)

log = logging.getLogger("bench_buffer_gate")

RECORDER = """() => {
  const now = () => performance.timeOrigin + performance.now();
  window.__gate = { events: [], messages: [] };
  const v = document.querySelector('video');
  for (const type of ['waiting', 'pause', 'playing']) {
    v.addEventListener(type, () => {
      const r = v.buffered;
      const ranges = Array.from({ length: r.length }, (_, i) => [r.start(i), r.end(i)]);
      window.__gate.events.push([type, now(), v.currentTime, v.readyState, ranges]);
    });
  }
  window.__gate.reports = [];
  const send = window.videosync.socket.send.bind(window.videosync.socket);
  window.videosync.socket.send = (m) => {
    if (m && m.type === 'report') window.__gate.reports.push([now(), !!m.buffering]);
    return send(m);
  };
  window.videosync.socket.addEventListener('message', ({ detail: m }) => {
    if (m.type === 'stateUpdate') {
      const waiting = (m.state.waitingFor || []).length;
      window.__gate.messages.push([now(), m.state.paused, waiting, m.state.timestamp]);
    }
  });
}"""


def percentile(values: list[float], q: float) -> float:
    return harness.percentile(values, q) if values else float("nan")


def first_after(events: list[tuple[str, float]], kind: str, after: float, within: float) -> float | None:
    return next((t for k, t, *_ in events if k == kind and after <= t <= after + within), None)


def last_before(events: list[tuple[str, float]], kind: str, before: float, within: float) -> float | None:
    times = [t for k, t, *_ in events if k == kind and before - within <= t <= before]
    return times[-1] if times else None


def clock_start(samples: list[harness.Sample], after: float, within: float = 3000.0) -> float | None:
    """When `currentTime` started moving after `after` (ms): the first sample past `after` that
    moved by more than 2 ms since the one before it, extrapolated back to where it stood still."""
    still: float | None = None
    for wall, ct, paused, seeking, _ready in samples:
        if wall < after - 100 or wall > after + within:
            continue
        if still is not None and wall > after and not paused and not seeking and ct - still > 0.002:
            return wall - (ct - still) * 1000.0
        still = ct
    return None


def clock_spreads(host_messages: list[Any], samples: list[list[harness.Sample]]) -> list[float]:
    """Per gate resume, the spread (ms) of the pages' clock starts."""
    spreads: list[float] = []
    waiting_before = False
    for received, paused, waiting, _start in host_messages:
        if waiting_before and not waiting and not paused:
            starts = [clock_start(page, received) for page in samples]
            if all(t is not None for t in starts):
                spreads.append(max(starts) - min(starts))  # type: ignore[type-var, operator]
        waiting_before = bool(waiting)
    return spreads


def clock_lateness(host_messages: list[Any], samples: list[harness.Sample]) -> list[float]:
    """Per gate resume, how late (ms) the page's clock started after the scheduled instant (the
    state's timestamp; server and pages share this machine's clock)."""
    late: list[float] = []
    waiting_before = False
    for received, paused, waiting, scheduled in host_messages:
        if waiting_before and not waiting and not paused:
            started = clock_start(samples, received)
            if started is not None:
                late.append(started - scheduled)
        waiting_before = bool(waiting)
    return late


def analyse(
    slow: dict[str, Any], others: list[dict[str, Any]]
) -> tuple[list[float], list[float], list[float], int, int]:
    """(pause latencies ms, resume spreads ms of all pages and of the unthrottled ones, gate pauses,
    gate resumes) from the recordings."""
    host_messages = others[0]["messages"]
    latencies: list[float] = []
    spreads: list[float] = []
    spreads_others: list[float] = []
    pauses = resumes = 0
    waiting_before = False
    for received, paused, waiting, _start in host_messages:
        if waiting and not waiting_before:
            pauses += 1
            stall = last_before(slow["events"], "waiting", received, 2000.0)
            if stall is not None:
                for page in others:
                    paused_at = first_after(page["events"], "pause", stall, 2000.0)
                    if paused_at is not None:
                        latencies.append(paused_at - stall)
        if waiting_before and not waiting and not paused:
            resumes += 1
            starts = [first_after(p["events"], "playing", received, 3000.0) for p in (*others, slow)]
            started = [t for t in starts if t is not None]
            if len(started) == len(starts):
                spreads.append(max(started) - min(started))
            unthrottled = [t for t in starts[:-1] if t is not None]
            if len(unthrottled) == len(others):
                spreads_others.append(max(unthrottled) - min(unthrottled))
        waiting_before = bool(waiting)
    return latencies, spreads, spreads_others, pauses, resumes


def breakdown(slow: dict[str, Any], host: dict[str, Any]) -> dict[str, list[float]]:
    """Where each pause's latency went (ms): the throttled page's stall to its `buffering` report,
    that report to the host page hearing the gate's pause, and that to the host's `pause` event."""
    parts: dict[str, list[float]] = {"stall → report sent": [], "report → pause heard": [],
                                     "heard → paused": []}
    waiting_before = False
    for received, _paused, waiting, _start in host["messages"]:
        if waiting and not waiting_before:
            stall = last_before(slow["events"], "waiting", received, 2000.0)
            # (the page's own `waiting` listener runs before the recorder's: its report may come first)
            report = next((t for t, buffering in slow.get("reports", []) if buffering and stall is not None
                           and stall - 5 <= t <= received), None)
            paused_at = first_after(host["events"], "pause", received, 2000.0)
            if stall is not None and report is not None and paused_at is not None:
                parts["stall → report sent"].append(max(0.0, report - stall))
                parts["report → pause heard"].append(received - report)
                parts["heard → paused"].append(paused_at - received)
        waiting_before = bool(waiting)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the session plays")
    parser.add_argument("--throttle", type=float, default=0.6, help="throttled bandwidth / video bitrate")
    parser.add_argument("--buffer-wait", default="10")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the throttled page's first stalls")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        clip = harness.make_clip(media / "clip.mp4", seconds=180, size="640x360")
        bitrate = clip.stat().st_size / 180  # bytes per second
        throughput = bitrate * args.throttle
        log.info("clip %.0f kB/s; throttled viewer at %.0f kB/s", bitrate / 1000, throughput / 1000)
        with harness.running_server(
            media, Path(tmp) / "server.log", extra_args=["--buffer-wait", args.buffer_wait]
        ) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
            host, link = create_host(browser, server.base_url)
            guest = join(browser, link)
            context = browser.new_context(viewport={"width": 800, "height": 600})
            slow = context.new_page()
            cdp = context.new_cdp_session(slow)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": 20, "downloadThroughput": throughput, "uploadThroughput": -1,
            })
            slow.goto(link)
            slow.wait_for_selector('[data-role-badge][data-role="participant"]')
            pages = [host, guest, slow]
            for page in pages:
                wait_video(page, "v.readyState >= 3", timeout=60_000)
                page.evaluate(RECORDER)
                harness.install_sampler(page)
            began = harness.wall_now(host)
            host.click("[data-play]")
            time.sleep(args.seconds)
            recordings = [p.evaluate("() => window.__gate") for p in pages]
            samples = [harness.read_samples(p, began) for p in pages]
            browser.close()
    latencies, spreads, spreads_others, pauses, resumes = analyse(recordings[2], recordings[:2])
    stalls = [e for e in recordings[2]["events"] if e[0] == "waiting"]
    log.debug("the throttled page's first stalls: %s", stalls[:5])
    log.debug("its first reports: %s", recordings[2]["reports"][:12])
    load = os.getloadavg()
    print(f"gate pauses {pauses}, resumes {resumes} in {args.seconds:.0f} s; load average {load[0]:.2f}")
    if latencies:
        print(f"pause latency (stall -> others' pause), {len(latencies)} samples: "
              f"median {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, "
              f"max {max(latencies):.0f} ms")
    for part, values in breakdown(recordings[2], recordings[0]).items():
        if values:
            print(f"  {part}: median {statistics.median(values):.0f} ms, p95 {percentile(values, 95):.0f} ms"
                  f" ({len(values)} pauses)")
    for name, page_samples in zip(("host", "guest", "throttled"), samples, strict=True):
        late = clock_lateness(recordings[0]["messages"], page_samples)
        if late:
            log.debug("%s: clock start after the scheduled instant: median %.0f ms, p5 %.0f, p95 %.0f; %s",
                      name, statistics.median(late), percentile(late, 5), percentile(late, 95),
                      [round(x) for x in late[:20]])
    messages = recordings[0]["messages"]
    for label, values in (("first to last 'playing', all three", spreads),
                          ("first to last 'playing', the two unthrottled", spreads_others),
                          ("first to last clock start, all three", clock_spreads(messages, samples)),
                          ("first to last clock start, the two unthrottled",
                           clock_spreads(messages, samples[:2]))):
        if values:
            print(f"resume spread ({label}), {len(values)} samples: "
                  f"median {statistics.median(values):.0f} ms, p95 {percentile(values, 95):.0f} ms, "
                  f"max {max(values):.0f} ms")


if __name__ == "__main__":
    main()
