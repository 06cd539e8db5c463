"""Session passwords: creation over the API, the public read, admission over `/ws` (both stores),
the stored hash, and the guessing limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.support.http import call
from tests.support.ws_fixtures import Connect
from videosync.app import Services
from videosync.passwords import PasswordGuard, hash_password, verify_password


async def create(http_client: AsyncHTTPClient, base_url: str, body: Any) -> Any:
    response = await call(http_client, base_url, "/api/sessions", method="POST", body=json.dumps(body))
    return response.code, json.loads(response.body)


def test_the_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    first, second = hash_password("hunter2"), hash_password("hunter2")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("hunter2", first) and verify_password("hunter2", second)
    assert not verify_password("hunter3", first)
    assert not verify_password("hunter2", "garbage") and not verify_password("hunter2", "md5$1$2$3$4$5")


@pytest.mark.gen_test(timeout=30)
async def test_a_password_session_refuses_then_admits(
    http_client: AsyncHTTPClient, base_url: str, connect: Connect, services: Services
) -> None:
    code, created = await create(http_client, base_url, {"password": "open sesame"})
    assert code == 200
    key, token = created["sessionKey"], created["hostToken"]
    meta = await services.sessions.meta(key)
    assert meta is not None and meta.password is not None and "open sesame" not in meta.password
    public = json.loads((await call(http_client, base_url, f"/api/sessions/{key}")).body)
    assert public["passwordRequired"] is True and "password" not in public
    for query, reason in ((f"?sessionKey={key}", "Password required"),
                          (f"?sessionKey={key}&password=nope", "Wrong password")):
        refused = await connect(query, expect_init=False)
        closed = await refused.closed()
        assert (closed.code, closed.reason) == (4003, reason)
        assert refused.raw == []  # before any state
    guest = await connect(f"?sessionKey={key}&password=open%20sesame")
    assert guest.init["type"] == "init"
    host = await connect(f"?sessionKey={key}&hostToken={token}")  # the host token bypasses it
    assert host.init["isHost"] is True


@pytest.mark.gen_test(timeout=20)
async def test_a_session_without_password_says_so(http_client: AsyncHTTPClient, base_url: str) -> None:
    code, created = await create(http_client, base_url, {})
    public = json.loads((await call(http_client, base_url, f"/api/sessions/{created['sessionKey']}")).body)
    assert code == 200 and public["passwordRequired"] is False


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("password", ["", 5, "x" * 257, ["a"]])
async def test_a_bad_password_is_refused_with_json(http_client: AsyncHTTPClient, base_url: str, password: Any) -> None:
    code, answer = await create(http_client, base_url, {"password": password})
    assert code == 400 and "password" in answer["error"]


@pytest.mark.gen_test(timeout=30)
@pytest.mark.parametrize("overrides", [{"password_attempts": 4.0}])
async def test_guessing_is_rate_limited_per_address(
    http_client: AsyncHTTPClient, base_url: str, connect: Connect
) -> None:
    _code, created = await create(http_client, base_url, {"password": "right"})
    key = created["sessionKey"]
    reasons = []
    for guess in ("a", "b", "right"):  # burst 2 (half of 4 a minute): the third is over it
        client = await connect(f"?sessionKey={key}&password={guess}", expect_init=False)
        reasons.append((await client.closed()).reason)
    assert reasons == ["Wrong password", "Wrong password", "Too many password attempts; retry later"]


def test_the_session_limit_holds_across_addresses() -> None:
    now = [0.0]
    guard = PasswordGuard(per_address_per_minute=100, per_session_per_minute=4, jobs=1, clock=lambda: now[0])
    try:
        allowed = [guard.allow_attempt(f"10.0.0.{i}", "K") for i in range(3)]
        assert allowed == [True, True, False]
        assert guard.allow_attempt("10.0.0.9", "other session")
        now[0] += 15.0  # one guess earned back at 4 a minute
        assert guard.allow_attempt("10.0.0.10", "K")
    finally:
        guard.close()
