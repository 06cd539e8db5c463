"""`/ws` against a real in-process server, over the memory store and a real redis-server.

Go-A's behaviour that we keep (docs/go-protocol.md §2.7), the extensions of our
PROTOCOL.md §2, and the hardening of issue 3: every test states one behaviour.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from tests.support.ws_fixtures import Connect, overrides, presence_settings, stop_hub  # noqa: F401 (fixtures)
from tests.wsclient import Client
from videosync.app import Services
from videosync.state import PlaybackState


async def new_session(services: Services) -> str:
    return (await services.sessions.create()).key


async def stored(services: Services, key: str) -> PlaybackState:
    return await services.sessions.state(key)


# -- Go-A behaviour kept -------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize(
    "query, reason",
    [("", "Missing session key"), ("?sessionKey=", "Missing session key"),
     ("?sessionKey=0b6f8f9e-8d4e-4c1e-9a59-5bb2f1e6c0d1", "Invalid session key"),
     ("?sessionKey=%00%ff%20x", "Invalid session key")],
)
async def test_bad_keys_upgrade_then_close_4001_with_go_reasons(connect: Connect, query: str, reason: str) -> None:
    client = await connect(query, expect_init=False)
    closed = await client.closed()
    assert (closed.code, closed.reason) == (4001, reason)


@pytest.mark.gen_test(timeout=20)
async def test_pseudo_session_keys_are_refused(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    for suffix in (":state", ":host"):
        client = await connect(f"?sessionKey={key}{suffix}", expect_init=False)
        assert (await client.closed()).code == 4001
    assert host.init["isHost"] is True


@pytest.mark.gen_test(timeout=20)
async def test_first_connector_is_host_and_init_is_go_a_shaped(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    for client, is_host in ((host, True), (guest, False)):
        raw = client.raw[0]
        assert raw.startswith(
            '{"isHost":%s,"state":{"paused":true,"currentTime":0,"playbackRate":1},"timestamp":'
            % ("true" if is_host else "false")
        )
        assert raw.endswith("}\n")
        assert list(json.loads(raw))[:4] == ["isHost", "state", "timestamp", "type"]
        assert client.init["hostId"] == host.member_id
    assert [m["id"] for m in guest.init["members"]] == [host.member_id, guest.member_id]
    assert await services.store.get_host(key) == host.member_id


@pytest.mark.gen_test(timeout=20)
async def test_host_update_is_stored_and_broadcast_to_everyone_including_host(
    connect: Connect, services: Services
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await host.send('{"type":"stateUpdate","state":{"paused":true,"currentTime":12.5,"playbackRate":1.5,"timestamp":1}}')
    for client in (host, guest):
        message = await client.recv_type("stateUpdate")
        assert list(message) == ["type", "state", "timestamp", "by"]
        assert list(message["state"])[:4] == ["paused", "currentTime", "playbackRate", "timestamp"]
        assert message["state"]["currentTime"] == 12.5 and message["state"]["playbackRate"] == 1.5
        assert message["state"]["timestamp"] == message["timestamp"] != 1
        assert message["state"]["version"] == 1 and message["by"] == host.member_id
    state = await stored(services, key)
    assert (state.paused, state.current_time, state.playback_rate, state.version) == (True, 12.5, 1.5, 1)


@pytest.mark.gen_test(timeout=20)
async def test_go_b_state_update_alias_from_host(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await host.send({"type": "state_update", "state": {"paused": True, "currentTime": 3, "playbackRate": 1}})
    assert (await host.recv_type("stateUpdate"))["state"]["currentTime"] == 3


@pytest.mark.gen_test(timeout=20)
async def test_participant_update_is_rejected_and_changes_nothing(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await guest.update(paused=False, currentTime=99, playbackRate=2)
    error = await guest.recv_type("error")
    assert error["code"] == "not_host"
    assert (await stored(services, key)).version == 0
    assert [m for m in await host.nothing() if m["type"] == "stateUpdate"] == []


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize(
    "payload, code",
    [
        ('{"type":"stateUpdate","state":{"paused":"yes"}}', "invalid_state"),
        ('{"type":"stateUpdate","state":{"currentTime":-1}}', "invalid_state"),
        ('{"type":"stateUpdate","state":{"currentTime":1e400}}', "invalid_state"),
        ('{"type":"stateUpdate","state":{"playbackRate":0}}', "invalid_state"),
        ('{"type":"stateUpdate","state":{"playbackRate":17}}', "invalid_state"),
        ('{"type":"stateUpdate","state":"x"}', "invalid_state"),
        ("not json", "bad_json"),
        ("[1]", "bad_json"),
        ('{"type":"play"}', "unknown_type"),
    ],
)
async def test_invalid_host_messages_get_an_error_frame_and_change_nothing(
    connect: Connect, services: Services, payload: str, code: str
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await host.update(paused=True, currentTime=5, playbackRate=1.25)
    await host.recv_type("stateUpdate")
    await host.send(payload)
    assert (await host.recv_type("error"))["code"] == code
    state = await stored(services, key)
    assert (state.current_time, state.playback_rate, state.version) == (5.0, 1.25, 1)
    await host.update(currentTime=6)  # the socket is still usable
    assert (await host.recv_type("stateUpdate"))["state"]["currentTime"] == 6


@pytest.mark.gen_test(timeout=20)
async def test_missing_fields_keep_current_values(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await host.update(paused=True, currentTime=5, playbackRate=2)
    await host.recv_type("stateUpdate")
    await host.update(currentTime=7)
    state = (await host.recv_type("stateUpdate"))["state"]
    assert (state["paused"], state["currentTime"], state["playbackRate"], state["version"]) == (True, 7, 2, 2)


@pytest.mark.gen_test(timeout=20)
async def test_play_is_scheduled_slightly_ahead(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await host.update(paused=False, currentTime=1, playbackRate=1)
    message = await host.recv_type("stateUpdate")
    assert message["state"]["timestamp"] - message["timestamp"] == services.settings.play_lead_ms


@pytest.mark.gen_test(timeout=20)
async def test_late_joiner_gets_the_position_extrapolated_to_now(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    await services.sessions.save_state(
        key, PlaybackState(paused=False, current_time=10.0, playback_rate=2.0, timestamp=services.sessions.now() - 3000)
    )
    late = await connect(f"?sessionKey={key}")
    state = late.init["state"]
    assert state["timestamp"] == late.init["timestamp"]
    assert 15.9 <= state["currentTime"] <= 16.5  # 10 s + 3 s × 2 (plus the time to connect)


@pytest.mark.gen_test(timeout=20)
async def test_an_update_after_a_state_written_elsewhere_builds_on_that_state(
    connect: Connect, services: Services
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await host.update(paused=True, currentTime=1, playbackRate=1)
    assert (await host.recv_type("stateUpdate"))["state"]["version"] == 1
    # Another writer (a Go instance on the same Redis, say) changes the state without an event.
    await services.store.set_state(key, '{"paused":true,"currentTime":42,"playbackRate":1,"version":7}', 60)
    await host.update(playbackRate=2)
    state = (await host.recv_type("stateUpdate"))["state"]
    assert (state["version"], state["currentTime"], state["playbackRate"]) == (8, 42, 2)
    # A Go instance's state has no version: numbering goes on from what members have seen.
    await services.store.set_state(key, '{"paused":true,"currentTime":5,"playbackRate":1}', 60)
    await host.update(playbackRate=1.5)
    state = (await host.recv_type("stateUpdate"))["state"]
    assert (state["version"], state["currentTime"], state["playbackRate"]) == (9, 5, 1.5)


@pytest.mark.gen_test(timeout=20)
async def test_heartbeat_ack_is_ignored(connect: Connect, services: Services) -> None:
    host = await connect(f"?sessionKey={await new_session(services)}")
    await host.send('{"type":"heartbeatAck"}')
    assert await host.nothing() == []


@pytest.mark.gen_test(timeout=20)
async def test_sessions_are_isolated(connect: Connect, services: Services) -> None:
    h1 = await connect(f"?sessionKey={await new_session(services)}")
    h2 = await connect(f"?sessionKey={await new_session(services)}")
    assert h1.init["isHost"] and h2.init["isHost"]
    await h1.update(currentTime=1)
    await h1.recv_type("stateUpdate")
    assert await h2.nothing() == []


# -- extensions ----------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
async def test_time_sync_echoes_t0_with_server_times(connect: Connect, services: Services) -> None:
    client = await connect(f"?sessionKey={await new_session(services)}")
    await client.send({"type": "timeSync", "t0": 1234.5})
    reply = await client.recv_type("timeSync")
    assert reply["t0"] == 1234.5
    assert reply["t1"] <= reply["t2"]
    assert abs(reply["t1"] - client.init["serverTime"]) < 5000


@pytest.mark.gen_test(timeout=20)
async def test_presence_join_report_name_and_leave(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}&name=Ann")
    guest = await connect(f"?sessionKey={key}&name=Bob")
    joined = await host.recv_type("memberJoined")
    assert joined["member"]["name"] == "Bob" and joined["member"]["role"] == "participant"
    await guest.send({"type": "report", "rtt": 12.5, "drift": -3, "buffering": True})
    updated = await host.recv_type("memberUpdated")
    assert updated["member"] == {**joined["member"], "rtt": 12.5, "drift": -3, "buffering": True}
    await guest.send({"type": "setName", "name": "Bobby"})
    assert (await host.recv_type("memberUpdated"))["member"]["name"] == "Bobby"
    await guest.close()
    assert (await host.recv_type("memberLeft"))["memberId"] == guest.member_id


@pytest.mark.gen_test(timeout=20)
async def test_a_client_that_asks_for_batched_presence_gets_presence_messages(
    connect: Connect, services: Services
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}&presence=batch")
    guest = await connect(f"?sessionKey={key}&name=Bob")
    batch = await host.recv_type("presence")
    if [m["id"] for m in batch["joined"]] == [host.member_id]:  # its own join may come first (an upsert)
        batch = await host.recv_type("presence")
    assert [m["name"] for m in batch["joined"]] == ["Bob"] and batch["left"] == []
    await guest.close()
    assert (await host.recv_type("presence"))["left"] == [guest.member_id]
    assert [m for m in host.raw if '"type":"member' in m] == []  # none of the one-by-one messages


@pytest.mark.gen_test(timeout=20)
async def test_member_reports_are_throttled_but_the_latest_is_not_lost(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    for drift in (1, 2, 3):
        await guest.send({"type": "report", "rtt": 10, "drift": drift, "buffering": False})
    first = await host.recv_type("memberUpdated")
    assert first["member"]["drift"] == 1
    assert [m for m in await host.nothing(0.5) if m["type"] == "memberUpdated"] == []  # within 1 s
    later = await host.recv_type("memberUpdated", timeout=2)
    assert later["member"]["drift"] == 3


@pytest.mark.gen_test(timeout=20)
async def test_name_changes_are_throttled_like_reports(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    for i in range(10):
        await guest.send({"type": "setName", "name": f"Bob {i}"})
    first = await host.recv_type("memberUpdated")
    assert first["member"]["name"] == "Bob 0"
    assert [m for m in await host.nothing(0.5) if m["type"] == "memberUpdated"] == []  # within 1 s
    later = await host.recv_type("memberUpdated", timeout=2)
    assert later["member"]["name"] == "Bob 9"  # the latest name, when the second is over
    assert [m for m in await host.nothing(1.2) if m["type"] == "memberUpdated"] == []


@pytest.mark.gen_test(timeout=20)
async def test_host_leaves_and_longest_present_member_is_promoted_after_grace(
    connect: Connect, services: Services
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    first = await connect(f"?sessionKey={key}")
    second = await connect(f"?sessionKey={key}")
    await host.close()
    assert (await first.recv_type("hostChanged"))["hostId"] is None
    promoted = await first.recv_type("hostChanged", timeout=5)
    assert promoted == {"type": "hostChanged", "hostId": first.member_id, "reason": "promoted"}
    init = await first.recv_type("init")
    assert init["isHost"] is True and init["raw" if False else "type"] == "init"
    assert (await second.recv_type("hostChanged", timeout=5))["hostId"] is None
    assert (await second.recv_type("hostChanged", timeout=5))["hostId"] == first.member_id
    await first.update(currentTime=42)
    assert (await second.recv_type("stateUpdate"))["state"]["currentTime"] == 42


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"host_grace": 2.0}])
async def test_host_reload_with_resume_token_reclaims_within_grace(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await host.close()
    await guest.recv_type("memberLeft")
    again = await connect(f"?sessionKey={key}&resume={host.init['resumeToken']}")
    assert again.init["isHost"] is True and again.member_id == host.member_id
    assert (await guest.recv_type("hostChanged"))["hostId"] is None
    assert await guest.recv_type("hostChanged") == {
        "type": "hostChanged", "hostId": host.member_id, "reason": "reclaimed",
    }
    await _holds_host_until(services, key, host.member_id, seconds=2.3)  # past the grace: nobody
    # was promoted behind the host's back


async def _holds_host_until(services: Services, key: str, member_id: str, seconds: float) -> None:
    """The host lease stays with `member_id` at every look until `seconds` from now."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        assert await services.store.get_host(key) == member_id
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=20)
async def test_forged_resume_token_gets_a_new_identity(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    other = await connect(f"?sessionKey={key}&resume={host.member_id}.deadbeef")
    assert other.member_id != host.member_id and other.init["isHost"] is False


@pytest.mark.gen_test(timeout=20)
async def test_host_token_claims_the_host_role(connect: Connect, services: Services) -> None:
    created = await services.sessions.create()
    first = await connect(f"?sessionKey={created.key}")
    owner = await connect(f"?sessionKey={created.key}&hostToken={created.host_token}")
    assert owner.init["isHost"] is True and owner.init["hostId"] == owner.member_id
    changed = await first.recv_type("hostChanged")
    assert changed == {"type": "hostChanged", "hostId": owner.member_id, "reason": "claimed"}
    demoted = await first.recv_type("init")
    assert demoted["isHost"] is False
    await first.update(currentTime=3)
    assert (await first.recv_type("error"))["code"] == "not_host"


@pytest.mark.gen_test(timeout=20)
async def test_host_token_on_a_hostless_session_is_a_plain_join(connect: Connect, services: Services) -> None:
    created = await services.sessions.create()
    owner = await connect(f"?sessionKey={created.key}&hostToken={created.host_token}")
    assert owner.init["isHost"] is True
    assert await owner.nothing() == []  # no hostChanged: nobody was displaced


@pytest.mark.gen_test(timeout=20)
async def test_wrong_host_token_is_a_participant(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    await connect(f"?sessionKey={key}")
    other = await connect(f"?sessionKey={key}&hostToken=wrong")
    assert other.init["isHost"] is False


@pytest.mark.gen_test(timeout=20)
async def test_host_transfers_the_role_to_a_named_member(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await host.send({"type": "transferHost", "memberId": "nobody"})
    assert (await host.recv_type("error"))["code"] == "unknown_member"
    await guest.send({"type": "transferHost", "memberId": guest.member_id})
    assert (await guest.recv_type("error"))["code"] == "not_host"
    await host.send({"type": "transferHost", "memberId": guest.member_id})
    assert (await guest.recv_type("hostChanged"))["reason"] == "transferred"
    assert (await guest.recv_type("init"))["isHost"] is True
    assert (await host.recv_type("init"))["isHost"] is False
    await guest.update(currentTime=8)
    assert (await host.recv_type("stateUpdate"))["by"] == guest.member_id
    assert await services.store.get_host(key) == guest.member_id


@pytest.mark.gen_test(timeout=20)
async def test_deleted_session_ends_with_message_and_4004(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    guest = await connect(f"?sessionKey={key}")
    await services.store.delete_session(key)
    for client in (host, guest):
        assert (await client.recv_type("ended", timeout=5))["reason"] == "deleted"
        assert (await client.closed()).code == 4004
    assert not await services.store.session_exists(key)


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"presence_interval": 30.0}])
async def test_update_to_a_deleted_session_ends_it_and_does_not_resurrect(
    connect: Connect, services: Services
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    await services.store.delete_session(key)
    await host.update(currentTime=5)
    assert (await host.recv_type("ended"))["type"] == "ended"
    assert (await host.closed()).code == 4004
    assert not await services.store.session_exists(key)
    assert await services.store.get_state(key) is None


@pytest.mark.gen_test(timeout=20)
async def test_activity_refreshes_the_session_ttl(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    await connect(f"?sessionKey={key}")
    # Shorten the TTL behind the server's back to 1 s: without the presence tick's refresh (every
    # 0.2 s here) the session is gone after 1 s. It must still be there well past that deadline.
    await services.store.touch(key, 1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while loop.time() < deadline:
        assert await services.store.session_exists(key), "the session expired: nothing refreshed it"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=20)
async def test_media_status_reaches_sessions_watching_that_video(connect: Connect, services: Services) -> None:
    services.hub.start()
    watching = await new_session(services)
    await services.sessions.save_state(watching, PlaybackState(video="clip"))
    other = await new_session(services)
    viewer = await connect(f"?sessionKey={watching}")
    bystander = await connect(f"?sessionKey={other}")
    await services.hub.media_ready.wait()  # the media channel's subscription is in place
    await services.hub.publish_media_status("clip", {"state": "packaging", "progress": 0.5})
    assert await viewer.recv_type("mediaStatus") == {
        "type": "mediaStatus", "video": "clip", "status": {"state": "packaging", "progress": 0.5},
    }
    assert await bystander.nothing() == []


# -- hardening -----------------------------------------------------------------------------------


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"max_message_bytes": 1024}])
async def test_message_over_the_size_cap_closes_1009(connect: Connect, services: Services) -> None:
    host = await connect(f"?sessionKey={await new_session(services)}")
    await host.send(json.dumps({"type": "setName", "name": "x" * 2000}))
    assert (await host.closed()).code == 1009


