"""The sockets of this process, grouped by session, and everything that happens to a session.

Every change goes through the store's pub/sub channel of the session, the publisher's own process
included, so one code path serves one process or many (PROTOCOL.md §2, DESIGN.md §5). A group
subscribes on its first local member and unsubscribes after its last; each event is encoded once
by its publisher and framed once per process (`outbox.text_frame`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import events, metrics
from .events import Event
from .hostship import LEFT, PROMOTED, TRANSFERRED, Hostship
from .iplimit import AddressLimit
from .outbox import Outbox, text_frame
from .playback import apply_command, for_joiner
from .presence import Member, Presence, host_candidate, member_from_resume, new_member_id, new_process_id
from .presence import resume_token as make_resume_token
from .protocol import (
    NOT_HOST,
    UNAVAILABLE,
    UNKNOWN_MEMBER,
    UNKNOWN_VIDEO,
    Command,
    Ignored,
    ProtocolError,
    Report,
    SetName,
    StateCommand,
    TimeSyncRequest,
    TransferHost,
    encode_ended,
    encode_error,
    encode_host_changed,
    encode_init,
    encode_media_status,
    encode_member_joined,
    encode_member_left,
    encode_member_updated,
    encode_state_update,
    encode_time_sync,
    parse_command,
)
from .sessions import SessionNotFound, SessionService, StoredState, epoch_ms, short_key
from .settings import Settings
from .state import PlaybackState
from .store import StoreError
from .store.base import session_channel

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_SESSION_ENDED = 4004

MEDIA_CHANNEL = "videosync:media"
REPORT_INTERVAL_S = 1.0
STORE_RETRY_S = 0.5
# Joins and leaves in flight at once: a thousand sockets dropping together must queue for the
# store, not open a thousand Redis connections (redis-py: "Too many connections").
STORE_CONCURRENCY = 32


class Peer(Protocol):
    """A member's socket as the hub sees it (the WebSocket handler implements it)."""

    key: str
    member_id: str
    outbox: Outbox

    def disconnect(self, code: int, reason: str) -> None: ...


@dataclass(eq=False)
class Group:
    """This process's members of one session."""

    key: str
    peers: dict[str, Peer] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)
    host_id: str | None = None
    video: str | None = None
    state: StoredState | None = None  # the latest state seen on the channel: updates start from it
    ended: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    reported: dict[str, float] = field(default_factory=dict)
    deferred: set[str] = field(default_factory=set)  # members with a throttled report pending
    store_failed_at: float = float("-inf")  # monotonic time of the last failed presence tick


def left_event(member_id: str) -> Event:
    return Event(events.LEFT, {"memberId": member_id}, encode_member_left(member_id))


def host_event(host_id: str | None, reason: str, previous: str | None = None, fresh: bool = False) -> Event:
    """`fresh`: the new host's process sends it a new init; `previous` gets one with isHost false."""
    meta = {"hostId": host_id, "prev": previous, "reason": reason, "fresh": fresh}
    return Event(events.HOST, meta, encode_host_changed(host_id, reason))


def precise_ms() -> float:
    return time.time() * 1000.0


