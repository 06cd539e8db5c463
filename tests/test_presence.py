"""Presence across processes: rosters split by heartbeat, host candidates, resume tokens, members;
and the session events that carry them between processes."""

from __future__ import annotations

import asyncio
import json

import pytest

from videosync.events import Event
from videosync.presence import (
    PROC_PREFIX,
    Member,
    Presence,
    host_candidate,
    member_from_resume,
    resume_token,
    split_roster,
)
from videosync.store.memory import MemoryStore


def test_event_round_trip_keeps_wire_text_verbatim() -> None:
    wire = '{"type":"stateUpdate","state":{"paused":true}}\n'
    event = Event("state", {"video": "a\nb"}, wire)
    assert Event.decode(event.encode()) == event
    assert Event.decode("garbage") is None


def _fields(now: int, members: list[Member], procs: dict[str, int]) -> dict[str, str]:
    fields = {m.id: m.to_store() for m in members}
    fields.update({PROC_PREFIX + p: json.dumps({"seen": seen}) for p, seen in procs.items()})
    return fields


def test_roster_splits_stale_processes_and_orders_by_join_time() -> None:
    a = Member("a", "A", joined_at=300, proc="p1")
    b = Member("b", "B", joined_at=100, proc="p2")  # its process stopped refreshing
    c = Member("c", "C", joined_at=200, proc="p1")
    roster = split_roster(_fields(10_000, [a, b, c], {"p1": 9_500, "p2": 1_000}), 10_000, 5_000)
    assert [m.id for m in roster.live] == ["c", "a"]
    assert [m.id for m in roster.stale] == ["b"]
    assert host_candidate(roster) == c
    assert host_candidate(roster, exclude="c") == a


def test_candidate_ties_break_by_id_deterministically() -> None:
    x = Member("x", "X", joined_at=100, proc="p")
    y = Member("y", "Y", joined_at=100, proc="p")
    r1 = split_roster(_fields(0, [y, x], {"p": 0}), 0, 5_000)
    r2 = split_roster(_fields(0, [x, y], {"p": 0}), 0, 5_000)
    assert host_candidate(r1) == host_candidate(r2) == x


def test_a_roster_reuses_members_whose_stored_text_is_unchanged_and_sees_every_change() -> None:
    a = Member("a", "A", joined_at=100, proc="p")
    b = Member("b", "B", joined_at=200, proc="p")
    parsed: dict[str, tuple[str, Member]] = {}
    first = split_roster(_fields(0, [a, b], {"p": 0}), 0, 5_000, parsed)
    assert [m.id for m in first.live] == ["a", "b"] and set(parsed) == {"a", "b"}
    kept = parsed["a"][1]
    renamed = Member("b", "Bee", joined_at=200, proc="p")
    second = split_roster(_fields(0, [a, renamed], {"p": 0}), 0, 5_000, parsed)
    assert second.get("a") is kept, "unchanged text: not parsed again"
    assert second.get("b") == renamed, "changed text: parsed again"
    third = split_roster(_fields(0, [renamed], {"p": 0}), 0, 5_000, parsed)
    assert [m.id for m in third.live] == ["b"] and set(parsed) == {"b"}, "members gone are forgotten"


def test_resume_token_is_bound_to_member_and_session_secret() -> None:
    token = resume_token("secret-1", "m1")
    assert member_from_resume("secret-1", token) == "m1"
    assert member_from_resume("secret-2", token) is None
    assert member_from_resume("secret-1", "m2." + token.split(".")[1]) is None
    assert member_from_resume("secret-1", "nodot") is None


def test_member_public_shape() -> None:
    member = Member("m1", "Ann", 5, "p", rtt=12.0, drift=None, buffering=True)
    assert member.public("m1") == {
        "id": "m1", "name": "Ann", "role": "host", "joinedAt": 5, "rtt": 12.0, "drift": None, "buffering": True,
    }
    assert member.public("other")["role"] == "participant"
    assert Member.from_store(member.to_store()) == member


@pytest.mark.parametrize("text", ["", "{}", "[1]", '{"id":"x"}'])
def test_member_from_bad_store_text(text: str) -> None:
    assert Member.from_store(text) is None


def test_a_join_storm_writes_the_process_heartbeat_once_a_second_and_a_new_room_at_once() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        now = [1_000_000]
        presence = Presence(store, ttl=60, proc_id="p1", stale_after_ms=10_000, clock=lambda: now[0])
        presence.track("k")

        async def seen() -> int:
            return int(json.loads((await store.get_members("k"))[PROC_PREFIX + "p1"])["seen"])

        await presence.heartbeat("k", unless_within_ms=1000)
        assert await seen() == 1_000_000
        now[0] += 999
        await presence.heartbeat("k", unless_within_ms=1000)
        assert await seen() == 1_000_000  # said 999 ms ago: not again
        now[0] += 1
        await presence.heartbeat("k", unless_within_ms=1000)
        assert await seen() == 1_001_000
        await presence.heartbeat("k")  # the ticker's: always
        presence.forget("k")  # the room closed (its entry may be gone): the next join writes it
        presence.track("k")
        await store.remove_member("k", PROC_PREFIX + "p1")
        now[0] += 10
        await presence.heartbeat("k", unless_within_ms=1000)
        assert await seen() == 1_001_010

    asyncio.run(scenario())
