"""The session REST API, over both stores: what Go clients rely on, and what bad input gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse

from tests.support.http import call
from videosync.store import Store

UUID_SHAPE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def body(response: HTTPResponse) -> Any:
    return json.loads(response.body)


async def create(http_client: AsyncHTTPClient, base_url: str, **kwargs: Any) -> dict[str, str]:
    response = await call(http_client, base_url, "/api/sessions", method="POST", **kwargs)
    assert response.code == 200, response.body
    return body(response)


@pytest.mark.gen_test
async def test_create_answers_like_go_a_plus_a_host_token(http_client, base_url) -> None:
    response = await call(http_client, base_url, "/api/sessions", method="POST")
    assert response.code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.body.endswith(b"\n")
    created = body(response)
    assert sorted(created) == ["hostToken", "sessionKey"]
    assert len(created["sessionKey"]) == 36 and len(created["hostToken"]) >= 32


@pytest.mark.gen_test
async def test_create_writes_go_a_keys_and_values(http_client, base_url, store: Store) -> None:
    key = (await create(http_client, base_url))["sessionKey"]
    assert await store.session_exists(key)
    assert await store.get_state(key) == '{"paused":true,"currentTime":0,"playbackRate":1}'
    assert await store.get_host(key) is None


@pytest.mark.gen_test
async def test_created_session_validates_and_others_do_not(http_client, base_url) -> None:
    key = (await create(http_client, base_url))["sessionKey"]
    for path, valid in [
        (f"/api/sessions/{key}/validate", True),
        (f"/api/sessions/{key.upper()}/validate", False),
        (f"/api/sessions/{key}:state/validate", False),
        (f"/api/sessions/{key}:host/validate", False),
        ("/api/sessions/not-a-uuid!$/validate", False),
        ("/api/sessions/%zz/validate", False),
        ("/api/sessions/" + "x" * 10_000 + "/validate", False),
    ]:
        response = await call(http_client, base_url, path)
        assert (response.code, body(response)) == (200, {"valid": valid}), path


@pytest.mark.gen_test
async def test_public_read_never_shows_the_host_token(http_client, base_url) -> None:
    created = await create(http_client, base_url)
    response = await call(http_client, base_url, f"/api/sessions/{created['sessionKey']}")
    assert response.code == 200
    assert created["hostToken"].encode() not in response.body
    view = body(response)
    assert view["sessionKey"] == created["sessionKey"]
    assert view["state"] == {"paused": True, "currentTime": 0, "playbackRate": 1}
    assert view["hasHost"] is False
    assert view["streamingUrl"] == "/api/video"  # relative without --public-url, whatever the Host


@pytest.mark.gen_test
async def test_public_read_of_unknown_or_malformed_keys_is_a_json_404(http_client, base_url) -> None:
    for key in ["01a20083-5915-7664-858c-2bcaf9fbe989", "abc", "x" * 10_000]:
        response = await call(http_client, base_url, f"/api/sessions/{key}")
        assert response.code == 404
        assert body(response) == {"error": "session_not_found"}


@pytest.mark.gen_test
async def test_bad_percent_encoding_is_a_json_400(http_client, base_url) -> None:
    response = await call(http_client, base_url, "/api/sessions/%ff%fe/validate")
    assert response.code == 400
    assert "error" in body(response)


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("payload", "status"),
    [
        (b"{bad", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b'{"video": 5}', 400),
        (b'{"video": ""}', 400),
        (b'{"video": "no-such-video"}', 404),
        (b"\xff\xfe", 400),
        (b'{"a": "' + b"x" * 70_000 + b'"}', 413),
        (b"0" * 2_000_000, 413),
    ],
)
async def test_bad_create_bodies_are_refused_and_create_nothing(
    http_client, base_url, store: Store, payload: bytes, status: int
) -> None:
    response = await call(http_client, base_url, "/api/sessions", method="POST", body=payload)
    assert response.code == status
    assert set(body(response)) == {"error"}
    # the server still serves, and the bad request left no session behind
    key = (await create(http_client, base_url))["sessionKey"]
    assert await store.session_exists(key)


@pytest.mark.gen_test
async def test_wrong_methods_on_api_paths_are_json_405_with_allow(http_client, base_url) -> None:
    for method in ["GET", "PUT", "DELETE", "PATCH"]:
        response = await call(
            http_client, base_url, "/api/sessions", method=method, allow_nonstandard_methods=True,
            body=b"" if method in ("PUT", "PATCH") else None,
        )
        assert response.code == 405
        assert body(response) == {"error": "method not allowed"}
        assert "POST" in response.headers["Allow"]


@pytest.mark.gen_test
async def test_unknown_api_paths_are_json_404(http_client, base_url) -> None:
    response = await call(http_client, base_url, "/api/nothing/here")
    assert response.code == 404
    assert body(response) == {"error": "not found"}


@pytest.mark.gen_test
async def test_a_restricted_origin_list_is_honoured_by_cors(http_client, base_url, app) -> None:
    app.settings["allowed_origins"] = ("https://watch.example",)
    allowed = await call(http_client, base_url, "/health", headers={"Origin": "https://watch.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://watch.example"
    refused = await call(http_client, base_url, "/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    preflight = await call(
        http_client, base_url, "/api/sessions", method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.code == 403


@pytest.mark.gen_test
async def test_an_allowed_origin_may_preflight_a_delete(http_client, base_url, app) -> None:
    app.settings["allowed_origins"] = ("https://watch.example",)
    asking = {"Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization"}
    preflight = await call(
        http_client, base_url, "/api/videos/clip", method="OPTIONS",
        headers={"Origin": "https://watch.example", **asking},
    )
    assert preflight.code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://watch.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "DELETE"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization"
    stranger = await call(
        http_client, base_url, "/api/videos/clip", method="OPTIONS",
        headers={"Origin": "https://evil.example", **asking},
    )
    assert stranger.code == 403
