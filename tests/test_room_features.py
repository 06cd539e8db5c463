"""A room feature (room/feature.py) as the next one would be written: listed once, made per room,
heard only on its hooks. A toy feature counts what it saw in a real `Rooms` over the memory store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.test_room import join, run, until
from videosync.events import Event, EventKind
from videosync.room import Room, Rooms
from videosync.room.feature import Features, RoomFeature
from videosync.room.registry import FEATURES
from videosync.sessions import SessionService


class Tally(RoomFeature):
    """Counts the chat lines a room heard, and tells joiners the count."""

    name = "tally"
    events = frozenset({EventKind.CHAT})
    rooms: ClassVar[list[Tally]] = []  # every instance made, in order

    def __init__(self, room: Room) -> None:
        super().__init__(room)
        self.lines = 0
        self.joined: list[str] = []
        self.closed = False
        Tally.rooms.append(self)

    def on_event(self, event: Event) -> None:
        self.lines += 1

    async def on_join(self, member_id: str) -> None:
        self.joined.append(member_id)

    async def init_fields(self, member_id: str) -> dict[str, Any]:
        return {"tally": {"lines": self.lines, "you": member_id}}

    def on_close(self) -> None:
        self.closed = True


def with_tally(rooms: Rooms) -> None:
    rooms.ctx.features = (*FEATURES, Tally)  # before the first room is made
    Tally.rooms.clear()


def test_a_feature_is_made_per_room_hears_its_events_and_adds_init_fields_after_the_others(
    tmp_path: Path,
) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        with_tally(rooms)
        ann = await join(rooms, key, "Ann")
        room = rooms.get(key)
        assert room is not None and len(Tally.rooms) == 1
        tally = room.feature(Tally)
        assert tally is Tally.rooms[0] and tally.joined == [ann.member_id]
        init = ann.of_type("init")[0]
        assert init["tally"] == {"lines": 0, "you": ann.member_id}
        # the process's features' fields in the order listed, serverTime last
        assert list(init)[-5:] == ["chat", "locked", "control", "tally", "serverTime"]

        await room.publish(Event(EventKind.CHAT, {}, '{"type":"chat","text":"hi"}'))
        await room.publish(Event(EventKind.LOCK, {"locked": True}, '{"type":"locked"}'))
        await until(lambda: len(ann.of_type("locked")) == 1)
        assert tally.lines == 1  # the chat line only: not its own join, nor the lock

        bob = await join(rooms, key, "Bob")
        assert bob.of_type("init")[0]["tally"] == {"lines": 1, "you": bob.member_id}
        assert len(Tally.rooms) == 1 and tally.joined == [ann.member_id, bob.member_id]

        await rooms.leave(ann)
        assert not tally.closed
        await rooms.leave(bob)
        assert tally.closed and rooms.get(key) is None

    run(scenario, tmp_path)


def test_a_room_without_a_feature_finds_none(tmp_path: Path) -> None:
    async def scenario(rooms: Rooms, _sessions: SessionService, key: str) -> None:
        await join(rooms, key)
        room = rooms.get(key)
        assert room is not None and room.feature(Tally) is None
        assert [f.name for f in room.features] == ["chat", "moderation", "control", "gate"]

    run(scenario, tmp_path)


class Deaf(RoomFeature):
    name = "deaf"

    def on_event(self, event: Event) -> None:
        raise AssertionError("never called: it names no event kinds")


class Twin(Tally):
    pass


@pytest.mark.parametrize(
    ("kinds", "error"),
    [((Deaf,), "on_event and events go together"), ((Tally, Twin), "two room features are named 'tally'")],
)
def test_a_mistaken_feature_is_refused_when_the_first_room_is_made(
    kinds: tuple[type[RoomFeature], ...], error: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        Features(object(), kinds)  # type: ignore[arg-type]