class Hub:
    def __init__(
        self,
        sessions: SessionService,
        settings: Settings,
        clock: Callable[[], int] = epoch_ms,
        proc_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.settings = settings
        self.clock = clock
        self.proc_id = proc_id or new_process_id()
        stale_ms = int(1000 * max(settings.host_lease, 3 * settings.presence_interval))
        self.presence = Presence(self.store, settings.session_ttl, self.proc_id, stale_ms, clock)
        self.hostship = Hostship(self.store, settings.host_lease)
        self.per_address = AddressLimit(settings.max_connections_per_ip)  # sockets per client IP
        self._groups: dict[str, Group] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._grace: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._media_task: asyncio.Task[None] | None = None
        self._store_slots = asyncio.Semaphore(STORE_CONCURRENCY)
        self.closing = False

    # -- bookkeeping ------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("hub task %s failed", task.get_name(), exc_info=exc)

    def group_size(self, key: str) -> int:
        group = self._groups.get(key)
        return len(group.peers) if group else 0

    @property
    def connections(self) -> int:
        return sum(len(g.peers) for g in self._groups.values())

    async def _group(self, key: str) -> Group:
        group = self._groups.get(key)
        if group is None:
            group = Group(key)
            self._groups[key] = group
            self.presence.track(key)
            metrics.SESSIONS_LOCAL.inc()
            group.tasks.append(self.spawn(self._listen(group), f"listen-{short_key(key)}"))
            group.tasks.append(self.spawn(self._tick_loop(group), f"tick-{short_key(key)}"))
        await group.ready.wait()
        return group

    def _teardown(self, group: Group) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]
            self.presence.forget(group.key)
            metrics.SESSIONS_LOCAL.dec()
        for task in group.tasks:
            task.cancel()
        if not group.ended and not self.closing:
            self.spawn(self._forget_process(group.key))

    async def _forget_process(self, key: str) -> None:
        try:
            await self.presence.remove_process(key)
        except StoreError as exc:
            log.warning("session %s: presence cleanup failed: %s", short_key(key), exc)

    async def publish(self, key: str, event: Event) -> None:
        await self.store.publish(session_channel(key), event.encode())

    # -- events from the channel ------------------------------------------------------------
    async def _listen(self, group: Group) -> None:
        async with self.store.subscribe(session_channel(group.key)) as messages:
            group.ready.set()
            async for text in messages:
                event = Event.decode(text)
                if event is not None:
                    self._dispatch(group, event)

    def _dispatch(self, group: Group, event: Event) -> None:
        kind, meta = event.kind, event.meta
        if kind == events.ENDED:
            self._on_ended(group, event.wire)
            return
        if kind == events.HOST:
            self._on_host(group, meta)
        elif kind == events.STATE:
            group.video = meta.get("video")
            if isinstance(meta.get("state"), str):
                seen = StoredState.parse(meta["state"])
                if group.state is None or seen.state.version >= group.state.state.version:
                    group.state = seen
            if isinstance(meta.get("sent"), float):
                metrics.BROADCAST_SECONDS.observe(max(0.0, precise_ms() - meta["sent"]) / 1000.0)
        elif kind == events.VACANT:
            self.spawn(self._promote(group))
            return
        if event.wire:
            self.fanout(group, event.wire, skip=meta.get("skip"))

    def fanout(self, group: Group, wire: str, skip: str | None = None) -> None:
        frame = text_frame(wire.encode())
        metrics.MESSAGES_OUT.inc(len(group.peers) - (skip in group.peers))
        for member_id, peer in tuple(group.peers.items()):
            if member_id != skip:
                peer.outbox.send(frame)

    def _on_host(self, group: Group, meta: dict[str, Any]) -> None:
        new, previous = meta.get("hostId"), meta.get("prev")
        group.host_id = new
        if meta.get("fresh") and new in group.peers:
            self.spawn(self._send_init(group, group.peers[new]))
        if previous and previous != new and previous in group.peers:
            self.spawn(self._send_init(group, group.peers[previous]))

    def _on_ended(self, group: Group, wire: str) -> None:
        if group.ended:
            return
        group.ended = True
        log.info("session %s ended under %d local members", short_key(group.key), len(group.peers))
        frame = text_frame(wire.encode())
        for peer in tuple(group.peers.values()):
            peer.outbox.send(frame)
            peer.outbox.close_when_drained(
                lambda p=peer: p.disconnect(CLOSE_SESSION_ENDED, "Session ended")  # type: ignore[misc]
            )

    async def end_session(self, group: Group, reason: str = "deleted") -> None:
        if group.ended:
            return
        event = Event(events.ENDED, {"reason": reason}, encode_ended(reason))
        try:
            await self.publish(group.key, event)
        except StoreError:
            self._on_ended(group, event.wire)

    # -- joining and leaving ------------------------------------------------------------------
    async def join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        """Register `peer` in its session, decide its role, and send its `init` first."""
        async with self._store_slots:
            return await self._join(peer, name, host_token, resume)

    async def _join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        key = peer.key
        group = await self._group(key)
        now = self.clock()
        meta = await self.sessions.meta(key)
        roster = await self.presence.roster(key)
        member_id: str | None = None
        if resume and meta is not None:
            wanted = member_from_resume(meta.host_token, resume)
            if wanted and wanted not in group.peers and roster.get(wanted) is None:
                member_id = wanted
        resumed = member_id is not None
        member_id = member_id or new_member_id()
        grace = self._grace.pop((key, member_id), None)
        if grace is not None:
            grace.cancel()
        peer.member_id = member_id
        group.peers[member_id] = peer
        metrics.SOCKETS.inc()
        has_token = await self.sessions.check_host_token(key, host_token)
        role = await self.hostship.on_join(key, member_id, has_token, resumed)
        host_id = member_id if role.is_host else await self.hostship.holder(key)
        group.host_id = host_id
        member = Member(member_id, name or f"Guest {member_id[:4]}", now, self.proc_id)
        group.members[member_id] = member
        await self.presence.heartbeat(key)
        await self.presence.put(key, member)
        await self.publish(
            key, Event(events.JOINED, {"skip": member_id}, encode_member_joined(member.public(host_id)))
        )
        if role.reason is not None:
            await self.publish(key, host_event(member_id, role.reason, previous=role.previous))
        others = [m.public(host_id) for m in roster.live if m.id != member_id]
        extensions = {
            "memberId": member_id,
            "resumeToken": make_resume_token(meta.host_token, member_id) if meta else None,
            "hostId": host_id,
            "members": [*others, member.public(host_id)],
        }
        init = await self._init_text(group, role.is_host, extensions)
        if group.peers.get(member_id) is peer:
            peer.outbox.open_with(text_frame(init.encode()))
        log.info(
            "session %s: member %s joined as %s (%d local)", short_key(key), member_id,
            "host" if role.is_host else "participant", len(group.peers),
        )
        return member_id

    async def _init_text(self, group: Group, is_host: bool, extensions: dict[str, Any]) -> str:
        state = await self.sessions.state(group.key)
        if group.video is None:
            group.video = state.video
        now = self.clock()
        extensions["serverTime"] = precise_ms()
        return encode_init(is_host, for_joiner(state, now).to_json(), now, extensions)

    async def _send_init(self, group: Group, peer: Peer) -> None:
        """A fresh init after a role change, so a Go-era client learns its new `isHost`."""
        try:
            roster = await self.presence.roster(group.key)
            host_id = group.host_id
            extensions = {
                "memberId": peer.member_id,
                "hostId": host_id,
                "members": [m.public(host_id) for m in roster.live],
            }
            init = await self._init_text(group, host_id == peer.member_id, extensions)
        except StoreError as exc:
            log.warning("session %s: fresh init failed: %s", short_key(group.key), exc)
            return
        peer.outbox.send(text_frame(init.encode()))

    async def leave(self, peer: Peer) -> None:
        group = self._groups.get(peer.key)
        member_id = peer.member_id
        if group is None or not member_id or group.peers.get(member_id) is not peer:
            return
        del group.peers[member_id]
        metrics.SOCKETS.dec()
        group.members.pop(member_id, None)
        group.reported.pop(member_id, None)
        peer.outbox.close()
        was_host = group.host_id == member_id
        if not group.peers:
            self._teardown(group)
        if group.ended:
            return
        key = peer.key
        try:
            async with self._store_slots:
                await self._announce_leave(key, member_id, was_host)
        except StoreError as exc:
            log.warning("session %s: leave of %s not published: %s", short_key(key), member_id, exc)
        if was_host and not self.closing:
            self._grace[(key, member_id)] = self.spawn(self._host_grace(key, member_id))
        log.info("session %s: member %s left", short_key(key), member_id)

    async def _announce_leave(self, key: str, member_id: str, was_host: bool) -> None:
        await self.presence.remove(key, member_id)
        await self.publish(key, left_event(member_id))
        if was_host:
            await self.publish(key, host_event(None, LEFT))

    async def _host_grace(self, key: str, member_id: str) -> None:
        """Keep a departed host's lease for `host_grace` s (a reload reclaims it), then hand it on."""
        try:
            await asyncio.sleep(self.settings.host_grace)
            self._grace.pop((key, member_id), None)
            roster = await self.presence.roster(key)
            if roster.get(member_id) is not None:
                return  # reconnected through another process and reclaimed it
            await self.hostship.release(key, member_id)
            if await self.hostship.holder(key) is None:
                await self.publish(key, Event(events.VACANT, {}))
        except StoreError as exc:
            log.warning("session %s: host hand-off deferred to lease expiry: %s", short_key(key), exc)

    async def _promote(self, group: Group) -> None:
        """Make the longest-present live member host, if it is ours and the role is free."""
        if group.ended or self.closing:
            return
        try:
            if await self.hostship.holder(group.key) is not None:
                return
            candidate = host_candidate(await self.presence.roster(group.key))
            if candidate is None or candidate.id not in group.peers:
                return
            if await self.hostship.acquire(group.key, candidate.id):
                log.info("session %s: member %s promoted to host", short_key(group.key), candidate.id)
                await self.publish(group.key, host_event(candidate.id, PROMOTED, fresh=True))
        except StoreError as exc:
            log.warning("session %s: promotion deferred: %s", short_key(group.key), exc)

    # -- the presence tick ------------------------------------------------------------------------
    async def _tick_loop(self, group: Group) -> None:
        await group.ready.wait()
        delay = self.settings.presence_interval
        while not group.ended:
            await asyncio.sleep(delay)
            try:
                await self._tick(group)
                delay = self.settings.presence_interval
            except StoreError as exc:
                first = delay == self.settings.presence_interval  # once per outage, not every retry
                log.log(logging.WARNING if first else logging.DEBUG,
                        "session %s: presence tick failed: %s", short_key(group.key), exc)
                group.store_failed_at = time.monotonic()
                # retry soon: the first tick after an outage re-takes a host lease that lapsed in it
                delay = min(self.settings.presence_interval, STORE_RETRY_S)

    async def _tick(self, group: Group) -> None:
        """Keep the session alive, renew our host's lease, notice lapses, deletions and crashes."""
        key = group.key
        if not await self.sessions.touch(key):
            await self.end_session(group, "deleted")
            return
        await self.presence.heartbeat(key)
        local_host = group.host_id if group.host_id in group.peers else None
        if local_host is not None:
            holder = await self.hostship.renew(key, local_host)
        else:
            holder = await self.hostship.holder(key)
        if holder != group.host_id:
            previous, group.host_id = group.host_id, holder
            if previous is not None and previous in group.peers:
                log.info("session %s: %s lost the host lease to %s", short_key(key), previous, holder)
                await self._send_init(group, group.peers[previous])
        # After a store outage every process's heartbeat is old: judge nobody stale (nor promote
        # anyone) until the others have had a tick of their own to refresh theirs.
        settled = time.monotonic() - group.store_failed_at > 2 * self.settings.presence_interval
        roster = await self.presence.roster(key)
        for member in roster.stale if settled else ():
            await self.presence.remove(key, member.id)
            await self.publish(key, left_event(member.id))
        if holder is None and settled:
            await self._promote(group)

    # -- commands -------------------------------------------------------------------------------
    def send(self, peer: Peer, wire: str) -> None:
        metrics.MESSAGES_OUT.inc()
        peer.outbox.send(text_frame(wire.encode()))

    async def handle(self, peer: Peer, raw: str | bytes, received_ms: float) -> None:
        group = self._groups.get(peer.key)
        if group is None or group.ended or group.peers.get(peer.member_id) is not peer:
            return
        try:
            command = parse_command(raw)
            await self._execute(group, peer, command, received_ms)
        except ProtocolError as exc:
            metrics.rejected(exc.code)
            self.send(peer, encode_error(exc.code, exc.message))
        except SessionNotFound:
            await self.end_session(group, "deleted")
        except StoreError as exc:
            log.warning("session %s: command failed: %s", short_key(peer.key), exc)
            self.send(peer, encode_error(UNAVAILABLE, "session store unavailable; try again"))

    async def _execute(self, group: Group, peer: Peer, command: Command, received_ms: float) -> None:
        if isinstance(command, StateCommand):
            await self._apply_state(group, peer, command)
        elif isinstance(command, TimeSyncRequest):
            self.send(peer, encode_time_sync(command.t0, received_ms, precise_ms()))
        elif isinstance(command, Report):
            self._update_member(group, peer, command)
        elif isinstance(command, SetName):
            member = group.members[peer.member_id]
            group.members[peer.member_id] = Member(
                member.id, command.name or member.name, member.joined_at, member.proc,
                member.rtt, member.drift, member.buffering,
            )
            await self._publish_member(group, peer.member_id)
        elif isinstance(command, TransferHost):
            await self._transfer(group, peer, command.member_id)
        elif isinstance(command, Ignored):
            return

    async def _apply_state(self, group: Group, peer: Peer, command: StateCommand) -> None:
        if group.host_id != peer.member_id:
            raise ProtocolError(NOT_HOST, "only the host can change playback")
        if command.video is not None and not self.sessions.video_exists(command.video):
            raise ProtocolError(UNKNOWN_VIDEO, "no such video")
        now = self.clock()

        def change(current: PlaybackState) -> PlaybackState:
            return apply_command(current, command, now, self.settings.play_lead_ms)

        def announce(saved: StoredState) -> str:
            wire = encode_state_update(saved.text or "", now, peer.member_id)
            # "sent": for the broadcast latency metric; "state": every process's cached copy
            meta = {"video": saved.state.video, "sent": precise_ms(), "state": saved.text}
            return Event(events.STATE, meta, wire).encode()

        # From the cached state, not a read: the write is a compare-and-set that re-reads if the
        # cache was stale, so a host's update is one store round trip.
        group.state = await self.sessions.update_state(group.key, change, group.state, announce)

    def _update_member(self, group: Group, peer: Peer, report: Report) -> None:
        metrics.client_report(report.rtt, report.drift)
        member = group.members[peer.member_id]
        updated = member.with_report(report.rtt, report.drift, report.buffering)
        group.members[peer.member_id] = updated
        now = time.monotonic()
        wait = group.reported.get(peer.member_id, -REPORT_INTERVAL_S) + REPORT_INTERVAL_S - now
        if wait <= 0 or updated.buffering != member.buffering:
            group.reported[peer.member_id] = now
            self.spawn(self._publish_member(group, peer.member_id))
        elif peer.member_id not in group.deferred:
            # throttled, not dropped: the latest report goes out when the interval is over
            group.deferred.add(peer.member_id)
            self.spawn(self._publish_member_later(group, peer.member_id, wait))

    async def _publish_member_later(self, group: Group, member_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        group.deferred.discard(member_id)
        group.reported[member_id] = time.monotonic()
        await self._publish_member(group, member_id)

    async def _publish_member(self, group: Group, member_id: str) -> None:
        member = group.members.get(member_id)
        if member is None:
            return
        try:
            await self.presence.put(group.key, member)
            wire = encode_member_updated(member.public(group.host_id))
            await self.publish(group.key, Event(events.UPDATED, {"memberId": member_id}, wire))
        except StoreError as exc:
            log.warning("session %s: member update not published: %s", short_key(group.key), exc)

    async def _transfer(self, group: Group, peer: Peer, target: str) -> None:
        if group.host_id != peer.member_id:
            raise ProtocolError(NOT_HOST, "only the host can hand the role on")
        if target == peer.member_id:
            return
        if (await self.presence.roster(group.key)).get(target) is None:
            raise ProtocolError(UNKNOWN_MEMBER, "no such member in this session")
        if not await self.hostship.take(group.key, target, peer.member_id):
            raise ProtocolError(UNAVAILABLE, "the host role is being changed; try again")
        await self.publish(group.key, host_event(target, TRANSFERRED, previous=peer.member_id, fresh=True))

    # -- media status hook (for the media packager) -------------------------------------------------
    async def publish_media_status(self, video: str, status: dict[str, Any]) -> None:
        """Tell every member, in every process, watching `video` how its packaging is going."""
        event = Event(events.MEDIA, {"video": video}, encode_media_status(video, status))
        await self.store.publish(MEDIA_CHANNEL, event.encode())

    async def _listen_media(self) -> None:
        async with self.store.subscribe(MEDIA_CHANNEL) as messages:
            async for text in messages:
                event = Event.decode(text)
                if event is None:
                    continue
                for group in tuple(self._groups.values()):
                    if group.video == event.meta.get("video"):
                        self.fanout(group, event.wire)

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._media_task is None:
            self._media_task = self.spawn(self._listen_media(), "media-status")

    async def shutdown(self, timeout: float = 3.0) -> None:
        """Close every socket with 1001 (reconnect, maybe elsewhere) and stop the hub's tasks."""
        self.closing = True
        peers = [p for g in self._groups.values() for p in g.peers.values()]
        log.info("closing %d sockets", len(peers))
        for peer in peers:
            peer.outbox.close()
            peer.disconnect(CLOSE_GOING_AWAY, "server shutting down")
        if peers:
            await asyncio.wait([asyncio.ensure_future(self.leave(p)) for p in peers], timeout=timeout)
        for task in tuple(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(tuple(self._tasks), timeout=timeout)
