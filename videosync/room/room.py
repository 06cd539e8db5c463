"""One session's members on this process, and everything that happens to the session.

Every change goes through the store's pub/sub channel of the session, the publisher's own process
included, so one code path serves one process or many: a room acts on the events it hears
(`dispatch`), never on its own changes directly. Each event is encoded once by its publisher and
framed once per process (`outbox.text_frame`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .. import metrics
from ..closecodes import SESSION_ENDED, Close
from ..events import Event, EventKind
from ..hostship import HostReason
from ..outbox import text_frame
from ..playback import for_joiner
from ..presence import Member, member_from_resume, new_member_id
from ..presence import resume_token as make_resume_token
from ..protocol import (
    UNAVAILABLE,
    ProtocolError,
    encode_ended,
    encode_error,
    encode_init,
    encode_member_joined,
    parse_command,
)
from ..sessions import SessionMeta, SessionNotFound, StoredState, short_key
from ..store import StoreError
from .context import Peer, RoomContext, host_event, left_event, precise_ms
from .feed import PresenceFeed
from .roster import RosterMirror, member_from_event
from .succession import Succession
from .ticker import Ticker
from .updates import MemberUpdates

log = logging.getLogger(__name__)


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
        self.ended = False
        self.ready = asyncio.Event()  # set once the room hears its channel
        self.tasks: list[asyncio.Task[Any]] = []
        # Per-room state of features built on rooms (chat history, control mode, a buffering
        # gate...), by feature name: it lives and dies with the room.
        self.extensions: dict[str, Any] = {}
        # Their hooks: every event heard (before the room acts on it), every joiner before its init
        # (by member id), extra init fields (by member id), and the room's close.
        self.listeners: list[Callable[[Event], None]] = []
        self.joining: list[Callable[[str], Awaitable[None]]] = []
        self.init_fields: list[Callable[[str], dict[str, Any]]] = []
        self.closers: list[Callable[[], None]] = []
        self.meta_text: str | None = None  # the session's meta as the latest join read it
        self.roster = RosterMirror()  # every member of the session, kept from the channel
        self.seeded = False  # the roster has been read from the store once
        self._early: list[Event] | None = None  # presence events heard while it is being read
        self.feed = PresenceFeed(self)
        self.host = Succession(self)
        self.updates = MemberUpdates(self)
        self.ticker = Ticker(self)
        for attach in ctx.features:
            attach(self)

    def __len__(self) -> int:
        return len(self.peers)

    def close(self) -> None:
        """Stop the room's own tasks (its listener and ticker); the registry has forgotten it."""
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
        for close in self.closers:
            close()
        self.updates.close()
        self.feed.close()
        self.roster.clear()

    async def seed(self) -> None:
        """Read the roster from the store once; events heard meanwhile are applied after it."""
        self._early = []
        try:
            self.roster.seed(await self.ctx.presence.roster(self.key))
            self.seeded = True
        finally:
            early, self._early = self._early, None
            for event in early:
                self._track(event)

    def _track(self, event: Event) -> None:
        if event.kind == EventKind.MEMBER_LEFT:
            self.roster.remove(str(event.meta.get("memberId")))
            return
        member = member_from_event(event.meta, event.wire)
        if member is not None:
            self.roster.put(member)

    async def publish(self, event: Event) -> None:
        await self.ctx.publish(self.key, event)

    # -- events from the channel ------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        kind, meta = event.kind, event.meta
        for listener in self.listeners:
            listener(event)
        if kind in (EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT, EventKind.MEMBER_UPDATED):
            self._track(event)
            if self._early is not None:
                self._early.append(event)
            self.feed.add(event)
            return
        if kind == EventKind.ENDED:
            self._on_ended(event.wire)
            return
        if kind == EventKind.HOST:
            self.host.on_event(meta)
        elif kind == EventKind.STATE:
            self.video = meta.get("video")
            if isinstance(meta.get("state"), str):
                seen = StoredState.parse(meta["state"])
                if self.state is None or seen.state.version >= self.state.state.version:
                    self.state = seen
            if isinstance(meta.get("sent"), float):
                metrics.BROADCAST_SECONDS.observe(max(0.0, precise_ms() - meta["sent"]) / 1000.0)
        elif kind == EventKind.VACANT:
            self.ctx.spawn(self.host.promote(), f"promote-{short_key(self.key)}")
            return
        if event.wire:
            self.fanout(event.wire, skip=meta.get("skip"))

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
                lambda p=peer: p.disconnect(Close.SESSION_ENDED, SESSION_ENDED)  # type: ignore[misc]
            )

    async def end(self, reason: str = "deleted") -> None:
        if self.ended:
            return
        event = Event(EventKind.ENDED, {"reason": reason}, encode_ended(reason))
        try:
            await self.publish(event)
        except StoreError:
            self._on_ended(event.wire)

    # -- joining and leaving ------------------------------------------------------------------
    async def join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        """Register `peer` in the session, decide its role, and send its `init` first."""
        ctx, key = self.ctx, self.key
        now = ctx.clock()
        # the meta text is kept for features that read their own fields of it (control mode)
        self.meta_text = await ctx.sessions.store.get_meta(key)
        meta = SessionMeta.from_json(self.meta_text)
        member_id: str | None = None
        if resume and meta is not None:
            wanted = member_from_resume(meta.host_token, resume)
            # from the store, not the mirror: the old socket's leave may not have been heard yet
            if wanted and wanted not in self.peers and (await ctx.presence.roster(key)).get(wanted) is None:
                member_id = wanted
        resumed = member_id is not None
        member_id = member_id or new_member_id()
        self.host.cancel_grace(member_id)
        peer.member_id = member_id
        self.peers[member_id] = peer
        metrics.SOCKETS.inc()
        has_token = meta is not None and meta.accepts(host_token)  # the meta read above: one per join
        role = await ctx.hostship.on_join(key, member_id, has_token, resumed)
        host_id = member_id if role.is_host else await ctx.hostship.holder(key)
        self.host_id = host_id
        member = Member(member_id, name or f"Guest {member_id[:4]}", now, ctx.proc_id)
        self.members[member_id] = member
        await ctx.presence.heartbeat(key)
        await ctx.presence.put(key, member)
        self.roster.put(member)
        joined = encode_member_joined(member.public(host_id))
        meta_out = {"skip": member_id, "member": member.to_store()}
        await self.publish(Event(EventKind.MEMBER_JOINED, meta_out, joined))
        if role.reason is not None:
            await self.publish(host_event(member_id, role.reason, previous=role.previous))
        for prepare in self.joining:
            await prepare(member_id)
        extensions = {
            "memberId": member_id,
            "resumeToken": make_resume_token(meta.host_token, member_id) if meta else None,
            "hostId": host_id,
            "members": self.roster.public(host_id, last=member_id),
        }
        for fields in self.init_fields:
            extensions.update(fields(member_id))
        init = await self._init_text(role.is_host, extensions)
        if self.peers.get(member_id) is peer:
            peer.outbox.open_with(text_frame(init.encode()))
        log.info(
            "session %s: member %s joined as %s (%d local)", short_key(key), member_id,
            "host" if role.is_host else "participant", len(self.peers),
        )
        return member_id

    async def _init_text(self, is_host: bool, extensions: dict[str, Any]) -> str:
        state = await self.ctx.sessions.state(self.key)
        if self.video is None:
            self.video = state.video
        now = self.ctx.clock()
        extensions["serverTime"] = precise_ms()
        return encode_init(is_host, for_joiner(state, now).to_json(), now, extensions)

    async def send_init(self, peer: Peer) -> None:
        """A fresh init after a role change, so a Go-era client learns its new `isHost`."""
        try:
            host_id = self.host_id
            extensions = {
                "memberId": peer.member_id,
                "hostId": host_id,
                "members": self.roster.public(host_id),
            }
            for fields in self.init_fields:
                extensions.update(fields(peer.member_id))
            init = await self._init_text(host_id == peer.member_id, extensions)
        except StoreError as exc:
            log.warning("session %s: fresh init failed: %s", short_key(self.key), exc)
            return
        peer.outbox.send(text_frame(init.encode()))

    async def leave(self, peer: Peer) -> None:
        member_id = peer.member_id
        if not member_id or self.peers.get(member_id) is not peer:
            return
        del self.peers[member_id]
        metrics.SOCKETS.dec()
        self.members.pop(member_id, None)
        self.updates.forget(member_id)
        peer.outbox.close()
        was_host = self.host_id == member_id
        if not self.peers:
            self._on_empty(self)
        if self.ended:
            return
        try:
            async with self.ctx.store_slots:
                await self.ctx.presence.remove(self.key, member_id)
                await self.publish(left_event(member_id))
                if was_host:
                    await self.publish(host_event(None, HostReason.LEFT))
        except StoreError as exc:
            log.warning("session %s: leave of %s not published: %s", short_key(self.key), member_id, exc)
        if was_host and not self.ctx.closing:
            self.host.start_grace(member_id)
        log.info("session %s: member %s left", short_key(self.key), member_id)

    # -- commands -------------------------------------------------------------------------------
    async def handle(self, peer: Peer, raw: str | bytes, received_ms: float) -> None:
        if self.ended or self.peers.get(peer.member_id) is not peer:
            return
        try:
            command = parse_command(raw)
            handler = self.ctx.commands.get(type(command))
            if handler is not None:
                await handler(self, peer, command, received_ms)
        except ProtocolError as exc:
            metrics.rejected(exc.code)
            self.send(peer, encode_error(exc.code, exc.message))
        except SessionNotFound:
            await self.end("deleted")
        except StoreError as exc:
            log.warning("session %s: command failed: %s", short_key(self.key), exc)
            self.send(peer, encode_error(UNAVAILABLE, "session store unavailable; try again"))
