"""`--workers 2` with prometheus-client's multiprocess mode: every scrape sums every worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RedisServer

from .conftest import MakeServer
from .procs import http

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_with_workers_and_multiprocess_mode_every_scrape_sums_all_workers(
    tmp_path: Path, own_redis: RedisServer, make_server: MakeServer,
) -> None:
    shared = tmp_path / "prom"
    shared.mkdir()
    server = make_server(own_redis.url, ("--workers", "2", "--create-rate", "0"),  # 12 from one address
                         env={"PROMETHEUS_MULTIPROC_DIR": str(shared)})
    for _ in range(12):
        assert http("POST", server.base + "/api/sessions").status == 200
    for _ in range(6):  # whichever worker answers, it reports both
        text = http("GET", server.base + "/metrics").body.decode()
        created = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "videosync_sessions_created_total"]
        assert created == [12.0]
