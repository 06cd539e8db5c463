"""Creating sessions: limited per client address (`--create-rate`, `--create-burst`) and in total on
the embedded store (`--max-sessions`). Unit tests drive the limiters' clocks; the rest run a server."""

from __future__ import annotations

import time

import pytest

from tests.conftest import RedisServer
from videosync.session_limits import AddressRateLimit, SessionCap, address_group

from .answers import call, sessions_created
from .conftest import MakeServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def create(base: str, headers: dict[str, str] | None = None) -> int:
    return call(base, "POST", "/api/sessions", headers=headers).status


# -- the per-address bucket, on its own clock ----------------------------------------------------


def test_a_burst_is_allowed_then_the_rate_and_the_wait_is_announced() -> None:
    clock = Clock()
    limit = AddressRateLimit(per_minute=30, burst=10, clock=clock)
    assert [limit.take("192.0.2.1") for _ in range(10)] == [None] * 10
    assert limit.take("192.0.2.1") == 2  # one session per 2 s at 30/min
    assert limit.take("192.0.2.2") is None  # another address has its own bucket
    clock.now += 2.0
    assert limit.take("192.0.2.1") is None
    assert limit.take("192.0.2.1") == 2


def test_idle_addresses_are_forgotten_once_their_bucket_would_be_full_again() -> None:
    clock = Clock()
    limit = AddressRateLimit(per_minute=60, burst=10, clock=clock)  # refilled after 10 s
    for n in range(1000):
        limit.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limit) == 1000
    clock.now += 9.9
    limit.take("10.9.9.9")
    assert len(limit) == 1001  # not yet refilled: still remembered
    clock.now += 0.2
    limit.take("10.9.9.8")
    assert len(limit) == 2  # everything idle for 10 s is gone; the two recent ones stay


def test_the_address_table_never_grows_past_its_bound() -> None:
    clock = Clock()
    limit = AddressRateLimit(per_minute=30, burst=10, clock=clock, max_addresses=100)
    for n in range(5000):
        limit.take(f"10.1.{n // 256}.{n % 256}")
    assert len(limit) == 100


def test_an_ipv6_network_counts_as_one_address() -> None:
    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_group("::ffff:192.0.2.7") == "192.0.2.7"
    clock = Clock()
    limit = AddressRateLimit(per_minute=30, burst=2, clock=clock)
    assert limit.take("2001:db8:1:2::1") is None
    assert limit.take("2001:db8:1:2::2") is None
    assert limit.take("2001:db8:1:2::3") == 2  # a new address in the same /64 gains nothing


def test_the_cap_counts_only_sessions_the_store_still_has() -> None:
    clock = Clock()
    live = {"a", "b", "c"}
    cap = SessionCap(3, lambda: len(live), clock=clock, recount_s=1.0)
    assert len(cap) == 3  # what the store held when the server started: read back from its data dir
    assert not cap.has_room()
    live.discard("a")  # expired in the store
    assert not cap.has_room()  # the store is asked at most once a second
    clock.now += 1.0
    assert cap.has_room()
    cap.add()
    live.add("d")
    assert not cap.has_room()
    assert len(cap) == 3


def test_the_cap_keeps_nothing_per_session_and_asks_the_store_only_when_full() -> None:
    clock = Clock()
    counts = 0

    def count() -> int:
        nonlocal counts
        counts += 1
        return 0  # every session expires at once

    cap = SessionCap(100, count, clock=clock)
    for _ in range(100):
        assert cap.has_room()
        cap.add()
    assert counts == 1  # at the start only
    clock.now += 1.0
    assert cap.has_room()  # full by its own count, so the store was asked again
    assert (counts, len(cap)) == (2, 0)


# -- against a running server ----------------------------------------------------------------------


def test_one_address_gets_its_burst_then_429_json_with_retry_after(make_server: MakeServer) -> None:
    server = make_server()  # the defaults: 30 per minute after a burst of 10
    assert [create(server.base) for _ in range(10)] == [200] * 10
    refused = call(server.base, "POST", "/api/sessions", body=b'{"video":"placeholder"}')
    assert refused.status == 429
    assert refused.json() == {"error": "too many sessions created from this address; retry later"}
    assert refused.headers["Retry-After"] == "2"
    assert sessions_created(server.base) == 10  # the refused ones created nothing


def test_the_rate_refills_after_retry_after(make_server: MakeServer) -> None:
    server = make_server("--create-rate", "120", "--create-burst", "1")  # one per 0.5 s
    assert create(server.base) == 200
    refused = call(server.base, "POST", "/api/sessions")
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    deadline = time.monotonic() + 1.0 + 2.0  # Retry-After, plus slack for a loaded machine
    while (status := create(server.base)) == 429 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == 200


def test_each_client_address_has_its_own_allowance_behind_a_proxy(make_server: MakeServer) -> None:
    server = make_server("--create-burst", "2", "--trust-proxy-headers", "yes")
    alice, bob = {"X-Real-IP": "198.51.100.1"}, {"X-Real-IP": "198.51.100.2"}
    assert [create(server.base, alice) for _ in range(3)] == [200, 200, 429]
    assert create(server.base, bob) == 200


def test_forwarded_addresses_are_ignored_without_a_proxy(make_server: MakeServer) -> None:
    server = make_server("--create-burst", "2")  # --trust-proxy-headers no: a client cannot pose as many
    statuses = [create(server.base, {"X-Real-IP": f"198.51.100.{n}"}) for n in range(3)]
    assert statuses == [200, 200, 429]


def test_create_rate_0_is_unlimited(make_server: MakeServer) -> None:
    server = make_server("--create-rate", "0")
    assert all(create(server.base) == 200 for _ in range(40))


def test_the_embedded_store_caps_live_sessions_with_503_until_some_expire(make_server: MakeServer) -> None:
    server = make_server("--create-rate", "0", "--max-sessions", "5", "--session-ttl", "2")
    assert [create(server.base) for _ in range(5)] == [200] * 5
    full = call(server.base, "POST", "/api/sessions")
    assert full.status == 503
    assert full.json() == {"error": "the server holds its maximum of 5 sessions; retry later"}
    assert sessions_created(server.base) == 5
    deadline = time.monotonic() + 2 + 5  # the TTL, then room again
    while (status := create(server.base)) == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200


@pytest.mark.redis
def test_max_sessions_is_not_applied_on_redis_as_documented(
    make_server: MakeServer, redis_server: RedisServer
) -> None:
    redis_server.flush()
    server = make_server("--create-rate", "0", "--max-sessions", "2", redis_url=redis_server.url)
    assert [create(server.base) for _ in range(4)] == [200] * 4  # Redis's maxmemory bounds it there


def test_the_cap_counts_sessions_kept_across_a_restart_until_they_expire(make_server: MakeServer) -> None:
    server = make_server("--create-rate", "0", "--max-sessions", "3", "--session-ttl", "600")
    assert [create(server.base) for _ in range(2)] == [200] * 2
    server.stop()  # the two sessions stay in its data dir, and the restart reads them back
    server.args = ("--create-rate", "0", "--max-sessions", "3", "--session-ttl", "2")
    server.start()
    assert create(server.base) == 200  # the two from before and this one: the cap is reached
    full = call(server.base, "POST", "/api/sessions")
    assert full.status == 503, "sessions loaded from the data dir must count"
    # the new one expires (2 s): its room is free again, while the two loaded ones still count
    deadline = time.monotonic() + 2 + 5
    while (status := create(server.base)) == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200
    assert create(server.base) == 503
