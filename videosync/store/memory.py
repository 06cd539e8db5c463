"""The embedded store: one process, in memory, TTLs honoured like Redis's (expired keys swept)."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .base import (
    SESSION_MARKER,
    Announcement,
    StateChanged,
    chat_key,
    host_key,
    members_key,
    meta_key,
    moderation_key,
    session_key,
    state_key,
)


@dataclass(slots=True)
class _Entry:
    value: str | dict[str, str]
    expires_at: float | None
    # the deadline this key is filed under in the expiry heap (None: not filed); never later
    # than expires_at, so the sweep meets every key no later than when it expires
    filed_at: float | None = None


SWEEP_INTERVAL_S = 1.0
SWEEP_BATCH = 10_000  # keys freed per sweep step at most: a mass expiry never stalls the loop long


class MemoryStore:
    def __init__(
        self,
        url: str = "memory://",
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.url = url
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}
        # Expired keys are freed by a periodic sweep, not only when read (a session nobody opens
        # again would otherwise stay in memory for good). A heap of (deadline, name) makes each
        # sweep cost what it frees: a refresh that only extends a TTL (the hot path) leaves the
        # heap alone, and the sweep re-files such a key at its new deadline when it meets it.
        self._expiries: list[tuple[float, str]] = []
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.TimerHandle | None = None

    # -- plumbing ---------------------------------------------------------
    def _changed(self, name: str) -> None:
        """Called after every write, expiry refresh or deletion of `name` (persistence hooks in)."""

    def _get(self, name: str) -> _Entry | None:
        entry = self._data.get(name)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._data[name]
            self._changed(name)
            return None
        return entry

    def _set(self, name: str, value: str | dict[str, str], ttl_s: float | None) -> None:
        expires = None if ttl_s is None else self._clock() + ttl_s
        entry = self._data[name] = _Entry(value, expires)
        self._file(name, entry)
        self._changed(name)

    def _expire(self, name: str, ttl_s: float) -> None:
        entry = self._get(name)
        if entry is not None:
            entry.expires_at = self._clock() + ttl_s
            self._file(name, entry)
            self._changed(name)

    def _delete(self, name: str) -> None:
        if self._data.pop(name, None) is not None:
            self._changed(name)

    def _file(self, name: str, entry: _Entry) -> None:
        """Keep the key in the expiry heap at or before its deadline."""
        deadline = entry.expires_at
        if deadline is None or (entry.filed_at is not None and entry.filed_at <= deadline):
            return  # no expiry, or filed early enough: the sweep re-files it when it gets there
        entry.filed_at = deadline
        heapq.heappush(self._expiries, (deadline, name))
        if len(self._expiries) > 2 * len(self._data) + 1024:
            self._refile_all()  # deleted keys' leftovers outnumber the live ones
        if self._sweeper is None:
            self._start_sweeper()

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
                self._changed(name)
                freed += 1
            else:  # its TTL was refreshed since it was filed
                entry.filed_at = entry.expires_at
                heapq.heappush(heap, (entry.expires_at, name))
        return freed

    def key_count(self) -> int:
        """Keys held, expired or not (diagnostics and tests)."""
        return len(self._data)

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

    def _string(self, name: str) -> str | None:
        entry = self._get(name)
        return entry.value if entry is not None and isinstance(entry.value, str) else None

    def ttl(self, name: str) -> float | None:
        """Seconds left for a key (tests and diagnostics); None if absent or without expiry."""
        entry = self._get(name)
        if entry is None or entry.expires_at is None:
            return None
        return entry.expires_at - self._clock()

    # -- lifecycle ----------------------------------------------------------
    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._subscribers.clear()

    # -- sessions -------------------------------------------------------------
    async def create_session(self, key: str, state: str, meta: str, ttl: int) -> None:
        self._set(session_key(key), SESSION_MARKER, ttl)
        self._set(state_key(key), state, ttl)
        self._set(meta_key(key), meta, ttl)

    async def session_exists(self, key: str) -> bool:
        return self._get(session_key(key)) is not None

    async def get_state(self, key: str) -> str | None:
        return self._string(state_key(key))

    async def get_meta(self, key: str) -> str | None:
        return self._string(meta_key(key))

    async def set_state(
        self, key: str, state: str, ttl: int, announce: Announcement | None = None, expect: str | None = None
    ) -> bool:
        if self._get(session_key(key)) is None:
            return False
        if expect is not None and (self._string(state_key(key)) or "") != expect:
            raise StateChanged(key)
        await self.touch(key, ttl)
        self._set(state_key(key), state, ttl)
        if announce is not None:
            await self.publish(*announce)
        return True

    async def set_meta(self, key: str, meta: str, ttl: int) -> bool:
        if not await self.touch(key, ttl):
            return False
        self._set(meta_key(key), meta, ttl)
        return True

    def set_states(
        self, key: str, states: Sequence[tuple[str, Announcement]], ttl: int, expect: str
    ) -> Awaitable[bool]:
        # Done in this call, announcements included: nothing here waits, so nothing interleaves.
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if (self._string(state_key(key)) or "") != expect and self._get(session_key(key)) is not None:
            done.set_exception(StateChanged(key))
            return done
        written = self._touch_now(key, ttl)
        for text, (channel, message) in states if written else ():
            self._set(state_key(key), text, ttl)
            self._publish_now(channel, message)
        done.set_result(written)
        return done

    async def touch(self, key: str, ttl: int) -> bool:
        return self._touch_now(key, ttl)

    def _touch_now(self, key: str, ttl: int) -> bool:
        if self._get(session_key(key)) is None:
            return False
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key), chat_key(key),
                     moderation_key(key)):
            self._expire(name, ttl)
        return True

    async def delete_session(self, key: str) -> None:
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key), host_key(key),
                     chat_key(key), moderation_key(key)):
            self._delete(name)

    # -- host lease -------------------------------------------------------------
    async def acquire_host(self, key: str, holder: str, lease_ms: int) -> bool:
        if self._get(host_key(key)) is not None:
            return False
        self._set(host_key(key), holder, lease_ms / 1000)
        return True

    async def renew_host(self, key: str, holder: str, lease_ms: int) -> bool:
        if self._string(host_key(key)) != holder:
            return False
        self._expire(host_key(key), lease_ms / 1000)
        return True

    async def release_host(self, key: str, holder: str) -> bool:
        if self._string(host_key(key)) != holder:
            return False
        self._delete(host_key(key))
        return True

    async def get_host(self, key: str) -> str | None:
        return self._string(host_key(key))

    # -- presence ------------------------------------------------------------------
    async def put_member(self, key: str, member_id: str, data: str, ttl: int) -> None:
        entry = self._get(members_key(key))
        if entry is None or not isinstance(entry.value, dict):
            self._set(members_key(key), {member_id: data}, ttl)
        else:
            entry.value[member_id] = data
            self._expire(members_key(key), ttl)  # marks it changed too

    async def remove_member(self, key: str, member_id: str) -> None:
        entry = self._get(members_key(key))
        if entry is not None and isinstance(entry.value, dict):
            if entry.value.pop(member_id, None) is None:
                return
            if entry.value:
                self._changed(members_key(key))
            else:
                self._delete(members_key(key))

    async def get_members(self, key: str) -> dict[str, str]:
        entry = self._get(members_key(key))
        return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- chat history and moderation -------------------------------------------------------
    # The history is kept as a hash of sequence number -> message (insertion-ordered), the one
    # container the SQLite journal already writes; the sequence is the last one plus one.
    async def append_chat(self, key: str, message: str, limit: int, ttl: int) -> bool:
        if self._get(session_key(key)) is None:
            return False
        name = chat_key(key)
        entry = self._get(name)
        if entry is None or not isinstance(entry.value, dict):
            self._set(name, {"0": message}, ttl)
            return True
        history = entry.value
        history[str(int(next(reversed(history), "-1")) + 1)] = message
        while len(history) > limit:
            del history[next(iter(history))]
        self._expire(name, ttl)  # marks it changed too
        return True

    async def get_chat(self, key: str) -> list[str]:
        entry = self._get(chat_key(key))
        return list(entry.value.values()) if entry is not None and isinstance(entry.value, dict) else []

    async def set_moderation(self, key: str, field: str, value: str | None, ttl: int) -> bool:
        if self._get(session_key(key)) is None:
            return False
        name = moderation_key(key)
        entry = self._get(name)
        records = dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}
        if value is None:
            records.pop(field, None)
        else:
            records[field] = value
        if records:
            self._set(name, records, ttl)
        else:
            self._delete(name)
        return True

    async def get_moderation(self, key: str) -> dict[str, str]:
        entry = self._get(moderation_key(key))
        return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- events ----------------------------------------------------------------------
    async def publish(self, channel: str, message: str) -> None:
        self._publish_now(channel, message)

    def _publish_now(self, channel: str, message: str) -> None:
        for queue in self._subscribers.get(channel, ()):
            queue.put_nowait(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.setdefault(channel, set()).add(queue)

        async def messages() -> AsyncIterator[str]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[channel]
