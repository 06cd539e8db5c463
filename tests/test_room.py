"""A `Room` with fake peers over the embedded store: joins, roles, commands, hand-off, the end.

No sockets: each peer's outbox records the messages it would have written, so every test reads as
"who was told what". The registry (`Rooms`) builds the rooms, as in the server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from videosync.closecodes import Close
from videosync.events import Event, EventKind
from videosync.presence import PROC_PREFIX, Member
from videosync.protocol import SetName
from videosync.room import Room, Rooms
from videosync.server_messages import (
    encode_host_changed,
    encode_member_joined,
    encode_member_left,
    encode_member_updated,
)
from videosync.sessions import SessionService, epoch_ms, short_key
from videosync.settings import Settings
from videosync.store import open_store


class FakeOutbox:
    """Frames are held until the init opens the outbox, as the real one does."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._held: list[bytes] = []
        self.opened = False
        self.closed = False
        self.writes = 0  # send() calls: one write each on a real socket

    @staticmethod
    def _decode(frame: bytes) -> list[dict[str, Any]]:
        out = []
        while frame:
            assert frame[0] == 0x81
            size, start = frame[1], 2
            if size == 126:
                size, start = int.from_bytes(frame[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(frame[2:10], "big"), 10
            out.append(json.loads(frame[start : start + size]))
            frame = frame[start + size :]
        return out

    def open_with(self, first: bytes) -> None:
        self.opened = True
        for frame in [first, *self._held]:
            self.messages += self._decode(frame)
        self._held.clear()

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        self.writes += 1
        if self.opened:
            self.messages += self._decode(frame)
        else:
            self._held.append(frame)

    def close_when_drained(self, callback: Callable[[], None]) -> None:
        self.closed = True
        callback()

    def close(self) -> None:
        self.closed = True


class FakePeer:
    def __init__(self, key: str, presence_batch: bool = False) -> None:
        self.key = key
        self.member_id = ""
        self.outbox: Any = FakeOutbox()
        self.presence_batch = presence_batch
        self.closed_with: tuple[int, str] | None = None

    def disconnect(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.outbox.messages if m["type"] == kind]


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """A deadline poll: return as soon as `condition()` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def strictly_increasing_ms() -> Callable[[], int]:
    """Epoch ms that never repeat: members joining in one millisecond still have an order."""
    last = 0

    def clock() -> int:
        nonlocal last
        last = max(epoch_ms(), last + 1)
        return last

    return clock


Scenario = Callable[[Rooms, SessionService, str], Awaitable[None]]


def run(scenario: Scenario, tmp_path: Path, **overrides: Any) -> None:
    settings = Settings(
        media_dir=str(tmp_path), web_dir=str(tmp_path),
        **{"presence_interval": 0.05, "host_grace": 0.05, "host_lease": 1.0, **overrides},
    )

    async def main() -> None:
        store = open_store("memory://")
        sessions = SessionService(store, settings.session_ttl)
        rooms = Rooms(sessions, settings, clock=strictly_increasing_ms())
        key = (await sessions.create()).key
        try:
            await scenario(rooms, sessions, key)
        finally:
            await rooms.shutdown(timeout=1)
            await store.close()

    asyncio.run(asyncio.wait_for(main(), 20))


async def join(
    rooms: Rooms, key: str, name: str = "", host_token: str | None = None, presence_batch: bool = False
) -> FakePeer:
    peer = FakePeer(key, presence_batch)
    await rooms.join(peer, name, host_token, None)
    return peer


def test_first_joiner_hosts_and_everyone_else_hears_of_each_join(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        ann = await join(rooms, key, "Ann")
        bob = await join(rooms, key, "Bob")
        assert ann.outbox.messages[0]["type"] == bob.outbox.messages[0]["type"] == "init"
        assert ann.outbox.messages[0]["isHost"] is True and bob.outbox.messages[0]["isHost"] is False
        assert [m["name"] for m in bob.outbox.messages[0]["members"]] == ["Ann", "Bob"]
        await until(lambda: len(ann.of_type("memberJoined")) == 1)
        assert ann.of_type("memberJoined")[0]["member"]["id"] == bob.member_id
        assert bob.member_id not in [m["member"]["id"] for m in bob.of_type("memberJoined")]  # nor its own
        assert rooms.group_size(key) == 2

    run(scenario, tmp_path)


def test_only_the_host_changes_playback_and_everyone_hears_it(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        host = await join(rooms, key)
        guest = await join(rooms, key)
        room = rooms.get(key)
        assert room is not None
        await room.handle(guest, '{"type":"stateUpdate","state":{"currentTime":9}}', 0.0)
        assert guest.of_type("error")[0]["code"] == "not_host"
        await room.handle(host, '{"type":"stateUpdate","state":{"currentTime":4}}', 0.0)
        await until(lambda: bool(guest.of_type("stateUpdate")) and bool(host.of_type("stateUpdate")))
        assert guest.of_type("stateUpdate")[0]["state"]["currentTime"] == 4
        assert (await sessions.state(key)).current_time == 4

    run(scenario, tmp_path)


def test_commands_are_looked_up_in_the_rooms_table(tmp_path: Path) -> None:
    seen: list[tuple[str, SetName]] = []

    async def record(room: Room, peer: Any, command: SetName, _received: float) -> None:
        seen.append((peer.member_id, command))

    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        rooms.ctx.commands = {**rooms.ctx.commands, SetName: record}
        peer = await join(rooms, key)
        room = rooms.get(key)
        assert room is not None
        await room.handle(peer, '{"type":"setName","name":"Zed"}', 0.0)
        assert seen == [(peer.member_id, SetName("Zed"))]
        assert peer.of_type("memberUpdated") == []  # the default handler did not run

    run(scenario, tmp_path)


def test_a_departed_host_is_announced_then_the_longest_present_member_promoted(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        host = await join(rooms, key)
        first = await join(rooms, key)
        second = await join(rooms, key)
        await rooms.leave(host)
        await until(lambda: len(second.of_type("hostChanged")) == 2)
        assert [(m["hostId"], m["reason"]) for m in second.of_type("hostChanged")] == [
            (None, "left"), (first.member_id, "promoted"),
        ]
        await until(lambda: len(first.of_type("init")) == 2)
        assert first.of_type("init")[1]["isHost"] is True
        assert await sessions.store.get_host(key) == first.member_id

    run(scenario, tmp_path)


def test_the_room_is_forgotten_with_its_last_member(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        peer = await join(rooms, key)
        room = rooms.get(key)
        assert room is not None and len(room.tasks) == 2
        tasks = list(room.tasks)
        await rooms.leave(peer)
        assert rooms.get(key) is None and rooms.connections == 0
        await until(lambda: all(t.done() for t in tasks))
        # the process's presence is cleaned up; the departed host's grace timer alone runs on
        await until(lambda: [t.get_name() for t in rooms._tasks] == [f"grace-{short_key(key)}"])
        assert await sessions.store.get_members(key) == {}

    run(scenario, tmp_path, host_grace=30.0)


def test_a_deleted_session_ends_every_member_with_4004(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        peers = [await join(rooms, key) for _ in range(3)]
        await sessions.store.delete_session(key)
        await until(lambda: all(p.closed_with is not None for p in peers))
        for peer in peers:
            assert peer.of_type("ended") == [{"type": "ended", "reason": "deleted"}]
            assert peer.closed_with == (Close.SESSION_ENDED, "Session ended")

    run(scenario, tmp_path)


@pytest.mark.parametrize("token_ok", [True, False])
def test_the_host_token_claims_the_role_from_a_sitting_host(tmp_path: Path, token_ok: bool) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, _key: str) -> None:
        created = await sessions.create()
        key = created.key
        sitting = await join(rooms, key)
        owner = await join(rooms, key, host_token=created.host_token if token_ok else "wrong")
        assert owner.outbox.messages[0]["isHost"] is token_ok
        if token_ok:
            await until(lambda: len(sitting.of_type("init")) == 2)
            assert sitting.of_type("init")[1]["isHost"] is False
            assert sitting.of_type("hostChanged")[-1] == {
                "type": "hostChanged", "hostId": owner.member_id, "reason": "claimed",
            }

    run(scenario, tmp_path)


def test_a_join_reads_the_session_meta_once(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        reads: list[str] = []
        read_meta = sessions.store.get_meta

        async def counted(name: str) -> str | None:
            reads.append(name)
            return await read_meta(name)

        sessions.store.get_meta = counted  # type: ignore[method-assign]
        peer = await join(rooms, key, host_token="not the token")
        assert peer.outbox.messages[0]["resumeToken"]  # the meta was read (it signs the token) ...
        assert reads == [key]  # ... once, for the resume token and the host token alike

    run(scenario, tmp_path)


def _joined(member_id: str, joined_at: int) -> Event:
    member = Member(member_id, f"M {member_id}", joined_at, "elsewhere")
    wire = encode_member_joined(member.public(None))
    return Event(EventKind.MEMBER_JOINED, {"skip": member_id, "member": member.to_store()}, wire)


def test_presence_news_of_one_tick_reaches_each_member_in_one_write(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        old = await join(rooms, key)
        new = await join(rooms, key, presence_batch=True)
        room = rooms.get(key)
        assert room is not None
        await until(lambda: bool(old.of_type("memberJoined")))  # the news of `new` is out
        await until(lambda: room.feed.quiet)  # a quiet spell: the next news goes out at once
        writes = old.outbox.writes, new.outbox.writes
        for i in range(20):  # a storm: twenty joins heard in one loop turn
            room.dispatch(_joined(f"m{i}", 1_000 + i))
        assert (old.outbox.writes - writes[0], new.outbox.writes - writes[1]) == (1, 1)  # the first
        await until(lambda: old.outbox.writes - writes[0] == 2)  # the other 19, one tick later
        assert new.outbox.writes - writes[1] == 2
        ids = [m["member"]["id"] for m in old.of_type("memberJoined")]
        assert ids[-20:] == [f"m{i}" for i in range(20)]  # old clients: every message, in order
        batches = new.of_type("presence")
        assert new.of_type("memberJoined") == []
        assert [m["id"] for b in batches[-2:] for m in b["joined"]] == [f"m{i}" for i in range(20)]
        assert all(b["updated"] == [] and b["left"] == [] for b in batches[-2:])
        assert len(room.roster) == 22  # the mirror has them all: the next init lists them

    # its remote members are made up (not in the store): no roster read may drop them meanwhile
    run(scenario, tmp_path, presence_interval=30)


def test_pending_presence_news_goes_out_before_any_other_message(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        peer = await join(rooms, key)
        room = rooms.get(key)
        assert room is not None
        room.dispatch(_joined("a", 1))
        room.dispatch(_joined("b", 2))  # within the tick: held back
        room.dispatch(Event(EventKind.MEMBER_LEFT, {"memberId": "b"}, encode_member_left("b")))
        room.fanout(encode_host_changed(None, "left"))
        kinds = [(m["type"], m.get("memberId") or m.get("member", {}).get("id")) for m in peer.outbox.messages]
        assert kinds[-4:] == [("memberJoined", "a"), ("memberJoined", "b"), ("memberLeft", "b"), ("hostChanged", None)]

    run(scenario, tmp_path)


def test_a_batch_nets_out_changes_per_member(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        peer = await join(rooms, key, presence_batch=True)
        room = rooms.get(key)
        assert room is not None
        room.dispatch(_joined("first", 1))  # after it, the rest of this turn's news waits for a tick
        room.dispatch(_joined("a", 2))
        updated = Member("a", "Renamed", 2, "elsewhere")
        room.dispatch(Event(EventKind.MEMBER_UPDATED, {"memberId": "a", "member": updated.to_store()},
                            encode_member_updated(updated.public(None))))
        room.dispatch(_joined("b", 3))
        room.dispatch(Event(EventKind.MEMBER_LEFT, {"memberId": "b"}, encode_member_left("b")))
        await until(lambda: any(b["left"] for b in peer.of_type("presence")))
        batch = peer.of_type("presence")[-1]
        # the batch may also name the receiver itself (its own join, an upsert of what init said)
        others = [(m["id"], m["name"]) for m in batch["joined"] if m["id"] not in ("first", peer.member_id)]
        assert others == [("a", "Renamed")]
        assert batch["updated"] == [] and batch["left"] == ["b"]

    # its remote members are made up (not in the store): no roster read may drop them meanwhile
    run(scenario, tmp_path, presence_interval=30)


def test_ticks_read_no_roster_while_every_process_is_heard(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        peers = [await join(rooms, key) for _ in range(5)]
        room = rooms.get(key)
        assert room is not None
        reads: list[str] = []
        read_members = sessions.store.get_members

        async def counted(name: str) -> dict[str, str]:
            reads.append(name)
            return await read_members(name)

        await until(lambda: rooms.proc_id in room.roster.heartbeats)  # a first tick
        sessions.store.get_members = counted  # type: ignore[method-assign]
        beats = room.roster.heartbeats[rooms.proc_id]
        await until(lambda: room.roster.heartbeats[rooms.proc_id] > beats + 150)  # three ticks or more
        assert reads == []
        assert all(p.closed_with is None for p in peers)

    run(scenario, tmp_path)


def test_members_of_a_process_gone_quiet_are_pruned_by_the_others(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        peer = await join(rooms, key)
        # a member of another process that crashed long ago: its heartbeat is old in the store
        ghost = Member("ghost", "Ghost", 1, "crashed")
        await sessions.store.put_member(key, "proc:crashed", json.dumps({"seen": 1}), 60)
        await sessions.store.put_member(key, "ghost", ghost.to_store(), 60)
        room = rooms.get(key)
        assert room is not None
        room.dispatch(_joined_member(ghost))
        await until(lambda: any(m["memberId"] == "ghost" for m in peer.of_type("memberLeft")))
        assert "ghost" not in room.roster
        assert "ghost" not in await sessions.store.get_members(key)

    run(scenario, tmp_path)


def _joined_member(member: Member) -> Event:
    wire = encode_member_joined(member.public(None))
    return Event(EventKind.MEMBER_JOINED, {"skip": member.id, "member": member.to_store()}, wire)


def test_a_remote_member_whose_leave_was_never_heard_is_dropped_by_the_periodic_roster_read(
    tmp_path: Path,
) -> None:
    async def scenario(rooms: Rooms, sessions: SessionService, key: str) -> None:
        peer = await join(rooms, key)
        room = rooms.get(key)
        assert room is not None
        store = sessions.store

        async def elsewhere_alive() -> None:  # the other process keeps beating
            while True:
                await store.put_member(key, PROC_PREFIX + "elsewhere", json.dumps({"seen": epoch_ms()}), 60)
                await asyncio.sleep(0.02)

        beating = asyncio.ensure_future(elsewhere_alive())
        try:
            stays = Member("stays", "Stays", 1, "elsewhere")
            await store.put_member(key, stays.id, stays.to_store(), 60)
            room.dispatch(_joined("stays", 1))
            room.dispatch(_joined("ghost", 2))  # its leave is lost: the store never had it
            await until(lambda: "ghost" in room.roster)
            await until(lambda: "ghost" not in room.roster, timeout=5)  # a full read: ~10 ticks
            assert "stays" in room.roster and peer.member_id in room.roster
            await until(lambda: any(m.get("memberId") == "ghost" for m in peer.of_type("memberLeft")))
            assert not any(m.get("memberId") == "stays" for m in peer.of_type("memberLeft"))
        finally:
            beating.cancel()

    run(scenario, tmp_path)
