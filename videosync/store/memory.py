"""The embedded store: one process, nothing on disk, TTLs honoured like Redis's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .base import (
    SESSION_MARKER,
    Announcement,
    StateChanged,
    host_key,
    members_key,
    meta_key,
    session_key,
    state_key,
)


@dataclass
class _Entry:
    value: str | dict[str, str]
    expires_at: float | None


class MemoryStore:
    def __init__(self, url: str = "memory://", clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self._clock = clock
        self._data: dict[str, _Entry] = {}
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}

    # -- plumbing ---------------------------------------------------------
    def _get(self, name: str) -> _Entry | None:
        entry = self._data.get(name)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= self._clock():
            del self._data[name]
            return None
        return entry

    def _set(self, name: str, value: str | dict[str, str], ttl_s: float | None) -> None:
        expires = None if ttl_s is None else self._clock() + ttl_s
        self._data[name] = _Entry(value, expires)

    def _expire(self, name: str, ttl_s: float) -> None:
        entry = self._get(name)
        if entry is not None:
            entry.expires_at = self._clock() + ttl_s

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

    async def touch(self, key: str, ttl: int) -> bool:
        if self._get(session_key(key)) is None:
            return False
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key)):
            self._expire(name, ttl)
        return True

    async def delete_session(self, key: str) -> None:
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key), host_key(key)):
            self._data.pop(name, None)

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
        del self._data[host_key(key)]
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
            self._expire(members_key(key), ttl)

    async def remove_member(self, key: str, member_id: str) -> None:
        entry = self._get(members_key(key))
        if entry is not None and isinstance(entry.value, dict):
            entry.value.pop(member_id, None)
            if not entry.value:
                del self._data[members_key(key)]

    async def get_members(self, key: str) -> dict[str, str]:
        entry = self._get(members_key(key))
        return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- events ----------------------------------------------------------------------
    async def publish(self, channel: str, message: str) -> None:
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
