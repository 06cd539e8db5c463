"""Limits on creating sessions: a token bucket per client address, and a cap on live sessions.

Both answer before anything is stored. Time is passed in (a clock), so tests drive it.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from .ratelimit import TokenBucket

# Addresses remembered at most: past this the least recently seen one is forgotten (it starts
# afresh with a full burst). Enough that an attacker needs that many addresses to gain anything.
MAX_TRACKED_ADDRESSES = 100_000


def address_group(address: str) -> str:
    """The unit a limit applies to: an IPv4 address, or an IPv6 /64 (one subscriber's network:
    a single host there can take any of 2^64 addresses, so counting them one by one limits nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class AddressRateLimit:
    """`per_minute` sustained and `burst` at once, per client address group.

    A bucket idle long enough to have refilled is indistinguishable from a new one, so it is
    dropped: the table holds only addresses seen within the last refill time (burst / rate), and
    never more than `max_addresses` of them.
    """

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_TRACKED_ADDRESSES,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.refill_s = burst / self.rate
        self.retry_after_s = math.ceil(1.0 / self.rate)  # one token is earned within this
        self.max_addresses = max_addresses
        self._clock = clock
        # least recently used first: (last use, bucket)
        self._buckets: OrderedDict[str, tuple[float, TokenBucket]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str) -> int | None:
        """None if `address` may create a session now; else the seconds to wait (Retry-After)."""
        now = self._clock()
        self._evict_idle(now)
        group = address_group(address)
        entry = self._buckets.pop(group, None)
        bucket = entry[1] if entry is not None else TokenBucket(self.rate, self.burst, now)
        self._buckets[group] = (now, bucket)
        if len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        return None if bucket.take(now) else self.retry_after_s

    def _evict_idle(self, now: float) -> None:
        while self._buckets:
            last_use, _bucket = next(iter(self._buckets.values()))
            if now - last_use < self.refill_s:
                return
            self._buckets.popitem(last=False)


class SessionCap:
    """At most `limit` live sessions, as the embedded store counts them (`count`).

    Only for the embedded store: it holds every session of this process, created here or read back
    from its data dir, and counting them is a scan of its keys. So the store is asked only when it
    matters: the count starts as the store's, each session created adds one, and only once that
    reaches the limit is the store asked again (at most once per `recount_s`), which is when the
    sessions that have expired since stop counting. Nothing is kept per session.
    """

    def __init__(
        self,
        limit: int,
        count: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
        recount_s: float = 1.0,
    ) -> None:
        self.limit = limit
        self._count = count
        self._clock = clock
        self.recount_s = recount_s
        self._counted = count()  # live sessions at the last count, plus those created since
        self._recounted_at = clock()

    def __len__(self) -> int:
        return self._counted

    def has_room(self) -> bool:
        if self._counted < self.limit:
            return True
        now = self._clock()
        if now - self._recounted_at >= self.recount_s:
            self._recounted_at = now
            self._counted = self._count()
        return self._counted < self.limit

    def add(self) -> None:
        self._counted += 1
