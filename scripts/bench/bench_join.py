#!/usr/bin/env python3
"""Where a late joiner's time goes: opens late joiners on a playing session (like bench_sync.py's
late joins) and records, from the new page's first instant, its page load, module loading, the
WebSocket's connect and init, the video's media events and its offset to the host, so the time to
"within 50 ms of the host" can be split into its parts.

    python scripts/bench/bench_join.py                 # one host, one viewer, 8 late joins
    python scripts/bench/bench_join.py --viewers 3 --joins 10

Times are seconds from opening the new browser context (bench_sync.py's origin); every page's
clock is `performance.timeOrigin + performance.now()` on one machine.
"""

from __future__ import annotations

import argparse
import json
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

import harness  # noqa: E402
from bench_sync import BOUND_MS, HOLD_MS, create_host, join, open_page, wait_video  # noqa: E402

log = logging.getLogger("bench_join")

# Runs before the page's own scripts: the 4 ms sampler of harness.SAMPLER_JS from the first instant,
# media events (captured on the document: they do not bubble), and the WebSocket's milestones.
RECORDER = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  const marks = {};
  const mark = (name, extra) => { if (!(name in marks)) marks[name] = [now(), extra ?? null]; };
  window.__join = marks;
  const samples = [];
  window.__samples = samples;
  window.__sampler = setInterval(() => {
    const v = document.querySelector('video');
    if (!v) return;
    samples.push([now(), v.currentTime, v.paused ? 1 : 0, v.seeking ? 1 : 0, v.readyState]);
  }, 4);
  for (const type of ['loadstart', 'loadedmetadata', 'loadeddata', 'seeking', 'seeked', 'canplay',
                      'play', 'playing', 'waiting']) {
    document.addEventListener(type, (e) => {
      if (e.target instanceof HTMLMediaElement) mark(type, e.target.currentTime);
    }, true);
  }
  document.addEventListener('DOMContentLoaded', () => mark('domcontentloaded'));
  // what the page asks of its <video>, before the element's own events say it happened
  const proto = HTMLMediaElement.prototype;
  const load = proto.load;
  proto.load = function () { mark('load()'); return load.call(this); };
  const play = proto.play;
  proto.play = function () { mark('play()', this.currentTime); return play.call(this); };
  const ct = Object.getOwnPropertyDescriptor(proto, 'currentTime');
  Object.defineProperty(proto, 'currentTime', { ...ct, set(t) { mark('seek()', t); ct.set.call(this, t); } });
  window.__long = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        window.__long.push([performance.timeOrigin + e.startTime, e.duration]);
      }
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      mark('ws-new');
      this.addEventListener('open', () => mark('ws-open'));
      this.addEventListener('message', (e) => {
        if (typeof e.data === 'string' && e.data.includes('"type":"init"')) mark('init');
      });
    }
  };
})();"""

READ_JS = """() => {
  const t0 = performance.timeOrigin;
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const end = (pred) => Math.max(...res.filter(pred).map((r) => t0 + r.responseEnd), -Infinity);
  return {
    marks: window.__join,
    navStart: t0,
    html: t0 + nav.responseEnd,
    modules: end((r) => r.name.includes('/js/')),
    session: end((r) => r.name.includes('/api/session')),
    load: t0 + nav.loadEventEnd,
    transport: document.querySelector('video').dataset.transport ?? null,
    long: window.__long,
    resources: res.map((r) => [r.name.replace(location.origin, ''), Math.round(r.startTime),
                               Math.round(r.responseEnd)]),
  };
}"""

ORDER = [
    "navStart", "html", "modules", "domcontentloaded", "ws-new", "session", "load()", "loadstart", "ws-open",
    "init", "loadedmetadata", "loadeddata", "canplay", "seek()", "seeking", "play()", "play", "seeked",
    "playing",
    "advancing", "within 50 ms",
]


def host_offset(samples: list[harness.Sample], start: float, end: float) -> float | None:
    return harness.page_offset(samples, start, end, min_samples=5, stall_spread=0.2)


def one_join(browser: Any, host: Any, link: str, watch_s: float) -> dict[str, Any]:
    at = harness.wall_now(host)
    late = open_page(browser, link, init_script=RECORDER)
    late.wait_for_selector('[data-role-badge][data-role="participant"]')
    time.sleep(watch_s)
    got = late.evaluate(READ_JS)
    mine = harness.read_samples(late, at)
    theirs = harness.read_samples(host, at)
    late.context.close()
    out: dict[str, Any] = {
        k: (v - at) / 1000.0 for k, v in got.items() if isinstance(v, (int, float)) and v > 0
    }
    out["transport"] = got["transport"]
    long_tasks = [(round((t - at) / 1000, 3), round(d)) for t, d in got["long"]]
    log.debug("long tasks (s from opening, ms): %s", long_tasks)
    log.debug("resources (ms from navigation start): %s", got["resources"])
    for name, (t, _extra) in got["marks"].items():
        out[name] = (t - at) / 1000.0
    playing = [w for (w, _ct, paused, seeking, ready) in mine if not (paused or seeking) and ready >= 3]
    if playing:
        out["advancing"] = (playing[0] - at) / 1000.0
        # how far off the first frames landed: the first 100 ms of play against the host
        first = playing[0]
        a, b = host_offset(mine, first, first + 100), host_offset(theirs, first, first + 100)
        if a is not None and b is not None:
            out["landing ms"] = (b - a) * 1000.0  # positive: the joiner is ahead of the host
    if playing:  # the joiner's lag behind the host (ms) over its first 400 ms of play, every 3rd sample
        base = host_offset(theirs, playing[0], playing[0] + 600)
        if base is not None:
            log.debug("lag behind the host after the first playing sample (ms from it, ms): %s", [
                (round(w - playing[0]), round((w / 1000 - ct - base) * 1000, 1))
                for (w, ct, _p, _s, _r) in mine if playing[0] <= w < playing[0] + 400][::3])
    end = min(mine[-1][0], theirs[-1][0]) if mine and theirs else at
    series = harness.max_pair_skew_series([theirs, mine], at, end, window_ms=100.0)
    out["within 50 ms"] = harness.convergence_time(series, at, BOUND_MS, HOLD_MS)
    log.debug("worst skew per 100 ms window (s from opening, ms): %s",
              [(round((w - at) / 1000, 2), None if v is None else round(v, 1)) for w, v in series[:16]])
    return out


def summary(joins: list[dict[str, Any]]) -> str:
    lines = ["| milestone | median s | min s | max s | joins |", "|---|---|---|---|---|"]
    for key in [*ORDER, "landing ms"]:
        values = [j[key] for j in joins if j.get(key) is not None]
        if not values:
            continue
        lines.append(
            f"| {key} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |"
            f" {len(values)}/{len(joins)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--viewers", type=int, default=2, help="viewers already playing (the host included)")
    parser.add_argument("--joins", type=int, default=8)
    parser.add_argument("--watch", type=float, default=3.0, help="seconds each late joiner is watched")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log each join's resource timings")
    parser.add_argument("--json", type=Path, help="also write every join's milestones here")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s: %(message)s"
    )
    from playwright.sync_api import sync_playwright

    joins: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-join-") as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        harness.make_clip(media / "clip.mp4", seconds=120)
        with harness.running_server(media, Path(tmp) / "server.log") as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
            host, link = create_host(browser, server.base_url)
            pages = [host] + [join(browser, link) for _ in range(args.viewers - 1)]
            for p in pages:
                wait_video(p, "v.readyState >= 3")
                harness.install_sampler(p)
            host.click("[data-play]")
            for p in pages:
                wait_video(p, "!v.paused && v.currentTime > 0.3")
            time.sleep(2)
            load_before = os.getloadavg()
            for i in range(args.joins):
                joins.append(one_join(browser, host, link, args.watch))
                log.info("join %d: %s", i + 1, json.dumps({k: round(v, 3) if isinstance(v, float) else v
                                                              for k, v in joins[-1].items()}))
            browser.close()
    load_after = os.getloadavg()
    print(f"load average {load_before[0]:.2f} → {load_after[0]:.2f} (1 min), {args.joins} joins,"
          f" {args.viewers} viewers playing")
    print(summary(joins))
    if args.json:
        args.json.write_text(json.dumps(joins, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
