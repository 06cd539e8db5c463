"""`memberUpdated` for a room's local members: at most one per member per second (PROTOCOL.md §2.1).

Reports and name changes alike. Throttled, not dropped: within the second the latest status is kept
and goes out when the second is over; a change of `buffering` goes out at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from .. import metrics
from ..events import Event, EventKind
from ..protocol import Report
from ..server_messages import encode_member_updated
from ..sessions import short_key
from ..store import StoreError

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 1.0


class MemberUpdates:
    def __init__(self, room: Room) -> None:
        self.room = room
        self.ctx = room.ctx
        self.reported: dict[str, float] = {}  # member id -> monotonic time of its last update
        self.deferred: set[str] = set()  # members with a throttled update pending

    def report(self, member_id: str, report: Report) -> None:
        metrics.client_report(report.rtt, report.drift)
        member = self.room.members[member_id]
        updated = member.with_report(report.rtt, report.drift, report.buffering)
        self.room.members[member_id] = updated
        self._changed(member_id, urgent=updated.buffering != member.buffering)

    def rename(self, member_id: str, name: str) -> None:
        members = self.room.members
        member = members[member_id]
        members[member_id] = member.renamed(name or member.name)
        self._changed(member_id)

    def _changed(self, member_id: str, urgent: bool = False) -> None:
        now = time.monotonic()
        wait = self.reported.get(member_id, -REPORT_INTERVAL_S) + REPORT_INTERVAL_S - now
        if wait <= 0 or urgent:
            self.reported[member_id] = now
            self.room.spawn(self.publish(member_id), "member-update")
        elif member_id not in self.deferred:
            # throttled, not dropped: the latest status goes out when the interval is over
            self.deferred.add(member_id)
            self.room.spawn(self._publish_later(member_id, wait), "member-update")

    def forget(self, member_id: str) -> None:
        self.reported.pop(member_id, None)

    def close(self) -> None:
        self.reported.clear()

    async def _publish_later(self, member_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.deferred.discard(member_id)
        self.reported[member_id] = time.monotonic()
        await self.publish(member_id)

    async def publish(self, member_id: str) -> None:
        room = self.room
        member = room.members.get(member_id)
        if member is None:
            return
        try:
            await self.ctx.presence.put(room.key, member)
            wire = encode_member_updated(member.public(room.host_id))
            meta = {"memberId": member_id, "member": member.to_store()}
            await room.publish(Event(EventKind.MEMBER_UPDATED, meta, wire))
        except StoreError as exc:
            log.warning("session %s: member update not published: %s", short_key(room.key), exc)
