"""Who hosts a room: role events, a departed host's grace, promotion, transfer, and the lease kept.

The lease itself (store key, renewal, release) is `hostship.Hostship`; this is what a room does with
it: it learns the holder from `hostChanged` events, keeps its own host's lease alive every tick,
holds a departed host's role for `host_grace` seconds (a reload reclaims it), then hands it on to
the longest-present live member.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..events import Event, EventKind
from ..hostship import HostReason
from ..presence import host_candidate
from ..protocol import NOT_HOST, UNAVAILABLE, UNKNOWN_MEMBER, ProtocolError
from ..sessions import short_key
from ..store import StoreError
from .context import Peer, host_event

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)


class Succession:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.ctx = room.ctx

    def on_event(self, event: Event) -> None:
        """A hostChanged on the channel: note the holder; fresh inits for the new and old host here."""
        room = self.room
        new, previous = event.host_id, event.prev
        room.host_id = new
        if event.fresh and new in room.peers:
            room.spawn(room.send_init(room.peers[new]), "init")
        if previous and previous != new and previous in room.peers:
            room.spawn(room.send_init(room.peers[previous]), "init")

    # -- a departed host's grace --------------------------------------------------------------
    def start_grace(self, member_id: str) -> None:
        key = self.room.key
        self.ctx.graces[(key, member_id)] = self.room.spawn(self._grace(member_id), f"grace-{short_key(key)}")

    def cancel_grace(self, member_id: str) -> None:
        grace = self.ctx.graces.pop((self.room.key, member_id), None)
        if grace is not None:
            grace.cancel()

    async def _grace(self, member_id: str) -> None:
        """Keep a departed host's lease for `host_grace` s (a reload reclaims it), then hand it on.

        Runs on after the room itself is gone when the host was its last local member."""
        key, ctx = self.room.key, self.ctx
        try:
            await asyncio.sleep(ctx.settings.host_grace)
            ctx.graces.pop((key, member_id), None)
            roster = await ctx.presence.roster(key)
            if roster.get(member_id) is not None:
                return  # reconnected through another process and reclaimed it
            await ctx.hostship.release(key, member_id)
            if await ctx.hostship.holder(key) is None:
                await ctx.publish(key, Event(EventKind.VACANT, {}))
        except StoreError as exc:
            log.warning("session %s: host hand-off deferred to lease expiry: %s", short_key(key), exc)

    # -- promotion and transfer -------------------------------------------------------------------
    async def promote(self) -> None:
        """Make the longest-present live member host, if it is ours and the role is free."""
        room, ctx = self.room, self.ctx
        if room.ended or ctx.closing:
            return
        try:
            if await ctx.hostship.holder(room.key) is not None:
                return
            candidate = host_candidate(await ctx.presence.roster(room.key))
            if candidate is None or candidate.id not in room.peers:
                return
            if await ctx.hostship.acquire(room.key, candidate.id):
                log.info("session %s: member %s promoted to host", short_key(room.key), candidate.id)
                await room.publish(host_event(candidate.id, HostReason.PROMOTED, fresh=True))
        except StoreError as exc:
            log.warning("session %s: promotion deferred: %s", short_key(room.key), exc)

    async def transfer(self, peer: Peer, target: str) -> None:
        room, ctx = self.room, self.ctx
        if room.host_id != peer.member_id:
            raise ProtocolError(NOT_HOST, "only the host can hand the role on")
        if target == peer.member_id:
            return
        if (await ctx.presence.roster(room.key)).get(target) is None:
            raise ProtocolError(UNKNOWN_MEMBER, "no such member in this session")
        if not await ctx.hostship.take(room.key, target, peer.member_id):
            raise ProtocolError(UNAVAILABLE, "the host role is being changed; try again")
        await room.publish(host_event(target, HostReason.TRANSFERRED, previous=peer.member_id, fresh=True))

    # -- every tick -------------------------------------------------------------------------------
    async def keep(self) -> str | None:
        """Renew our host's lease (or learn the holder); a local host that lost it gets a fresh init.
        The holder afterwards."""
        room, ctx = self.room, self.ctx
        local_host = room.host_id if room.host_id in room.peers else None
        if local_host is not None:
            holder = await ctx.hostship.renew(room.key, local_host)
        else:
            holder = await ctx.hostship.holder(room.key)
        if holder != room.host_id:
            previous, room.host_id = room.host_id, holder
            if previous is not None and previous in room.peers:
                log.info("session %s: %s lost the host lease to %s", short_key(room.key), previous, holder)
                await room.send_init(room.peers[previous])
        return holder
