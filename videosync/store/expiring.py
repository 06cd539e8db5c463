"""The embedded stores' key space: string and hash values with TTLs honoured like Redis's.

An expired key reads as absent at once and is freed by a periodic sweep, not only when read (a
session nobody opens again would otherwise stay in memory for good). A heap of (deadline, name)
makes each sweep cost what it frees: a refresh that only extends a TTL (the hot path) leaves the
heap alone, and the sweep re-files such a key at its new deadline when it meets it. Every change
is reported to `on_change(name)`, which is how the SQLite store journals them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from dataclasses import dataclass

SWEEP_INTERVAL_S = 1.0
SWEEP_BATCH = 10_000  # keys freed per sweep step at most: a mass expiry never stalls the loop long

Value = str | dict[str, str]


@dataclass(slots=True)
class Entry:
    value: Value
    expires_at: float | None
    # the deadline this key is filed under in the expiry heap (None: not filed); never later
    # than expires_at, so the sweep meets every key no later than when it expires
    filed_at: float | None = None


class ExpiringKeys:
    def __init__(self, clock: Callable[[], float], on_change: Callable[[str], None],
                 sweep_interval: float = SWEEP_INTERVAL_S) -> None:
        self._clock = clock
        self._on_change = on_change
        self._data: dict[str, Entry] = {}
        self._expiries: list[tuple[float, str]] = []
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.TimerHandle | None = None

    # -- reading and writing ----------------------------------------------------------------
    def get(self, name: str) -> Entry | None:
        entry = self._data.get(name)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._data[name]
            self._on_change(name)
            self._drop_leftovers()
            return None
        return entry

    def string(self, name: str) -> str | None:
        entry = self.get(name)
        return entry.value if entry is not None and isinstance(entry.value, str) else None

    def set(self, name: str, value: Value, ttl_s: float | None) -> None:
        expires = None if ttl_s is None else self._clock() + ttl_s
        # a rewritten key keeps its record in the expiry heap (the hot path: every state update)
        old = self._data.get(name)
        entry = self._data[name] = Entry(value, expires, old.filed_at if old is not None else None)
        self._file(name, entry)
        self._on_change(name)

    def expire(self, name: str, ttl_s: float) -> None:
        entry = self.get(name)
        if entry is not None:
            entry.expires_at = self._clock() + ttl_s
            self._file(name, entry)
            self._on_change(name)

    def delete(self, name: str) -> None:
        if self._data.pop(name, None) is not None:
            self._on_change(name)
            self._drop_leftovers()

    def load(self, name: str, value: Value, expires_at: float | None) -> None:
        """A key read back from disk: held and filed, but not reported as a change."""
        entry = self._data[name] = Entry(value, expires_at)
        self._file(name, entry)

    def peek(self, name: str) -> Entry | None:
        """The key as held, expired or not, reporting nothing (for the journal)."""
        return self._data.get(name)

    def count(self) -> int:
        """Keys held, expired or not (diagnostics and tests)."""
        return len(self._data)

    def live_names(self) -> list[str]:
        """The names of the keys held and not expired."""
        now = self._clock()
        return [name for name, entry in self._data.items()
                if entry.expires_at is None or entry.expires_at > now]

    def ttl(self, name: str) -> float | None:
        """Seconds left for a key; None if absent or without expiry."""
        entry = self.get(name)
        if entry is None or entry.expires_at is None:
            return None
        return entry.expires_at - self._clock()

    # -- expiry ---------------------------------------------------------------------------------
    @property
    def filed(self) -> int:
        """Deadlines in the expiry heap, including leftovers of keys deleted or refreshed since."""
        return len(self._expiries)

    @property
    def sweeping(self) -> bool:
        """Whether the periodic sweep is scheduled (it is not while nothing can expire)."""
        return self._sweeper is not None

    def _file(self, name: str, entry: Entry) -> None:
        """Keep the key in the expiry heap at or before its deadline."""
        deadline = entry.expires_at
        if deadline is None or (entry.filed_at is not None and entry.filed_at <= deadline):
            return  # no expiry, or filed early enough: the sweep re-files it when it gets there
        entry.filed_at = deadline
        heapq.heappush(self._expiries, (deadline, name))
        self._drop_leftovers()
        if self._sweeper is None:
            self._start_sweeper()

    def _drop_leftovers(self) -> None:
        """A deleted key's record stays in the heap (a heap cannot drop one cheaply); once they
        outnumber the live keys the heap is rebuilt from these. Each rebuild costs about what was
        deleted or re-filed since the last, and what deleted keys leave is bounded by what lives
        (not by what ever lived: a store emptied of its sessions holds nothing for them)."""
        if len(self._expiries) > 2 * len(self._data):
            self._refile_all()

    def _refile_all(self) -> None:
        self._expiries = []
        for name, entry in self._data.items():
            entry.filed_at = entry.expires_at
            if entry.expires_at is not None:
                self._expiries.append((entry.expires_at, name))
        heapq.heapify(self._expiries)

    def sweep(self, limit: int = SWEEP_BATCH) -> int:
        """Free keys whose TTL has run out, up to `limit` of them; how many were freed."""
        now = self._clock()
        freed = 0
        heap = self._expiries
        while heap and heap[0][0] <= now and freed < limit:
            filed_at, name = heapq.heappop(heap)
            entry = self._data.get(name)
            if entry is None or entry.filed_at != filed_at:
                continue  # deleted, or filed again under another deadline
            if entry.expires_at is None:
                entry.filed_at = None
            elif entry.expires_at <= now:
                del self._data[name]
                self._on_change(name)
                freed += 1
            else:  # its TTL was refreshed since it was filed
                entry.filed_at = entry.expires_at
                heapq.heappush(heap, (entry.expires_at, name))
        self._drop_leftovers()
        return freed

    def _start_sweeper(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # written outside a loop (tests, loading): the next write in one starts it
        self._sweeper = loop.call_later(self._sweep_interval, self._sweep_tick)

    def _sweep_tick(self) -> None:
        self._sweeper = None
        more = self.sweep() == SWEEP_BATCH
        if not self._expiries:
            return  # nothing can expire: no timer until something gets a TTL again
        loop = asyncio.get_running_loop()
        self._sweeper = loop.call_later(0 if more else self._sweep_interval, self._sweep_tick)

    def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