@pytest.mark.gen_test(timeout=20)
async def test_default_size_cap_is_64_kib(connect: Connect, services: Services) -> None:
    host = await connect(f"?sessionKey={await new_session(services)}")
    await host.send(json.dumps({"type": "heartbeatAck", "pad": "x" * 60000}))
    assert await host.nothing() == []
    await host.send(json.dumps({"type": "heartbeatAck", "pad": "x" * 70000}))
    assert (await host.closed()).code == 1009


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"rate_limit": 1.0, "rate_burst": 5}])
async def test_rate_limit_closes_1008_with_a_reason(connect: Connect, services: Services) -> None:
    host = await connect(f"?sessionKey={await new_session(services)}")
    for _ in range(10):
        await host.send('{"type":"heartbeatAck"}')
    closed = await host.closed()
    assert (closed.code, closed.reason) == (1008, "Rate limit exceeded")


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"rate_limit": 1.0, "rate_burst": 5}])
async def test_a_flood_is_counted_and_logged_once(
    connect: Connect, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    from videosync import metrics

    def rate_limited() -> float:
        value = metrics.REGISTRY.get_sample_value("videosync_ws_rejected_total", {"reason": "rate_limit"})
        return value or 0.0

    caplog.set_level(logging.INFO, logger="videosync.handlers.ws")
    before = rate_limited()
    host = await connect(f"?sessionKey={await new_session(services)}")
    await asyncio.gather(*(host.send('{"type":"heartbeatAck"}') for _ in range(300)), return_exceptions=True)
    assert (await host.closed()).code == 1008
    assert rate_limited() == before + 1
    assert len([r for r in caplog.records if "over the rate limit" in r.getMessage()]) == 1


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"allowed_origins": ("https://watch.example",)}])
async def test_origin_allow_list_applies_to_the_handshake(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    stranger = await connect(f"?sessionKey={key}", origin="https://evil.example", expect_init=False)
    closed = await stranger.closed()
    assert (closed.code, closed.reason) == (1008, "Origin not allowed")
    friend = await connect(f"?sessionKey={key}", origin="https://watch.example")
    assert friend.init["isHost"] is True
    no_origin = await connect(f"?sessionKey={key}")  # non-browser clients send none
    assert no_origin.init["type"] == "init"


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize(
    "overrides", [{"allowed_origins": ("https://watch.example",), "public_url": "https://party.example/"}]
)
async def test_the_servers_own_origin_passes_a_restricted_handshake(
    connect: Connect, services: Services, http_port: int
) -> None:
    key = await new_session(services)
    own_host = await connect(f"?sessionKey={key}", origin=f"http://127.0.0.1:{http_port}")  # Origin names Host
    assert own_host.init["type"] == "init"
    public = await connect(f"?sessionKey={key}", origin="https://party.example")  # behind a proxy
    assert public.init["type"] == "init"
    elsewhere = await connect(f"?sessionKey={key}", origin=f"http://127.0.0.2:{http_port}", expect_init=False)
    assert (await elsewhere.closed()).code == 1008


# -- bursts, ordering, slow consumers ------------------------------------------------------------


async def _burst(host: Client, count: int) -> None:
    for i in range(count):
        await host.send(json.dumps({"type": "stateUpdate", "state": {"paused": False, "currentTime": i}}))


async def _positions(client: Client, count: int, timeout: float = 60.0) -> list[float]:
    got: list[float] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(got) < count:
        message = await client.recv(max(0.01, deadline - loop.time()))
        if message["type"] == "stateUpdate":
            got.append(message["state"]["currentTime"])
    return got


@pytest.mark.slow
@pytest.mark.gen_test(timeout=120)
@pytest.mark.parametrize("overrides", [{"rate_limit": 10_000.0, "rate_burst": 10_000}])
async def test_1000_unpaced_updates_reach_50_participants_in_order(connect: Connect, services: Services) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    participants = [await connect(f"?sessionKey={key}") for _ in range(50)]
    receivers = [asyncio.ensure_future(_positions(c, 1000)) for c in [host, *participants]]
    await _burst(host, 1000)
    results = await asyncio.gather(*receivers)
    for positions in results:
        assert positions == list(range(1000))
    assert (await stored(services, key)).version == 1000


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("count", [1, 5, 10])
async def test_default_limits_survive_a_100_update_burst_in_order(
    connect: Connect, services: Services, http_client: Any, base_url: str, count: int
) -> None:
    """The burst that killed the Go server (concurrent writes to one socket): every member gets
    every update, in order, and keeps its connection; the server still answers."""
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    participants = [await connect(f"?sessionKey={key}") for _ in range(count)]
    receivers = [asyncio.ensure_future(_positions(c, 100)) for c in [host, *participants]]
    await _burst(host, 100)
    for positions in await asyncio.gather(*receivers):
        assert positions == list(range(100))  # the default burst allowance (200) admits all of them
    assert all(client.conn.close_code is None for client in [host, *participants])
    assert (await http_client.fetch(base_url + "/health")).code == 200


async def _raw_reader_that_never_reads(port: int, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET /ws?sessionKey={key} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("overrides", [{"send_queue_limit": 16, "rate_limit": 10_000.0, "rate_burst": 10_000}])
async def test_slow_consumer_is_dropped_while_others_keep_receiving(
    connect: Connect, services: Services, http_port: int
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    fast = await connect(f"?sessionKey={key}")
    _reader, writer = await _raw_reader_that_never_reads(http_port, key)
    await host.recv_type("memberJoined")  # the fast one
    slow_id = (await host.recv_type("memberJoined"))["member"]["id"]
    # Linux lets a loopback socket buffer megabytes; cap the server side's kernel buffer as a slow
    # link would, so the stall reaches the outbox after hundreds of updates instead of tens of thousands.
    import socket

    slow_peer: Any = services.hub.get(key).peers[slow_id]  # type: ignore[union-attr]
    slow_peer.ws_connection.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sent, left = 0, None
    receiver = asyncio.ensure_future(_collect_until_left(fast, slow_id))
    host_drain = asyncio.ensure_future(host.nothing(30))  # the host reads its own echoes
    while not receiver.done() and sent < 5_000:
        await host.send(json.dumps({"type": "stateUpdate", "state": {"currentTime": sent}}))
        sent += 1
        if sent % 50 == 0:
            await asyncio.sleep(0.01)
    positions, left = await receiver
    assert left == slow_id  # the stalled reader was dropped (and announced) ...
    positions += await _positions(fast, sent - len(positions))
    assert positions == list(range(sent))  # ... while the others got every update, in order
    assert services.hub.group_size(key) == 2
    host_drain.cancel()
    writer.close()


async def _collect_until_left(client: Client, member_id: str) -> tuple[list[float], str]:
    got: list[float] = []
    while True:
        message = await client.recv(30)
        if message["type"] == "stateUpdate":
            got.append(message["state"]["currentTime"])
        elif message["type"] == "memberLeft" and message["memberId"] == member_id:
            return got, member_id


async def _raw_socket(port: int, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-made WebSocket client, for frames no library would send; past the `init`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /ws?sessionKey={key} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    opcode, payload = await _read_frame(reader)
    assert opcode == 0x1 and json.loads(payload)["type"] == "init"
    return reader, writer


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    assert not second & 0x80, "server frames are never masked"
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(length)


async def _close_frame(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Skip data frames (presence news) up to the close frame; its code and reason."""
    while True:
        opcode, payload = await asyncio.wait_for(_read_frame(reader), 5)
        if opcode == 0x8:
            return int.from_bytes(payload[:2], "big"), payload[2:].decode()


def _masked(first: int, payload: bytes = b"", key: bytes = b"\x01\x02\x03\x04") -> bytes:
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([first, 0x80 | len(payload)]) + key + body


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        (bytes([0x81, 0x00]), 1002, "bad MASK"),  # an unmasked text frame: Go-A's golden case
        (_masked(0xC1), 1002, "RSV1 set"),  # no extension was negotiated
        (_masked(0x83), 1002, "bad opcode 3"),
        (bytes([0x83, 0x00]), 1002, "bad opcode 3, bad MASK"),  # every broken rule, in Go's order
        (_masked(0x09), 1002, "FIN not set on control"),  # a fragmented ping
        (_masked(0x80), 1002, "continuation after FIN"),  # nothing to continue
        (_masked(0x81, b'{"type":"\xff\xfe"}'), 1007, "invalid UTF-8"),
    ],
)
async def test_frames_breaking_rfc_6455_get_a_close_code_and_reason_then_the_tcp_close(
    connect: Connect, services: Services, http_port: int, frame: bytes, code: int, reason: str
) -> None:
    key = await new_session(services)
    host = await connect(f"?sessionKey={key}")
    reader, writer = await _raw_socket(http_port, key)
    await host.recv_type("memberJoined")
    writer.write(frame)
    assert await _close_frame(reader) == (code, reason)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and the server hung up
    writer.close()
    # everyone else carries on, and nothing the bad frame carried reached the session
    await host.recv_type("memberLeft")
    await host.send(json.dumps({"type": "stateUpdate", "state": {"currentTime": 7, "paused": True}}))
    assert (await host.recv_type("stateUpdate"))["state"]["currentTime"] == 7
    assert (await stored(services, key)).current_time == 7


@pytest.mark.gen_test
async def test_protocol_errors_are_counted_by_kind(connect: Connect, services: Services, http_port: int) -> None:
    from videosync import metrics

    def count(reason: str) -> float:
        value = metrics.REGISTRY.get_sample_value("videosync_ws_rejected_total", {"reason": reason})
        return value or 0.0

    before = count("protocol_error"), count("invalid_utf8")
    key = await new_session(services)
    for frame in (bytes([0x81, 0x00]), _masked(0x81, b"\xff")):
        reader, writer = await _raw_socket(http_port, key)
        writer.write(frame)
        await _close_frame(reader)
        writer.close()
    assert (count("protocol_error"), count("invalid_utf8")) == (before[0] + 1, before[1] + 1)


@pytest.mark.gen_test(timeout=30)
async def test_closed_sockets_and_ended_sessions_are_freed_without_the_cycle_collector(
    connect: Connect, services: Services
) -> None:
    """A closed socket's handler and heartbeat, and an ended session's room, go as soon as nothing
    uses them, by reference counting. They used to form cycles (socket, outbox and protocol; room
    and its parts) that only a full run of the cycle collector freed, which Python starts only after
    many new long-lived objects: a round of 2,000 sockets in 200 sessions left ~105,000 such objects,
    and 200 one-socket sessions a round grew the RSS by ~2.5 MiB a round
    (scripts/bench/bench_churn.py). Closed by the client, and by the server as the session ends."""
    import gc
    import weakref

    key = await new_session(services)
    clients = [await connect(f"?sessionKey={key}") for _ in range(3)]
    room = services.hub.get(key)
    assert room is not None
    held = [weakref.ref(room)]
    held += [weakref.ref(peer) for peer in room.peers.values()]
    held += [weakref.ref(peer.heartbeat) for peer in room.peers.values()]  # type: ignore[attr-defined]
    del room
    gc.collect()  # what earlier tests left, so that nothing below is freed by a collection
    gc.disable()
    try:
        await clients[0].close()
        await services.store.delete_session(key)
        for client in clients[1:]:
            assert (await client.closed()).code == 4004
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while alive := [ref() for ref in held if ref() is not None]:
            assert loop.time() < deadline, f"still held with the cycle collector off: {alive}"
            del alive
            await asyncio.sleep(0.02)
    finally:
        gc.enable()


@pytest.mark.gen_test(timeout=280)  # tracemalloc slows every allocation several-fold
async def test_nothing_is_kept_for_closed_sockets_and_ended_sessions(connect: Connect, services: Services) -> None:
    """Rounds of sockets opened and closed, and of sessions ended under their members: after the
    first rounds (caches, interned strings, metric children), what the server's own code holds
    does not grow with the rounds."""
    import gc
    import sys
    import tracemalloc

    hub = services.hub

    async def one_round() -> None:
        left = await new_session(services)
        clients = [await connect(f"?sessionKey={left}&name=N{i}") for i in range(8)]
        await clients[1].send({"type": "report", "rtt": 5, "drift": 1, "buffering": False})
        await asyncio.gather(*(c.close() for c in clients))
        ended = await new_session(services)
        members = [await connect(f"?sessionKey={ended}") for _ in range(4)]
        await services.store.delete_session(ended)
        for member in members:
            assert (await member.closed()).code == 4004
        await services.store.delete_session(left)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while hub.connections or hub.get(left) or hub.get(ended) or hub._tasks or hub.ctx.graces:
            assert loop.time() < deadline, (
                f"the rooms did not wind down: {hub.connections} sockets, tasks "
                f"{[t.get_name() for t in hub._tasks]}, graces {list(hub.ctx.graces)}"
            )
            await asyncio.sleep(0.02)

    def snapshot() -> tracemalloc.Snapshot:
        gc.collect()  # a room and its parts refer to each other: cycles, freed by the collector
        return ours(tracemalloc.take_snapshot())

    def ours(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
        # allocated by the server's own code (Tornado's close timers hold a closed socket for
        # 5 s by design; that is Tornado's, and it lets go)
        return snapshot.filter_traces((tracemalloc.Filter(True, "*/videosync/*"),))

    # Garbage that earlier tests left (their clients' tasks) is collected here, not measured, and
    # whatever it warns about on its way out is theirs, not this test's.
    hook, sys.unraisablehook = sys.unraisablehook, lambda _unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook
    tracemalloc.start(10)
    try:
        for _ in range(3):
            await one_round()
        before = snapshot()
        for _ in range(5):
            await one_round()
        after = snapshot()
    finally:
        tracemalloc.stop()
    growth = after.compare_to(before, "traceback")
    kept = sum(stat.size_diff for stat in growth)
    worst = "\n".join(str(stat) for stat in growth[:5])
    # Anything kept per socket or per session grows by 60 sockets and 10 sessions over these rounds:
    # a closed socket's handler and outbox are kilobytes each, and even the smallest trace of an
    # ended session (the embedded store's expiry record of each of its keys, ~150 bytes apiece,
    # which is what 5-6 KB here used to be) adds more than 2 KB. What may differ between the
    # snapshots is the capacity of the hub's and the store's tables (sets and dicts sized by the
    # most sockets, tasks and keys held at once, the same every round): measured 0 or 512 bytes
    # (one resize of the hub's task set) over 5, 6, 7, 8 and 15 rounds alike.
    assert kept < 2_048, f"{kept} bytes kept after 5 rounds of 12 sockets and 2 sessions:\n{worst}"
