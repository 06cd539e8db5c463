"""Group playback over real rooms and both stores: who controls, and the buffering gate.

Fake sockets (the room tests' peers); one registry per "process", several on one store where the
test is about processes (the memory store's pub/sub is shared within one event loop, like Redis's).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_room import FakePeer, strictly_increasing_ms, until
from videosync.room import Rooms
from videosync.room.control_policy import ControlPolicy
from videosync.sessions import SessionService
from videosync.settings import Settings
from videosync.store import open_store

Processes = list[Rooms]
Scenario = Callable[[Callable[[], Rooms], SessionService, str], Awaitable[None]]


def run(scenario: Scenario, store_url: str, tmp_path: Path, **overrides: Any) -> None:
    settings = Settings(
        media_dir=str(tmp_path), web_dir=str(tmp_path),
        **{"presence_interval": 0.05, "host_grace": 0.05, "host_lease": 1.0, "play_lead_ms": 50, **overrides},
    )

    async def main() -> None:
        store = open_store(store_url)
        sessions = SessionService(store, settings.session_ttl)
        started: list[Rooms] = []

        def process() -> Rooms:
            rooms = Rooms(sessions, settings, clock=strictly_increasing_ms())
            started.append(rooms)
            return rooms

        key = (await sessions.create()).key
        try:
            await scenario(process, sessions, key)
        finally:
            for rooms in started:
                await rooms.shutdown(timeout=1)
            await store.close()

    asyncio.run(asyncio.wait_for(main(), 30))


async def join(rooms: Rooms, key: str, name: str = "") -> FakePeer:
    peer = FakePeer(key)
    await rooms.join(peer, name, None, None)
    return peer


async def send(rooms: Rooms, peer: FakePeer, message: dict[str, Any]) -> None:
    await rooms.handle(peer, json.dumps(message), 0.0)


def last_state(peer: FakePeer) -> dict[str, Any]:
    updates = peer.of_type("stateUpdate")
    return updates[-1]["state"] if updates else peer.outbox.messages[0]["state"]


# -- who controls ------------------------------------------------------------------------------------


def test_host_mode_refuses_others_and_everyone_mode_lets_a_participant_seek_for_all(
    store_url: str, tmp_path: Path
) -> None:
    async def scenario(process: Callable[[], Rooms], sessions: SessionService, key: str) -> None:
        rooms = process()
        host, guest = await join(rooms, key), await join(rooms, key)
        assert guest.outbox.messages[0]["control"] == {"mode": "host", "controllers": []}
        await send(rooms, guest, {"type": "stateUpdate", "state": {"currentTime": 9}})
        assert guest.of_type("error")[-1]["code"] == "not_host"
        await send(rooms, guest, {"type": "setControl", "mode": "everyone"})
        assert guest.of_type("error")[-1]["code"] == "not_host"  # only the host chooses

        await send(rooms, host, {"type": "setControl", "mode": "everyone"})
        await until(lambda: bool(guest.of_type("control")))
        assert guest.of_type("control")[-1] == {"type": "control", "mode": "everyone", "controllers": []}
        await send(rooms, guest, {"type": "stateUpdate", "state": {"currentTime": 42}})
        await until(lambda: bool(host.of_type("stateUpdate")))
        assert host.of_type("stateUpdate")[-1]["state"]["currentTime"] == 42
        assert host.of_type("stateUpdate")[-1]["by"] == guest.member_id
        assert (await sessions.state(key)).current_time == 42

    run(scenario, store_url, tmp_path)


def test_delegated_control_is_granted_and_revoked_by_the_host(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], _sessions: SessionService, key: str) -> None:
        rooms = process()
        host, trusted, other = await join(rooms, key), await join(rooms, key), await join(rooms, key)
        grant = {"type": "setControl", "mode": "delegated", "controllers": [trusted.member_id]}
        await send(rooms, host, grant)
        await until(lambda: bool(other.of_type("control")))
        await send(rooms, trusted, {"type": "stateUpdate", "state": {"currentTime": 5}})
        await send(rooms, other, {"type": "stateUpdate", "state": {"currentTime": 6}})
        assert other.of_type("error")[-1]["code"] == "not_host"
        assert not trusted.of_type("error")
        await until(lambda: last_state(other)["currentTime"] == 5)

        await send(rooms, host, {"type": "setControl", "controllers": []})
        await until(lambda: len(trusted.of_type("control")) == 2)
        assert trusted.of_type("control")[-1] == {"type": "control", "mode": "delegated", "controllers": []}
        await send(rooms, trusted, {"type": "stateUpdate", "state": {"currentTime": 7}})
        assert trusted.of_type("error")[-1]["code"] == "not_host"

    run(scenario, store_url, tmp_path)


def test_a_bad_set_control_is_refused_and_changes_nothing(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], sessions: SessionService, key: str) -> None:
        rooms = process()
        host = await join(rooms, key)
        for bad in ({"mode": "anarchy"}, {"controllers": "x"}, {"controllers": ["a"] * 65}, {"controllers": [1]}):
            await send(rooms, host, {"type": "setControl", **bad})
            assert host.of_type("error")[-1]["code"] == "invalid_message"
        assert "control" not in json.loads(await sessions.store.get_meta(key) or "{}")

    run(scenario, store_url, tmp_path)


def test_the_mode_is_kept_in_the_meta_across_hand_off_processes_and_restart(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], sessions: SessionService, key: str) -> None:
        first, second = process(), process()
        host, guest = await join(first, key), await join(second, key)
        await send(first, host, {"type": "setControl", "mode": "delegated", "controllers": [guest.member_id]})
        await until(lambda: bool(guest.of_type("control")))  # carried to the other process
        meta = json.loads(await sessions.store.get_meta(key) or "{}")
        assert meta["control"] == {"mode": "delegated", "controllers": [guest.member_id]}
        assert {"hostToken", "createdAt"} <= meta.keys()  # the meta's own fields are kept

        await send(first, host, {"type": "transferHost", "memberId": guest.member_id})
        await until(lambda: guest.of_type("init")[-1]["isHost"] is True)
        assert guest.of_type("init")[-1]["control"]["mode"] == "delegated"

        restarted = process()  # a process that never heard the change reads it from the store
        late = await join(restarted, key)
        assert ControlPolicy.from_public(late.outbox.messages[0]["control"]).mode == "delegated"

    run(scenario, store_url, tmp_path)


# -- the buffering gate -----------------------------------------------------------------------------


async def playing_session(rooms: Rooms, key: str, *others: Rooms) -> tuple[FakePeer, list[FakePeer]]:
    """A host and one guest per process in `others` (or one on `rooms`), everyone ready, playing."""
    host = await join(rooms, key, "Host")
    guests = [await join(where, key, f"Guest{i}") for i, where in enumerate(others or (rooms,))]
    for peer, where in [(host, rooms), *zip(guests, others or (rooms,), strict=True)]:
        await send(where, peer, {"type": "report", "drift": 0, "buffering": False})
    await send(rooms, host, {"type": "stateUpdate", "state": {"paused": False}})
    await until(lambda: all(not last_state(g)["paused"] for g in guests))
    return host, guests


def waiting(peer: FakePeer) -> list[str]:
    return list(last_state(peer).get("waitingFor", []))


def test_a_stall_pauses_everyone_with_the_reason_and_all_resume_at_one_instant(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], sessions: SessionService, key: str) -> None:
        rooms = process()
        host, (guest,) = await playing_session(rooms, key)
        await send(rooms, guest, {"type": "report", "buffering": True})
        await until(lambda: last_state(host)["paused"] and last_state(guest)["paused"])
        assert waiting(host) == waiting(guest) == [guest.member_id]
        assert last_state(host)["resumeBy"] > last_state(host)["timestamp"]
        assert host.of_type("stateUpdate")[-1]["by"] is None  # the gate's, not a member's

        await send(rooms, guest, {"type": "report", "drift": 0, "buffering": False})
        await until(lambda: not last_state(host)["paused"] and not last_state(guest)["paused"])
        resumed = last_state(host)
        assert resumed == last_state(guest) and "waitingFor" not in resumed
        assert resumed["timestamp"] > host.of_type("stateUpdate")[-1]["timestamp"]  # scheduled ahead
        assert (await sessions.state(key)).waiting_for == ()

    run(scenario, store_url, tmp_path)


def test_at_the_deadline_the_others_go_on_without_the_laggard(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], _sessions: SessionService, key: str) -> None:
        rooms = process()
        host, (guest,) = await playing_session(rooms, key)
        await send(rooms, guest, {"type": "report", "buffering": True})
        await until(lambda: last_state(host)["paused"])
        paused_at = last_state(host)["resumeBy"]
        await until(lambda: not last_state(host)["paused"], timeout=3)
        assert last_state(host)["timestamp"] >= paused_at
        await send(rooms, guest, {"type": "report", "buffering": True})  # still catching up: no new wait
        await asyncio.sleep(0.2)  # a pause would arrive within milliseconds; none may come
        assert not last_state(host)["paused"]

    run(scenario, store_url, tmp_path, buffer_wait=0.4)


@pytest.mark.parametrize("release", ["opt_out", "leave", "play_anyway"])
def test_a_wait_is_released_by_opt_out_leave_or_play_anyway(release: str, store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], _sessions: SessionService, key: str) -> None:
        rooms = process()
        host, (guest,) = await playing_session(rooms, key)
        await send(rooms, guest, {"type": "report", "buffering": True})
        await until(lambda: last_state(host)["paused"])
        if release == "opt_out":
            await send(rooms, guest, {"type": "waitForMe", "wait": False})
        elif release == "leave":
            await rooms.leave(guest)
        else:
            await send(rooms, host, {"type": "stateUpdate", "state": {"paused": False}})
        await until(lambda: not last_state(host)["paused"] and not waiting(host))

    run(scenario, store_url, tmp_path)


def test_a_late_joiner_loading_or_catching_up_never_pauses_the_others(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], _sessions: SessionService, key: str) -> None:
        rooms = process()
        host, _ = await playing_session(rooms, key)
        late = await join(rooms, key, "Late")
        await send(rooms, late, {"type": "report", "buffering": True})
        await send(rooms, late, {"type": "report", "drift": None, "buffering": False})  # loaded, not playing
        await send(rooms, late, {"type": "report", "drift": -40_000, "buffering": False})  # far behind
        await send(rooms, late, {"type": "report", "drift": -40_000, "buffering": True})  # its catch-up seek
        await asyncio.sleep(0.2)  # a pause would arrive within milliseconds; none may come
        assert not last_state(host)["paused"]

    run(scenario, store_url, tmp_path)


def test_a_new_video_waits_until_every_player_reports_it_ready(store_url: str, tmp_path: Path) -> None:
    async def scenario(process: Callable[[], Rooms], _sessions: SessionService, key: str) -> None:
        rooms = process()
        host, (guest,) = await playing_session(rooms, key)
        await send(rooms, host, {"type": "stateUpdate", "state": {"video": "next", "paused": False}})
        await until(lambda: last_state(guest).get("video") == "next" and last_state(guest)["paused"])
        assert sorted(waiting(guest)) == sorted([host.member_id, guest.member_id])
        # a report about the old video does not count
        await send(rooms, guest, {"type": "report", "drift": 0, "buffering": False, "video": "old"})
        await send(rooms, host, {"type": "report", "drift": 0, "buffering": False, "video": "next"})
        await until(lambda: waiting(guest) == [guest.member_id])
        await send(rooms, guest, {"type": "report", "drift": 0, "buffering": False, "video": "next"})
        await until(lambda: not last_state(guest)["paused"])

    run(scenario, store_url, tmp_path)


def test_across_two_processes_a_remote_stall_pauses_and_the_deadline_survives_the_deciding_process(
    store_url: str, tmp_path: Path
) -> None:
    async def scenario(process: Callable[[], Rooms], sessions: SessionService, key: str) -> None:
        first, second = process(), process()
        host, (guest, bystander) = await playing_session(first, key, second, second)
        await send(second, guest, {"type": "report", "buffering": True})
        await until(lambda: last_state(host)["paused"] and last_state(bystander)["paused"])
        assert waiting(host) == [guest.member_id]
        await first.shutdown(timeout=1)  # the host's process goes away mid-wait
        await until(lambda: not last_state(bystander)["paused"], timeout=5)
        assert (await sessions.state(key)).waiting_for == ()

    run(scenario, store_url, tmp_path, buffer_wait=0.6)
