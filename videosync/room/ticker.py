"""A room's presence tick: keeps the session alive and notices lapses, deletions and crashes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..events import Event, EventKind
from ..sessions import short_key
from ..store import StoreError
from .context import left_event

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

STORE_RETRY_S = 0.5
# Every this many ticks (30 s at the default 3 s interval) the roster is read even with every
# process heard: a leave lost on the channel (pub/sub keeps nothing while a subscriber is away)
# would otherwise leave its member in the mirror, and in every init, until the room closes.
FULL_READ_EVERY = 10


class Ticker:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.ctx = room.ctx
        self.store_failed_at = float("-inf")  # monotonic time of the last failed tick
        self.ticks = 0

    async def run(self) -> None:
        room, interval = self.room, self.ctx.settings.presence_interval
        await room.ready.wait()
        delay = interval
        # `closed` as well as the cancel: a tick cancelled inside a store call can have the
        # cancel swallowed on its way out (seen with redis-py), and would then tick on forever
        while not room.ended and not room.closed:
            await asyncio.sleep(delay)
            if room.closed:
                return
            try:
                await self.tick()
                delay = interval
            except StoreError as exc:
                first = delay == interval  # once per outage, not every retry
                log.log(logging.WARNING if first else logging.DEBUG,
                        "session %s: presence tick failed: %s", short_key(room.key), exc)
                self.store_failed_at = time.monotonic()
                # retry soon: the first tick after an outage re-takes a host lease that lapsed in it
                delay = min(interval, STORE_RETRY_S)

    async def tick(self) -> None:
        """Keep the session alive, renew our host's lease, notice lapses, deletions and crashes."""
        room, ctx = self.room, self.ctx
        if not await ctx.sessions.touch(room.key):
            await room.end("deleted")
            return
        now = ctx.clock()
        await ctx.presence.heartbeat(room.key)
        room.roster.heard(ctx.proc_id, now)
        await room.publish(Event(EventKind.BEAT, {"proc": ctx.proc_id, "seen": now}))
        holder = await room.host.keep()
        # After a store outage every process's heartbeat is old: judge nobody stale (nor promote
        # anyone) until the others have had a tick of their own to refresh theirs.
        settled = time.monotonic() - self.store_failed_at > 2 * ctx.settings.presence_interval
        # The roster is read only when it may hold news the channel cannot bring: a process gone
        # quiet (crashed, or one that sends no beats), a first read that failed, and every
        # FULL_READ_EVERY ticks for leaves the channel lost. Most ticks of a thousand-member
        # session are then a handful of constant-size store commands.
        self.ticks += 1
        quiet = settled and bool(room.roster.quiet_processes(now, ctx.presence.stale_after_ms))
        if not room.seeded or quiet or (settled and self.ticks % FULL_READ_EVERY == 0):
            read_from = room.roster.mark()
            roster = await ctx.presence.roster(room.key)
            room.roster.reconcile(roster)
            room.seeded = True
            for member in roster.stale if settled else ():
                await ctx.presence.remove(room.key, member.id)
                await room.publish(left_event(member.id))
            # our own members are known first-hand; a remote one missing from the store has left
            for member_id in room.roster.absent(roster, read_from) if settled else ():
                if member_id in room.peers:
                    continue
                log.info("session %s: member %s left unheard; dropping it", short_key(room.key), member_id)
                await room.publish(left_event(member_id))
        if holder is None and settled:
            await room.host.promote()
