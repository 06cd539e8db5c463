"""The one way a feature (chat, moderation, control mode, the buffering gate, a poll...) attaches
to rooms: a `RoomFeature` subclass, listed once per process (`RoomContext.features`, filled in
`Rooms.__init__`), of which every room makes its own instance when it is made.

A feature overrides only the hooks it needs; the instance is the feature's per-room state and
lives and dies with the room:
  events + on_event   the channel events of those kinds, each before the room acts on it
  on_join             awaited for every joiner (by member id) before its `init` is built
  init_fields         its fields in every `init`: a joiner's, and the fresh one after a role change
  on_close            the room is forgotten (its last local member left, or the process stops)
Commands a feature adds go in the command table (`room.commands.command_table`); their handlers
find the room's instance with `Room.feature(TheFeature)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ..events import Event

if TYPE_CHECKING:
    from .room import Room

F = TypeVar("F", bound="RoomFeature")


class RoomFeature:
    name: ClassVar[str]  # unique among a process's features
    events: ClassVar[frozenset[str]] = frozenset()  # the event kinds `on_event` hears

    def __init__(self, room: Room) -> None:
        self.room = room

    def on_event(self, event: Event) -> None:
        """An event of one of `events`, heard on the session's channel (every process hears it)."""

    async def on_join(self, member_id: str) -> None:
        """A member joins through this process; its `init` goes out after every feature's."""

    async def init_fields(self, member_id: str) -> dict[str, Any]:
        """Fields for `member_id`'s `init` (the keys are on the wire: clients read them)."""
        return {}

    def on_close(self) -> None:
        """The room is closed: stop timers, let go of what the feature holds."""


def _overrides(feature: RoomFeature, hook: str) -> bool:
    return getattr(type(feature), hook) is not getattr(RoomFeature, hook)


class Features:
    """A room's instances of the process's features, and their hooks in the order listed (the
    order of the `init` fields on the wire)."""

    def __init__(self, room: Room, kinds: Iterable[type[RoomFeature]]) -> None:
        self._by_name: dict[str, RoomFeature] = {}
        # by event kind: the room's dispatch looks up only the hooks of the kind it heard
        self._on_event: dict[str, list[Callable[[Event], None]]] = {}
        self._on_join: list[Callable[[str], Awaitable[None]]] = []
        self._init_fields: list[Callable[[str], Awaitable[dict[str, Any]]]] = []
        self._on_close: list[Callable[[], None]] = []
        for kind in kinds:
            feature = kind(room)
            if feature.name in self._by_name:
                raise ValueError(f"two room features are named {feature.name!r}")
            if _overrides(feature, "on_event") != bool(feature.events):
                raise TypeError(f"room feature {feature.name!r}: on_event and events go together")
            self._by_name[feature.name] = feature
            for event_kind in feature.events:
                self._on_event.setdefault(event_kind, []).append(feature.on_event)
            if _overrides(feature, "on_join"):
                self._on_join.append(feature.on_join)
            if _overrides(feature, "init_fields"):
                self._init_fields.append(feature.init_fields)
            if _overrides(feature, "on_close"):
                self._on_close.append(feature.on_close)

    def get(self, kind: type[F]) -> F | None:
        found = self._by_name.get(kind.name)
        return found if isinstance(found, kind) else None

    def __iter__(self) -> Iterator[RoomFeature]:
        return iter(self._by_name.values())

    def on_event(self, event: Event) -> None:
        for hook in self._on_event.get(event.kind, ()):
            hook(event)

    async def on_join(self, member_id: str) -> None:
        for hook in self._on_join:
            await hook(member_id)

    async def init_fields(self, member_id: str, fields: dict[str, Any]) -> None:
        """Add every feature's fields for `member_id` to `fields`."""
        for hook in self._init_fields:
            fields.update(await hook(member_id))

    def on_close(self) -> None:
        for hook in self._on_close:
            hook()
