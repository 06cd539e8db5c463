"""Liveness, readiness and the API root."""

from __future__ import annotations

import json
import re

import pytest


@pytest.mark.gen_test
async def test_health_is_go_a_shaped_and_names_the_store(http_client, base_url, store_url) -> None:
    response = await http_client.fetch(base_url + "/health")
    data = json.loads(response.body)
    assert data["status"] == "ok"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC", data["time"])
    assert data["store"] == ("memory" if store_url.startswith("memory") else "redis")


@pytest.mark.gen_test
async def test_ready_while_the_store_answers(http_client, base_url) -> None:
    response = await http_client.fetch(base_url + "/ready")
    assert json.loads(response.body) == {"status": "ready"}


@pytest.mark.gen_test
async def test_root_is_go_a_json_for_api_clients(http_client, base_url) -> None:
    response = await http_client.fetch(base_url + "/")
    assert response.body == b'{"message":"VideoSync API Server","status":"running"}\n'
