"""`/metrics` in Prometheus text format after a real session flow, and logs that never carry a host
token, a resume token or a whole session key (only `sessions.short_key`)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import AsyncHTTPClient

from tests.support.ws_fixtures import stop_hub  # noqa: F401 (autouse: the rooms shut down after each test)
from tests.wsclient import Client, Closed
from videosync.app import Services
from videosync.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(media_dir=str(tmp_path / "media"), web_dir=str(tmp_path / "no-web"),
                    presence_interval=0.2, host_grace=0.2, host_lease=2.0)


async def scrape(http_client: AsyncHTTPClient, base_url: str) -> dict[str, float]:
    """sample name + sorted labels → value."""
    response = await http_client.fetch(base_url + "/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(response.body.decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}"] = sample.value
    return values


async def create(http_client: AsyncHTTPClient, base_url: str) -> dict[str, str]:
    response = await http_client.fetch(base_url + "/api/sessions", method="POST", body=b"")
    return json.loads(response.body)  # type: ignore[no-any-return]


def delta(after: dict[str, float], before: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


@pytest.mark.gen_test(timeout=30)
async def test_metrics_count_sessions_sockets_messages_rejections_broadcasts_and_drift(
    http_client: AsyncHTTPClient, base_url: str, http_port: int,
) -> None:
    for _ in range(200):  # gauges are per process: let an earlier test's sockets finish leaving
        before = await scrape(http_client, base_url)
        if before["videosync_websockets{}"] == before["videosync_sessions_local{}"] == 0:
            break
        await asyncio.sleep(0.05)
    created = await create(http_client, base_url)
    key = created["sessionKey"]
    host = await Client.connect(http_port, f"?sessionKey={key}&hostToken={created['hostToken']}")
    guest = await Client.connect(http_port, f"?sessionKey={key}")
    await host.update(paused=False, currentTime=3.0)
    await guest.recv_type("stateUpdate")
    await guest.update(paused=True)  # not the host
    assert (await guest.recv_type("error"))["code"] == "not_host"
    await guest.send("{nope")
    assert (await guest.recv_type("error"))["code"] == "bad_json"
    await guest.send({"type": "report", "rtt": 40, "drift": -25, "buffering": False})
    await guest.send({"type": "timeSync", "t0": 1.0})
    await guest.recv_type("timeSync")
    refused = await Client.connect(http_port, "?sessionKey=" + "0" * 36, expect_init=False)
    assert (await refused.closed()).code == 4001

    during = await scrape(http_client, base_url)
    assert delta(during, before, "videosync_sessions_created_total{}") == 1
    assert delta(during, before, "videosync_sessions_local{}") == 1
    assert delta(during, before, "videosync_websockets{}") == 2
    assert delta(during, before, "videosync_ws_messages_received_total{}") == 5
    assert delta(during, before, "videosync_ws_messages_sent_total{}") >= 6  # inits, joins, update×2, errors
    assert delta(during, before, "videosync_ws_rejected_total{reason=not_host}") == 1
    assert delta(during, before, "videosync_ws_rejected_total{reason=bad_json}") == 1
    assert delta(during, before, "videosync_ws_rejected_total{reason=invalid_session}") == 1
    assert delta(during, before, "videosync_broadcast_seconds_count{}") == 1
    assert delta(during, before, "videosync_client_drift_seconds_count{}") == 1
    assert delta(during, before, "videosync_client_drift_seconds_sum{}") == pytest.approx(0.025)
    assert delta(during, before, "videosync_client_drift_seconds_bucket{le=0.03}") == 1
    assert delta(during, before, "videosync_client_drift_seconds_bucket{le=0.02}") == 0

    await host.close()
    await guest.close()
    for _ in range(200):  # the leaves run as tasks after the sockets close
        after = await scrape(http_client, base_url)
        if delta(after, before, "videosync_websockets{}") == delta(after, before, "videosync_sessions_local{}") == 0:
            break
        await asyncio.sleep(0.05)
    assert delta(after, before, "videosync_websockets{}") == 0
    assert delta(after, before, "videosync_sessions_local{}") == 0


# -- logs -----------------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=30)
async def test_a_whole_session_flow_never_logs_tokens_nor_whole_keys(
    http_client: AsyncHTTPClient, base_url: str, http_port: int, services: Services,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await create(http_client, base_url)
    key, token = created["sessionKey"], created["hostToken"]
    await http_client.fetch(f"{base_url}/api/sessions/{key}/validate")
    await http_client.fetch(f"{base_url}/api/sessions/{key}")
    host = await Client.connect(http_port, f"?sessionKey={key}&hostToken={token}&name=Ann")
    resume = host.init["resumeToken"]
    guest = await Client.connect(http_port, f"?sessionKey={key}&name=Bob")
    await host.update(paused=False, currentTime=1.0)
    await guest.update(paused=True)
    await host.send({"type": "transferHost", "memberId": guest.member_id})
    await guest.recv_type("hostChanged")
    await host.close()
    back = await Client.connect(http_port, f"?sessionKey={key}&hostToken={token}&resume={resume}")
    assert back.init["isHost"] is True
    wrong = await Client.connect(http_port, f"?sessionKey={key}&hostToken={token}x")
    assert wrong.init["isHost"] is False

    # and when a bug escapes a handler, Tornado's report of the request must not carry the query
    async def broken(*_args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services.hub, "handle", broken)
    await back.send({"type": "timeSync", "t0": 1})
    try:
        await back.closed(timeout=5)
    except Closed:
        pass
    for client in (guest, wrong):
        await client.close()
    await asyncio.sleep(0.3)  # the leaves and the host grace run and log

    server_records = [r for r in caplog.records if not r.name.startswith("websockets")]  # the clients'
    text = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text or ''}" for r in server_records)
    assert "a bug" in text  # the failure itself was logged
    assert "session " in text  # the flow was logged at all
    assert token not in text
    assert resume.split(".")[1] not in text
    assert key not in text
    assert key[-8:] in text  # its short form is what identifies it

