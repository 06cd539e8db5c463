"""This process's rooms: the room map, each room's channel listener, the media-status relay, shutdown.

A room exists while it has a member on this process: it is made (and subscribed to its session's
channel) by its first local member's join and forgotten after its last leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from .. import metrics
from ..closecodes import SHUTTING_DOWN, Close
from ..events import Event, EventKind
from ..hostship import Hostship
from ..passwords import PasswordGuard
from ..presence import Presence, new_process_id
from ..server_messages import encode_media_status
from ..sessions import SessionService, epoch_ms, short_key
from ..settings import Settings
from ..store import StoreError
from ..store.base import consume, session_channel
from ..video import VideoNotFound
from .chat import ChatFeature
from .commands import command_table
from .context import Peer, RoomContext
from .control import Control
from .gate import Gate
from .moderation import Moderation
from .room import Room

log = logging.getLogger(__name__)

MEDIA_CHANNEL = "videosync:media"
# Joins and leaves in flight at once: a thousand sockets dropping together must queue for the
# store, not open a thousand Redis connections (redis-py: "Too many connections").
STORE_CONCURRENCY = 32
# Packaging statuses a member need not be told about on joining or on a video change: nothing is
# coming ("none": this process knows of no packaging of it).
SETTLED_MEDIA = ("ready", "none")

# The features every room has (room/feature.py), in the order of their fields in an `init`.
FEATURES = (ChatFeature, Moderation, Control, Gate)

MediaStatus = Callable[[str], Mapping[str, object]]  # a video id -> its `hls` status object
DefaultVideo = Callable[[], str | None]  # the id of the default video (None: there is none)


class Rooms:
    def __init__(
        self,
        sessions: SessionService,
        settings: Settings,
        clock: Callable[[], int] = epoch_ms,
        proc_id: str | None = None,
        media_status: MediaStatus | None = None,
        default_video: DefaultVideo | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.settings = settings
        self.proc_id = proc_id or new_process_id()
        # where the media-status relay learns a video's current status and the default video
        self.media_status = media_status
        self.default_video = default_video
        stale_ms = int(1000 * max(settings.host_lease, 3 * settings.presence_interval))
        self.presence = Presence(self.store, settings.session_ttl, self.proc_id, stale_ms, clock)
        self.hostship = Hostship(self.store, settings.host_lease)
        self.ctx = RoomContext(
            sessions=sessions,
            presence=self.presence,
            hostship=self.hostship,
            settings=settings,
            proc_id=self.proc_id,
            clock=clock,
            commands=command_table(),
            features=FEATURES,
            spawn=self.spawn,
            store_slots=asyncio.Semaphore(STORE_CONCURRENCY),
        )
        # session passwords: the scrypt pool and the guessing limits of this process
        self.passwords = PasswordGuard(
            settings.password_attempts, settings.password_session_attempts, settings.password_jobs
        )
        self._rooms: dict[str, Room] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._media_task: asyncio.Task[None] | None = None
        self.media_ready = asyncio.Event()  # set once media statuses are heard (after `start`)

    # -- bookkeeping ------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("room task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def closing(self) -> bool:
        return self.ctx.closing

    def get(self, key: str) -> Room | None:
        return self._rooms.get(key)

    def group_size(self, key: str) -> int:
        room = self._rooms.get(key)
        return len(room) if room else 0

    def has_members(self) -> bool:
        """Whether any session has a member on this process."""
        return bool(self._rooms)

    @property
    def connections(self) -> int:
        return sum(len(room) for room in self._rooms.values())

    async def room_for(self, key: str) -> Room:
        """The room of `key`, made and subscribed to its channel if this is its first local member."""
        room = self._rooms.get(key)
        if room is None:
            room = Room(key, self.ctx, self._forget)
            self._rooms[key] = room
            self.presence.track(key)
            metrics.SESSIONS_LOCAL.inc()
            room.tasks.append(room.spawn(self._listen(room), f"listen-{short_key(key)}"))
            room.tasks.append(room.spawn(room.ticker.run(), f"tick-{short_key(key)}"))
        await room.ready.wait()
        return room

    def _forget(self, room: Room) -> None:
        if self._rooms.get(room.key) is room:
            del self._rooms[room.key]
            self.presence.forget(room.key)
            metrics.SESSIONS_LOCAL.dec()
        room.close()
        if not room.ended and not self.closing:
            self.spawn(self._forget_process(room.key), "presence-cleanup")

    async def _forget_process(self, key: str) -> None:
        try:
            await self.presence.remove_process(key)
        except StoreError as exc:
            log.warning("session %s: presence cleanup failed: %s", short_key(key), exc)

    async def _listen(self, room: Room) -> None:
        async with self.store.subscribe(session_channel(room.key)) as messages:
            try:
                await room.seed()
            except StoreError as exc:  # the first tick that reads the roster seeds it instead
                log.warning("session %s: roster not read: %s", short_key(room.key), exc)
            room.ready.set()

            def heard(text: str) -> None:
                event = Event.decode(text)
                if event is not None:
                    before = room.video
                    room.dispatch(event)
                    if event.kind == EventKind.STATE and room.video != before and room.peers:
                        self._tell_media_status(room)

            # straight from the store's reader where it can (Redis): a loop turn sooner
            await consume(messages, heard)

    # -- what the WebSocket handler calls ----------------------------------------------------------
    async def join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        async with self.ctx.store_slots:
            room = await self.room_for(peer.key)
            member_id = await room.join(peer, name, host_token, resume)
        if room.peers.get(member_id) is peer:
            self._tell_media_status(room, peer)
        return member_id

    async def leave(self, peer: Peer) -> None:
        room = self._rooms.get(peer.key)
        if room is not None:
            await room.leave(peer)

    async def handle(self, peer: Peer, raw: str | bytes, received_ms: float) -> None:
        room = self._rooms.get(peer.key)
        if room is not None:
            await room.handle(peer, raw, received_ms)

    # -- media status (for the media packager) ------------------------------------------------------
    async def publish_media_status(self, video: str, status: dict[str, Any]) -> None:
        """Tell every member, in every process, watching `video` how its packaging is going."""
        event = Event(EventKind.MEDIA, {"video": video}, encode_media_status(video, status))
        await self.store.publish(MEDIA_CHANNEL, event.encode())

    def _default_video_id(self) -> str | None:
        try:
            return self.default_video() if self.default_video is not None else None
        except VideoNotFound:
            return None

    def _watched(self, room: Room, default: str | None) -> str | None:
        """The video `room`'s session is watching: a session with no video plays the default one."""
        return room.video if room.video is not None else default

    def _tell_media_status(self, room: Room, peer: Peer | None = None) -> None:
        """Send the packaging status of the room's video to `peer` (None: every local member)
        unless there is nothing to wait for, so a player that has just joined or switched video
        needs one GET and then only follows the pushed statuses."""
        if self.media_status is None:
            return
        video = self._watched(room, self._default_video_id() if room.video is None else None)
        if video is None:
            return
        status = dict(self.media_status(video))
        if status.get("status") in SETTLED_MEDIA:
            return
        wire = encode_media_status(video, status)
        if peer is None:
            room.fanout(wire)
        else:
            room.send(peer, wire)

    async def _listen_media(self) -> None:
        async with self.store.subscribe(MEDIA_CHANNEL) as messages:
            self.media_ready.set()
            async for text in messages:
                event = Event.decode(text)
                if event is None:
                    continue
                rooms = tuple(self._rooms.values())
                default = self._default_video_id() if any(r.video is None for r in rooms) else None
                for room in rooms:
                    if self._watched(room, default) == event.meta.get("video"):
                        room.fanout(event.wire)

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._media_task is None:
            self._media_task = self.spawn(self._listen_media(), "media-status")

    async def shutdown(self, timeout: float = 3.0) -> None:
        """Close every socket with 1001 (reconnect, maybe elsewhere) and stop every room's tasks."""
        self.ctx.closing = True
        peers = [p for room in self._rooms.values() for p in room.peers.values()]
        log.info("closing %d sockets", len(peers))
        for peer in peers:
            peer.outbox.close()
            peer.disconnect(Close.GOING_AWAY, SHUTTING_DOWN)
        if peers:
            await asyncio.wait([asyncio.ensure_future(self.leave(p)) for p in peers], timeout=timeout)
        for task in tuple(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(tuple(self._tasks), timeout=timeout)
        self.passwords.close()


Hub = Rooms  # the name the rest of the code knew it by
