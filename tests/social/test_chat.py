"""Chat over `/ws`, on both stores: who receives a line, what it looks like, what is refused, and
the history a late joiner or a reconnecting tab gets with its init."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.ws_fixtures import Connect
from videosync.app import Services
from videosync.store.base import chat_key


async def session(services: Services) -> str:
    return (await services.sessions.create()).key


@pytest.mark.gen_test(timeout=20)
async def test_a_line_reaches_everyone_with_sender_name_and_server_time(connect: Connect, services: Services) -> None:
    key = await session(services)
    alice = await connect(f"?sessionKey={key}&name=Alice")
    bob = await connect(f"?sessionKey={key}&name=Bob")
    await alice.send({"type": "chat", "text": "  hello <b>there</b>  "})
    for client in (alice, bob):
        line = await client.recv_type("chat")
        assert line["from"] == alice.member_id
        assert line["name"] == "Alice"
        assert line["text"] == "hello <b>there</b>"  # trimmed, otherwise as typed: the page renders text
        assert isinstance(line["id"], str) and line["id"]
        assert abs(line["at"] - alice.init["serverTime"]) < 10_000
    assert set(line) == {"type", "id", "from", "name", "text", "at"}


@pytest.mark.gen_test(timeout=20)
async def test_a_line_crosses_to_another_server_process(
    connect: Connect, services: Services, other_port: int
) -> None:
    key = await session(services)
    here = await connect(f"?sessionKey={key}&name=Here")
    there = await connect(f"?sessionKey={key}&name=There", port=other_port)
    await there.send({"type": "chat", "text": "from the other process"})
    line = await here.recv_type("chat")
    assert (line["from"], line["text"]) == (there.member_id, "from the other process")


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"chat_max_chars": 10}])
@pytest.mark.parametrize(
    "message, code",
    [({"type": "chat", "text": "x" * 11}, "invalid_message"),
     ({"type": "chat", "text": " \n\t "}, "invalid_message"),
     ({"type": "chat", "text": 5}, "invalid_message"),
     ({"type": "chat"}, "invalid_message")],
)
async def test_bad_lines_get_an_error_and_reach_nobody(
    connect: Connect, services: Services, message: dict[str, Any], code: str
) -> None:
    key = await session(services)
    alice = await connect(f"?sessionKey={key}")
    bob = await connect(f"?sessionKey={key}")
    await alice.send(message)
    error = await alice.recv_type("error")
    assert error["code"] == code
    assert [m for m in await bob.nothing(0.3) if m["type"] == "chat"] == []
    await alice.send({"type": "chat", "text": "x" * 10})  # at the cap: fine, and the socket lives on
    assert (await bob.recv_type("chat"))["text"] == "x" * 10


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"chat_rate": 0.01, "chat_burst": 3}])
async def test_over_the_chat_rate_a_sender_gets_rate_limited_and_stays(connect: Connect, services: Services) -> None:
    key = await session(services)
    alice = await connect(f"?sessionKey={key}")
    for i in range(4):
        await alice.send({"type": "chat", "text": f"line {i}"})
    # The refusal is answered at once; the lines come back through the store's channel, so with
    # Redis the error may overtake the last of them: read both, in whatever order they come.
    texts: list[str] = []
    errors: list[str] = []
    while len(texts) < 3 or not errors:
        message = await alice.recv()
        if message["type"] == "chat":
            texts.append(message["text"])
        elif message["type"] == "error":
            errors.append(message["code"])
    assert texts == ["line 0", "line 1", "line 2"]
    assert errors == ["rate_limited"]
    await alice.send({"type": "timeSync", "t0": 1})  # the socket is still open and answered
    assert (await alice.recv_type("timeSync"))["t0"] == 1


@pytest.mark.gen_test(timeout=20)
@pytest.mark.parametrize("overrides", [{"chat_history": 3}])
async def test_a_late_joiner_gets_the_last_lines_in_init(connect: Connect, services: Services) -> None:
    key = await session(services)
    alice = await connect(f"?sessionKey={key}&name=Alice")
    for i in range(5):
        await alice.send({"type": "chat", "text": f"line {i}"})
        await alice.recv_type("chat")
    late = await connect(f"?sessionKey={key}")
    assert [m["text"] for m in late.init["chat"]] == ["line 2", "line 3", "line 4"]
    assert all(m["type"] == "chat" and m["from"] == alice.member_id for m in late.init["chat"])
    # a reconnecting tab (its resume token) gets the same
    await alice.close()
    back = await connect(f"?sessionKey={key}&resume={alice.init['resumeToken']}")
    assert back.member_id == alice.member_id
    assert [m["text"] for m in back.init["chat"]] == ["line 2", "line 3", "line 4"]


@pytest.mark.gen_test(timeout=20)
async def test_a_fresh_session_has_an_empty_history_and_the_history_goes_with_the_session(
    connect: Connect, services: Services
) -> None:
    key = await session(services)
    alice = await connect(f"?sessionKey={key}")
    assert alice.init["chat"] == []
    await alice.send({"type": "chat", "text": "kept"})
    await alice.recv_type("chat")
    assert [json.loads(m)["text"] for m in await services.store.get_chat(key)] == ["kept"]
    await services.store.delete_session(key)
    assert await services.store.get_chat(key) == []
    assert not await services.store.append_chat(key, "{}", 10, 60)  # a gone session takes no lines
    assert chat_key(key) == f"session:{key}:chat"
