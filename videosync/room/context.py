"""What every room of a process shares, what a room sees of a socket, and the events rooms publish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..events import Event, EventKind
from ..hostship import HostReason, Hostship
from ..outbox import Outbox
from ..presence import Presence
from ..server_messages import encode_host_changed, encode_member_left
from ..sessions import SessionService
from ..settings import Settings
from ..store.base import session_channel

if TYPE_CHECKING:
    from .feature import RoomFeature
    from .room import Room

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class Peer(Protocol):
    """A member's socket as a room sees it (the WebSocket handler implements it)."""

    key: str
    member_id: str
    outbox: Outbox
    presence_batch: bool  # the client asked for presence news as batched `presence` messages

    def disconnect(self, code: int, reason: str) -> None: ...


# A client command's handler: (room, sender, parsed command, server receive time in epoch ms).
CommandHandler = Callable[["Room", Peer, Any, float], Awaitable[None]]


@dataclass
class RoomContext:
    """The process-wide parts a room is built over: injected, so a room can be tested alone."""

    sessions: SessionService
    presence: Presence
    hostship: Hostship
    settings: Settings
    proc_id: str
    clock: Callable[[], int]
    commands: Mapping[type, CommandHandler]  # parsed command type -> handler (room/commands.py)
    spawn: Spawn  # runs a coroutine as a task the process keeps track of (and cancels at shutdown)
    # Store operations of joins and leaves in flight at once: a thousand sockets dropping together
    # must queue for the store, not open a thousand Redis connections.
    store_slots: asyncio.Semaphore
    # A departed host's grace timers, by (session key, member id): they outlive the room when the
    # host was its last local member, and a reconnect in a new room must still find them.
    graces: dict[tuple[str, str], asyncio.Task[None]] = field(default_factory=dict)
    closing: bool = False  # the process is shutting down: no promotions, no hand-offs
    # The features built on rooms (chat, moderation, control mode, the buffering gate), in the
    # order of their `init` fields: every new room makes its own instance of each (room/feature.py).
    features: Sequence[type[RoomFeature]] = ()

    async def publish(self, key: str, event: Event) -> None:
        await self.sessions.store.publish(session_channel(key), event.encode())


def precise_ms() -> float:
    return time.time() * 1000.0


def left_event(member_id: str) -> Event:
    return Event(EventKind.MEMBER_LEFT, {"memberId": member_id}, encode_member_left(member_id))


def host_event(
    host_id: str | None, reason: HostReason, previous: str | None = None, fresh: bool = False
) -> Event:
    """`fresh`: the new host's process sends it a new init; `previous` gets one with isHost false."""
    meta = {"hostId": host_id, "prev": previous, "reason": reason, "fresh": fresh}
    return Event(EventKind.HOST, meta, encode_host_changed(host_id, reason))
