"""One session's members on this process, and everything that happens to the session.

Every change goes through the store's pub/sub channel of the session, the publisher's own process
included, so one code path serves one process or many: a room acts on the events it hears
(`dispatch`), never on its own changes directly. Each event is encoded once by its publisher and
framed once per process (`outbox.text_frame`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, cast

from .. import metrics
from ..closecodes import SESSION_ENDED, Close
from ..events import Event, EventKind
from ..outbox import text_frame
from ..presence import Member
from ..protocol import UNAVAILABLE, ProtocolError, StateCommand, parse_command
from ..server_messages import encode_ended, encode_error
from ..sessions import SessionNotFound, StoredState, short_key
from ..store import StoreError
from .context import Peer, RoomContext, precise_ms
from .feature import F, Features
from .feed import PresenceFeed
from .membership import Membership
from .playback_writer import PlaybackWriter
from .roster import RosterMirror
from .succession import Succession
from .ticker import Ticker
from .updates import MemberUpdates

log = logging.getLogger(__name__)


def _holding(room: Room, task: asyncio.Task[Any]) -> None:
    """Nothing to do: as a task's done callback it holds `room` until the task is over (see
    `Room.close`). A callback rather than a wrapping coroutine: a task cancelled before its first
    step never runs its coroutine, and a wrapped one would be left unawaited."""


class Room:
    def __init__(self, key: str, ctx: RoomContext, on_empty: Callable[[Room], None]) -> None:
        self.key = key
        self.ctx = ctx
        self._on_empty = on_empty  # the registry forgets the room when its last local member leaves
        self.peers: dict[str, Peer] = {}
        self.members: dict[str, Member] = {}  # this process's members, as last published
        self.host_id: str | None = None
        self.video: str | None = None
        self.state: StoredState | None = None  # the latest state seen on the channel: updates start from it
        self.heard_version = -1  # the newest state whose announcement this room has fanned out
        self._hearing: list[tuple[int, asyncio.Future[None]]] = []  # `heard` callers
        self.ended = False
        self.closed = False  # forgotten by the registry: its tasks stop even if a cancel was lost
        self.ready = asyncio.Event()  # set once the room hears its channel
        self.tasks: list[asyncio.Task[Any]] = []
        self.meta_text: str | None = None  # the session's meta as the latest join read it
        self.roster = RosterMirror()  # every member of the session, kept from the channel
        self.seeded = False  # the roster has been read from the store once
        self._early: list[Event] | None = None  # presence events heard while it is being read
        self.feed = PresenceFeed(self)
        self.membership = Membership(self)
        self.host = Succession(self)
        self.updates = MemberUpdates(self)
        self.ticker = Ticker(self)
        self.playback = PlaybackWriter(self)
        # the process's features (room/feature.py), each with its own state in this room
        self.features = Features(self, ctx.features)

    def __len__(self) -> int:
        return len(self.peers)

    def feature(self, kind: type[F]) -> F | None:
        """This room's instance of a feature (None: the process runs without it)."""
        return self.features.get(kind)

    def close(self) -> None:
        """Stop the room's own tasks (its listener and ticker); the registry has forgotten it."""
        self.closed = True
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        self.features.on_close()
        self.updates.close()
        self.feed.close()
        self.roster.clear()
        self._let_go()

    def _let_go(self) -> None:
        """The room's parts refer to it weakly from now on: the room and its parts no longer form
        a cycle that only a full run of the cycle collector frees (~75 objects per ended session;
        Python starts one only after many new long-lived objects), and go by reference counting
        once nothing uses the room. What still does holds it: the frames of joins, leaves and
        commands in progress (through the registry, or a bound method of the room), and the room's
        tasks (`spawn`). Every part that refers back to the room is found, so a new part needs no
        entry here."""
        weak = cast(Room, weakref.proxy(self))
        for part in (*vars(self).values(), *self.features):
            if getattr(part, "room", None) is self:
                part.room = weak

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A task of this room's (the process tracks it, see RoomContext.spawn) that keeps the room
        alive while it runs, even once the room is closed and its parts refer to it weakly."""
        task = self.ctx.spawn(work, name)
        task.add_done_callback(functools.partial(_holding, self))
        return task

    async def seed(self) -> None:
        """Read the roster from the store once; events heard meanwhile are applied after it."""
        self._early = []
        try:
            self.roster.reconcile(await self.ctx.presence.roster(self.key))
            self.seeded = True
        finally:
            early, self._early = self._early, None
            for event in early:
                self.roster.track(event)

    async def publish(self, event: Event) -> None:
        await self.ctx.publish(self.key, event)

    # -- events from the channel ------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        kind, meta = event.kind, event.meta
        self.features.on_event(event)  # before the room acts on it
        if kind in (EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT, EventKind.MEMBER_UPDATED):
            self.roster.track(event)
            if self._early is not None:
                self._early.append(event)
            self.feed.add(event)
            return
        if kind == EventKind.BEAT:
            proc, seen = meta.get("proc"), meta.get("seen")
            if isinstance(proc, str) and isinstance(seen, int):
                self.roster.heard(proc, seen)
            return
        if kind == EventKind.ENDED:
            self._on_ended(event.wire)
            return
        if kind == EventKind.HOST:
            self.host.on_event(event)
        elif kind == EventKind.STATE:
            self.video = meta.get("video")
            if isinstance(meta.get("state"), str):
                seen = StoredState.parse(meta["state"])
                if self.state is None or seen.state.version >= self.state.state.version:
                    self.state = seen
                self.heard_version = max(self.heard_version, seen.state.version)
            if isinstance(meta.get("sent"), float):
                metrics.BROADCAST_SECONDS.observe(max(0.0, precise_ms() - meta["sent"]) / 1000.0)
        elif kind == EventKind.VACANT:
            self.spawn(self.host.promote(), f"promote-{short_key(self.key)}")
            return
        if event.wire:
            self.fanout(event.wire, skip=event.skip)
        if kind == EventKind.STATE and self._hearing:
            waiting, self._hearing = self._hearing, []
            for version, future in waiting:
                if version > self.heard_version:
                    self._hearing.append((version, future))
                elif not future.done():
                    future.set_result(None)

    async def heard(self, version: int, timeout: float) -> None:
        """Until the announcement of state `version` (or a later one) went out to this room's
        members; at most `timeout` (the channel may lose it)."""
        if version <= self.heard_version:
            return
        future = asyncio.get_running_loop().create_future()
        self._hearing.append((version, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._hearing = [(v, f) for v, f in self._hearing if f is not future]

    def fanout(self, wire: str, skip: str | None = None) -> None:
        self.feed.flush()  # presence news heard before this goes out before it
        frame = text_frame(wire.encode())
        metrics.MESSAGES_OUT.inc(len(self.peers) - (skip in self.peers))
        for member_id, peer in tuple(self.peers.items()):
            if member_id != skip:
                peer.outbox.send(frame)

    def send(self, peer: Peer, wire: str) -> None:
        metrics.MESSAGES_OUT.inc()
        peer.outbox.send(text_frame(wire.encode()))

    def _on_ended(self, wire: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.feed.flush()
        log.info("session %s ended under %d local members", short_key(self.key), len(self.peers))
        frame = text_frame(wire.encode())
        for peer in tuple(self.peers.values()):
            peer.outbox.send(frame)
            peer.outbox.close_when_drained(
                functools.partial(peer.disconnect, Close.SESSION_ENDED, SESSION_ENDED)
            )

    async def end(self, reason: str = "deleted") -> None:
        if self.ended:
            return
        event = Event(EventKind.ENDED, {"reason": reason}, encode_ended(reason))
        try:
            await self.publish(event)
        except StoreError:
            self._on_ended(event.wire)

    # -- joining and leaving (room/membership.py) ---------------------------------------------------
    async def join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        """Register `peer` in the session, decide its role, and send its `init` first."""
        return await self.membership.join(peer, name, host_token, resume)

    async def leave(self, peer: Peer) -> None:
        await self.membership.leave(peer)

    async def send_init(self, peer: Peer) -> None:
        await self.membership.send_init(peer)

    def forget(self) -> None:
        """Its last local member left: the registry forgets the room."""
        self._on_empty(self)

    # -- commands -------------------------------------------------------------------------------
    async def handle(self, peer: Peer, raw: str | bytes, received_ms: float) -> None:
        if self.ended or self.peers.get(peer.member_id) is not peer:
            return
        try:
            command = parse_command(raw)
            if not isinstance(command, StateCommand):
                # A playback change is only queued (room/playback_writer.py): what the peer sends
                # after it takes effect once it is written, as if the socket had waited.
                await self.playback.settled(peer)
            handler = self.ctx.commands.get(type(command))
            if handler is not None:
                await handler(self, peer, command, received_ms)
        except ProtocolError as exc:
            metrics.rejected(exc.code)
            await self.playback.settled(peer)  # after the replies to what it sent before
            self.send(peer, encode_error(exc.code, exc.message))
        except SessionNotFound:
            await self.end("deleted")
        except StoreError as exc:
            log.warning("session %s: command failed: %s", short_key(self.key), exc)
            self.send(peer, encode_error(UNAVAILABLE, "session store unavailable; try again"))
