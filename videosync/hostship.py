"""The host role as a lease: `session:{K}:host` holds the host's member id for a few seconds.

Go-A wrote `connected` there for 24 h and deleted it when its host socket ended; a crash left every
later connector a participant for a day (docs/go-protocol.md §2.8.2). Here the key is the same (a Go
instance's SETNX still contends for it) but it is a lease: the process that holds the host's socket
renews it every presence tick, only the holder releases it, and a crashed holder's lease lapses
within `host_lease` seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from .sessions import short_key
from .store import Store

log = logging.getLogger(__name__)


class HostReason(StrEnum):
    """Why the host role moved: the `reason` of a hostChanged message (PROTOCOL.md §2.1)."""

    CLAIMED = "claimed"
    PROMOTED = "promoted"
    TRANSFERRED = "transferred"
    LEFT = "left"  # the host's socket closed (not a member leaving: that is EventKind.MEMBER_LEFT)
    RECLAIMED = "reclaimed"


@dataclass(frozen=True)
class JoinRole:
    is_host: bool
    reason: HostReason | None  # a hostChanged reason to announce, or None
    previous: str | None  # the host this join displaced (claims only)


class Hostship:
    def __init__(self, store: Store, lease_s: float) -> None:
        self.store = store
        self.lease_ms = max(1, int(lease_s * 1000))

    async def on_join(self, key: str, member_id: str, has_token: bool, resumed: bool) -> JoinRole:
        """Decide a joiner's role: token claim, reclaim by resume, or first come (Go-A)."""
        if has_token:
            previous = await self.store.get_host(key)
            if previous == member_id:
                await self.store.renew_host(key, member_id, self.lease_ms)
                return JoinRole(True, HostReason.RECLAIMED, None)
            if await self.take(key, member_id, previous):
                log.info("session %s: host claimed with the host token", short_key(key))
                # announced only when it displaced someone; taking a free role is just joining
                return JoinRole(True, HostReason.CLAIMED if previous is not None else None, previous)
            return JoinRole(False, None, None)
        if resumed and await self.store.renew_host(key, member_id, self.lease_ms):
            return JoinRole(True, HostReason.RECLAIMED, None)
        if await self.store.acquire_host(key, member_id, self.lease_ms):
            return JoinRole(True, None, None)
        return JoinRole(False, None, None)

    async def take(self, key: str, member_id: str, previous: str | None) -> bool:
        """Move the lease from `previous` (whoever held it) to `member_id`."""
        if previous is not None:
            await self.store.release_host(key, previous)
        return await self.store.acquire_host(key, member_id, self.lease_ms)

    async def acquire(self, key: str, member_id: str) -> bool:
        return await self.store.acquire_host(key, member_id, self.lease_ms)

    async def renew(self, key: str, member_id: str) -> str | None:
        """Keep `member_id`'s lease; re-take it if it vanished. The holder afterwards."""
        if await self.store.renew_host(key, member_id, self.lease_ms):
            return member_id
        if await self.store.acquire_host(key, member_id, self.lease_ms):
            log.warning("session %s: host lease had vanished; re-taken", short_key(key))
            return member_id
        return await self.store.get_host(key)

    async def release(self, key: str, member_id: str) -> bool:
        return await self.store.release_host(key, member_id)

    async def holder(self, key: str) -> str | None:
        return await self.store.get_host(key)
