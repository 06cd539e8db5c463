"""Kick, ban and lock over `/ws`, on both stores: who may, what the removed socket sees, and who
may come back."""

from __future__ import annotations

import pytest

from tests.support.ws_fixtures import Connect
from videosync.app import Services


async def session(services: Services) -> tuple[str, str]:
    created = await services.sessions.create()
    return created.key, created.host_token


@pytest.mark.gen_test(timeout=20)
async def test_a_kicked_member_is_closed_4003_and_its_resume_token_no_longer_restores_it(
    connect: Connect, services: Services
) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    guest = await connect(f"?sessionKey={key}&name=Mallory")
    await host.send({"type": "kick", "memberId": guest.member_id})
    closed = await guest.closed()
    assert (closed.code, closed.reason) == (4003, "Removed by the host")
    kicked = await host.recv_type("kicked")
    assert kicked == {"type": "kicked", "memberId": guest.member_id, "ban": False}
    assert (await host.recv_type("memberLeft"))["memberId"] == guest.member_id
    again = await connect(f"?sessionKey={key}&resume={guest.init['resumeToken']}")
    assert again.member_id != guest.member_id  # a new member: not the one that was removed


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("message", [{"type": "ban"}, {"type": "kick", "ban": True}])
async def test_a_banned_tab_cannot_come_back(connect: Connect, services: Services, message: dict[str, object]) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    guest = await connect(f"?sessionKey={key}")
    await host.send({**message, "memberId": guest.member_id})
    closed = await guest.closed()
    assert (closed.code, closed.reason) == (4003, "Banned from this session")
    assert (await host.recv_type("kicked"))["ban"] is True
    refused = await connect(f"?sessionKey={key}&resume={guest.init['resumeToken']}", expect_init=False)
    closed = await refused.closed()
    assert (closed.code, closed.reason) == (4003, "Banned from this session")
    assert refused.raw == []  # nothing of the session was sent


@pytest.mark.gen_test(timeout=20)
async def test_a_kick_reaches_a_member_on_another_process(
    connect: Connect, services: Services, other_port: int
) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    guest = await connect(f"?sessionKey={key}", port=other_port)
    await host.recv_type("memberJoined")
    await host.send({"type": "kick", "memberId": guest.member_id})
    assert (await guest.closed()).code == 4003


@pytest.mark.gen_test(timeout=20)
async def test_only_the_host_moderates(connect: Connect, services: Services) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    guest = await connect(f"?sessionKey={key}")
    for message in ({"type": "kick", "memberId": host.member_id}, {"type": "lock", "locked": True}):
        await guest.send(message)
        assert (await guest.recv_type("error"))["code"] == "not_host"
    await host.send({"type": "kick", "memberId": host.member_id})
    assert (await host.recv_type("error"))["code"] == "invalid_message"
    await host.send({"type": "kick", "memberId": "nobody"})
    assert (await host.recv_type("error"))["code"] == "unknown_member"
    await host.send({"type": "lock", "locked": "yes"})
    assert (await host.recv_type("error"))["code"] == "invalid_message"
    assert await services.store.get_moderation(key) == {}


@pytest.mark.gen_test(timeout=20)
async def test_a_locked_room_refuses_new_members_but_not_its_host_nor_a_reconnect(
    connect: Connect, services: Services
) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    member = await connect(f"?sessionKey={key}")
    assert member.init["locked"] is False
    await host.send({"type": "lock", "locked": True})
    assert await member.recv_type("locked") == {"type": "locked", "locked": True, "by": host.member_id}
    stranger = await connect(f"?sessionKey={key}", expect_init=False)
    closed = await stranger.closed()
    assert (closed.code, closed.reason) == (4003, "Session is locked")
    assert stranger.raw == []  # nothing of the session was sent
    await member.close()
    back = await connect(f"?sessionKey={key}&resume={member.init['resumeToken']}")
    assert back.member_id == member.member_id and back.init["locked"] is True
    await host.close()
    host_again = await connect(f"?sessionKey={key}&hostToken={token}")
    assert host_again.init["isHost"] is True
    await host_again.send({"type": "lock", "locked": False})
    await host_again.recv_type("locked")
    assert (await connect(f"?sessionKey={key}")).init["locked"] is False


@pytest.mark.gen_test(timeout=20)
async def test_the_fresh_init_after_a_host_transfer_still_says_the_room_is_locked(
    connect: Connect, services: Services
) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    member = await connect(f"?sessionKey={key}")
    await member.send({"type": "chat", "text": "hello"})
    await host.recv_type("chat")
    await host.send({"type": "lock", "locked": True})
    await member.recv_type("locked")
    await host.send({"type": "transferHost", "memberId": member.member_id})
    fresh = await member.recv_type("init")
    assert fresh["isHost"] is True and fresh["locked"] is True
    assert [line["text"] for line in fresh["chat"]] == ["hello"]
    assert (await host.recv_type("init"))["locked"] is True


@pytest.mark.gen_test(timeout=20)
async def test_moderation_records_go_with_the_session(connect: Connect, services: Services) -> None:
    key, token = await session(services)
    host = await connect(f"?sessionKey={key}&hostToken={token}")
    await host.send({"type": "lock", "locked": True})
    await host.recv_type("locked")
    assert await services.store.get_moderation(key) == {"locked": "1"}
    await services.store.delete_session(key)
    assert await services.store.get_moderation(key) == {}
    assert not await services.store.set_moderation(key, "locked", "1", 60)
