"""Who is in a room on this process: joining (role, presence, the `init`) and leaving."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..events import Event, EventKind
from ..hostship import HostReason
from ..outbox import text_frame
from ..playback import for_joiner
from ..presence import Member, member_from_resume, new_member_id
from ..presence import resume_token as make_resume_token
from ..server_messages import encode_init, encode_member_joined
from ..sessions import SessionMeta, short_key
from ..store import StoreError
from .context import Peer, host_event, left_event, precise_ms

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

# A join says the process is alive (its members are judged by that entry) unless it did so this
# recently: far inside the staleness window, and a storm of joins writes the entry once a second.
JOIN_HEARTBEAT_MS = 1000


class Membership:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.ctx = room.ctx

    async def join(self, peer: Peer, name: str, host_token: str | None, resume: str | None) -> str:
        """Register `peer` in the session, decide its role, and send its `init` first."""
        room, ctx, key = self.room, self.ctx, self.room.key
        now = ctx.clock()
        # the meta text is kept for features that read their own fields of it (control mode)
        room.meta_text = await ctx.sessions.store.get_meta(key)
        meta = SessionMeta.decode(room.meta_text)
        member_id: str | None = None
        if resume and meta is not None:
            wanted = member_from_resume(meta.host_token, resume)
            # from the store, not the mirror: the old socket's leave may not have been heard yet
            if wanted and wanted not in room.peers and (await ctx.presence.roster(key)).get(wanted) is None:
                member_id = wanted
        resumed = member_id is not None
        member_id = member_id or new_member_id()
        room.host.cancel_grace(member_id)
        peer.member_id = member_id
        room.peers[member_id] = peer
        metrics.SOCKETS.inc()
        has_token = meta is not None and meta.accepts(host_token)  # the meta read above: one per join
        role = await ctx.hostship.on_join(key, member_id, has_token, resumed)
        host_id = member_id if role.is_host else await ctx.hostship.holder(key)
        room.host_id = host_id
        member = Member(member_id, name or f"Guest {member_id[:4]}", now, ctx.proc_id)
        room.members[member_id] = member
        await ctx.presence.heartbeat(key, unless_within_ms=JOIN_HEARTBEAT_MS)
        await ctx.presence.put(key, member)
        room.roster.put(member)
        joined = encode_member_joined(member.public(host_id))
        meta_out = {"skip": member_id, "member": member.to_store()}
        await room.publish(Event(EventKind.MEMBER_JOINED, meta_out, joined))
        if role.reason is not None:
            await room.publish(host_event(member_id, role.reason, previous=role.previous))
        await room.features.on_join(member_id)
        extensions = {
            "memberId": member_id,
            "resumeToken": make_resume_token(meta.host_token, member_id) if meta else None,
            "hostId": host_id,
            "members": room.roster.public(host_id, last=member_id),
        }
        await room.features.init_fields(member_id, extensions)  # chat history, lock, control mode...
        init = await self._init_text(role.is_host, extensions)
        if room.peers.get(member_id) is peer:
            peer.outbox.open_with(text_frame(init.encode()))
        log.info(
            "session %s: member %s joined as %s (%d local)", short_key(key), member_id,
            "host" if role.is_host else "participant", len(room.peers),
        )
        return member_id

    async def _init_text(self, is_host: bool, extensions: dict[str, Any]) -> str:
        room = self.room
        state = await self.ctx.sessions.state(room.key)
        if room.video is None:
            room.video = state.video
        now = self.ctx.clock()
        extensions["serverTime"] = precise_ms()
        return encode_init(is_host, for_joiner(state, now).encode(), now, extensions)

    async def send_init(self, peer: Peer) -> None:
        """A fresh init after a role change, so a Go-era client learns its new `isHost`.

        Whole, like a join's: a client takes an init as the session's full picture, so one without
        `locked` would show a locked session as open (chat lines it already has are de-duplicated
        by id)."""
        room = self.room
        try:
            host_id = room.host_id
            extensions = {
                "memberId": peer.member_id,
                "hostId": host_id,
                "members": room.roster.public(host_id),
            }
            await room.features.init_fields(peer.member_id, extensions)
            init = await self._init_text(host_id == peer.member_id, extensions)
        except StoreError as exc:
            log.warning("session %s: fresh init failed: %s", short_key(room.key), exc)
            return
        peer.outbox.send(text_frame(init.encode()))

    async def leave(self, peer: Peer) -> None:
        room = self.room
        member_id = peer.member_id
        if not member_id or room.peers.get(member_id) is not peer:
            return
        del room.peers[member_id]
        metrics.SOCKETS.dec()
        room.members.pop(member_id, None)
        room.updates.forget(member_id)
        peer.outbox.close()
        was_host = room.host_id == member_id
        if not room.peers:
            room.forget()
        if room.ended:
            return
        try:
            async with self.ctx.store_slots:
                await self.ctx.presence.remove(room.key, member_id)
                await room.publish(left_event(member_id))
                if was_host:
                    await room.publish(host_event(None, HostReason.LEFT))
        except StoreError as exc:
            log.warning("session %s: leave of %s not published: %s", short_key(room.key), member_id, exc)
        if was_host and not self.ctx.closing:
            room.host.start_grace(member_id)
        log.info("session %s: member %s left", short_key(room.key), member_id)
