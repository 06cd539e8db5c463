"""Viewers whose WebSocket crosses a delaying proxy (80 ± 20 ms and 200 ± 50 ms one way) stay in sync
with a host on a direct link. Loose bounds (the issue's targets are p95 ≤ 40 / 60 ms; the benchmark
scripts/bench/bench_netem_sync.py measures those): what this pins down is that latency and jitter
on the sync channel do not turn into skew of the same size."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.tools.netem_proxy import Delay, ProxyThread

from . import harness
from .test_player import create_session_as_host, start_playing
from .viewer import Viewer, measure_skew, wait_in_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# name, one-way delay, p95 bound: 1.5 × the targets, still far below what ignoring the delay gives
LINKS = [("near", Delay(80, 20), 60.0), ("far", Delay(200, 50), 90.0)]


def test_viewers_behind_slow_jittery_links_stay_in_sync_with_the_host(
    server: harness.ServerProcess, open_viewer: Callable[..., Viewer],
) -> None:
    host, link = create_session_as_host(open_viewer, server.base_url)
    with ProxyThread() as proxies:
        viewers = []
        for name, delay, _bound in LINKS:
            proxy = proxies.add("127.0.0.1", server.port, up=delay, down=delay, seed=len(viewers))
            viewer = open_viewer(name, link.replace(server.base_url, f"http://127.0.0.1:{proxy.port}"))
            viewer.wait_role("participant")
            viewers.append(viewer)
        assert all(p.delayed_connections >= 1 for p in proxies.proxies)  # their sockets did cross it
        start_playing(host, *viewers)
        for viewer, (_name, _delay, bound) in zip(viewers, LINKS, strict=True):
            # clock estimates over the slow link, then the rate nudges: converged within the deadline
            wait_in_sync([host, viewer], bound, timeout=30.0)
        for viewer, (name, delay, bound) in zip(viewers, LINKS, strict=True):
            skews = measure_skew([host, viewer], 6.0)
            assert skews, f"{name}: no steady window"
            p95 = harness.percentile(skews, 95)
            assert p95 <= bound, f"{name} ({delay}): skew p95 {p95:.1f} ms, windows {skews}"
