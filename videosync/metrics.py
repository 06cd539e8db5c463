"""Prometheus metrics: what the server counts, and the text a scrape of `/metrics` gets.

The metric objects live at module level, as prometheus-client intends: the hub, the WebSocket
handler and the packager record with one-line calls and need no extra wiring. Each process keeps
its own values; `exposition()` answers with this process's, or, when `PROMETHEUS_MULTIPROC_DIR` is
set before start-up (prometheus-client's multiprocess mode, for `--workers N`), with the sum over
every worker, whichever worker the scrape reaches.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import choose_encoder

from .hls import PackStatus

disable_created_metrics()  # no `_created` series beside every counter and histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry(auto_describe=True)

SESSIONS_CREATED = Counter(
    "videosync_sessions_created", "Sessions created through this process", registry=REGISTRY
)
SESSIONS_LOCAL = Gauge(
    "videosync_sessions_local", "Sessions with at least one socket on this process",
    multiprocess_mode="livesum", registry=REGISTRY,
)
SOCKETS = Gauge(
    "videosync_websockets", "Joined WebSocket members on this process",
    multiprocess_mode="livesum", registry=REGISTRY,
)
MESSAGES_IN = Counter(
    "videosync_ws_messages_received", "WebSocket messages received from members", registry=REGISTRY
)
MESSAGES_OUT = Counter(
    "videosync_ws_messages_sent", "WebSocket messages queued to members (one per member)",
    registry=REGISTRY,
)
REJECTED = Counter(
    "videosync_ws_rejected",
    "Messages answered with an error, and sockets refused or dropped, by reason",
    ["reason"], registry=REGISTRY,
)
BROADCAST_SECONDS = Histogram(
    "videosync_broadcast_seconds",
    "From a host's update being published to its frames being queued to this process's members",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
CLIENT_DRIFT_SECONDS = Histogram(
    "videosync_client_drift_seconds",
    "Absolute drift from the authoritative position, as members report it",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0),
    registry=REGISTRY,
)
CLIENT_RTT_SECONDS = Histogram(
    "videosync_client_rtt_seconds", "Round-trip times members report",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
PACKAGING_JOBS = Counter(
    "videosync_packaging_jobs", "Packaging jobs finished, by outcome (ready, failed)", ["outcome"],
    registry=REGISTRY,
)
PACKAGING_SPEED = Histogram(
    "videosync_packaging_speed", "Speed of finished packaging jobs, in multiples of real time",
    buckets=(0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
    registry=REGISTRY,
)
PACKAGING_ACTIVE_SPEED = Gauge(
    "videosync_packaging_current_speed", "Speed of the packaging job now running (0 when idle)",
    multiprocess_mode="livesum", registry=REGISTRY,
)


def rejected(reason: str) -> None:
    REJECTED.labels(reason).inc()


def client_report(rtt_ms: float | None, drift_ms: float | None) -> None:
    if drift_ms is not None:
        CLIENT_DRIFT_SECONDS.observe(abs(drift_ms) / 1000.0)
    if rtt_ms is not None and rtt_ms >= 0:
        CLIENT_RTT_SECONDS.observe(rtt_ms / 1000.0)


def packaging(status: PackStatus, speed: float | None) -> None:
    """One packaging status change (hls.JobStatus's `status` and `speed`)."""
    if status == PackStatus.PACKAGING:
        PACKAGING_ACTIVE_SPEED.set(speed or 0.0)
        return
    if status in (PackStatus.READY, PackStatus.FAILED):
        PACKAGING_ACTIVE_SPEED.set(0.0)
        PACKAGING_JOBS.labels(str(status)).inc()
        if status == PackStatus.READY and speed:
            PACKAGING_SPEED.observe(speed)


def process_exited(pid: int) -> None:
    """A worker ended: in multiprocess mode its live gauges must stop counting."""
    if os.environ.get(MULTIPROC_ENV):
        _multiprocess.mark_process_dead(pid)


def exposition(accept: str = "") -> tuple[bytes, str]:
    """A scrape's body and content type (text 0.0.4, or OpenMetrics if the scraper asks for it):
    this process's metrics, or every worker's in multiprocess mode."""
    encode, content_type = choose_encoder(accept)
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return encode(registry), content_type
    return encode(REGISTRY), content_type
