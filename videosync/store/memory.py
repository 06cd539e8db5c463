"""The embedded store: one process, in memory, TTLs honoured like Redis's (expired keys swept).

The key space and its expiry are expiring.py's, pub/sub is channels.py's; this is the Store
contract over them, key by key as the Redis store lays them out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

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
from .channels import LocalChannels
from .expiring import SWEEP_BATCH, SWEEP_INTERVAL_S, ExpiringKeys


class MemoryStore:
    def __init__(
        self,
        url: str = "memory://",
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = SWEEP_INTERVAL_S,
    ) -> None:
        self.url = url
        self._clock = clock
        self.keys = ExpiringKeys(clock, self._changed, sweep_interval)
        self.channels = LocalChannels()

    def _changed(self, name: str) -> None:
        """Called after every write, expiry refresh or deletion of `name` (persistence hooks in)."""

    # -- diagnostics and tests ------------------------------------------------------------
    def sweep(self, limit: int = SWEEP_BATCH) -> int:
        """Free keys whose TTL has run out, up to `limit` of them; how many were freed."""
        return self.keys.sweep(limit)

    def session_keys(self) -> list[str]:
        """The key of every live session held: what this process created, or loaded from disk."""
        return [
            name.removeprefix("session:")
            for name in self.keys.live_names()
            if name.startswith("session:") and name.count(":") == 1
            and (entry := self.keys.peek(name)) is not None and entry.value == SESSION_MARKER
        ]

    def key_count(self) -> int:
        """Keys held, expired or not (diagnostics and tests)."""
        return self.keys.count()

    def ttl(self, name: str) -> float | None:
        """Seconds left for a key (tests and diagnostics); None if absent or without expiry."""
        return self.keys.ttl(name)

    # -- lifecycle ----------------------------------------------------------
    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self.keys.stop()
        self.channels.clear()

    # -- sessions -------------------------------------------------------------
    async def create_session(self, key: str, state: str, meta: str, ttl: int) -> None:
        self.keys.set(session_key(key), SESSION_MARKER, ttl)
        self.keys.set(state_key(key), state, ttl)
        self.keys.set(meta_key(key), meta, ttl)

    async def session_exists(self, key: str) -> bool:
        return self.keys.get(session_key(key)) is not None

    async def get_state(self, key: str) -> str | None:
        return self.keys.string(state_key(key))

    async def get_meta(self, key: str) -> str | None:
        return self.keys.string(meta_key(key))

    async def set_state(
        self, key: str, state: str, ttl: int, announce: Announcement | None = None, expect: str | None = None
    ) -> bool:
        if self.keys.get(session_key(key)) is None:
            return False
        if expect is not None and (self.keys.string(state_key(key)) or "") != expect:
            raise StateChanged(key)
        await self.touch(key, ttl)
        self.keys.set(state_key(key), state, ttl)
        if announce is not None:
            await self.publish(*announce)
        return True

    async def set_meta(self, key: str, meta: str, ttl: int) -> bool:
        if not await self.touch(key, ttl):
            return False
        self.keys.set(meta_key(key), meta, ttl)
        return True

    def set_states(
        self, key: str, states: Sequence[tuple[str, Announcement]], ttl: int, expect: str
    ) -> Awaitable[bool]:
        # Done in this call, announcements included: nothing here waits, so nothing interleaves.
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if (self.keys.string(state_key(key)) or "") != expect and self.keys.get(session_key(key)) is not None:
            done.set_exception(StateChanged(key))
            return done
        written = self._touch_now(key, ttl)
        for text, (channel, message) in states if written else ():
            self.keys.set(state_key(key), text, ttl)
            self.channels.publish(channel, message)
        done.set_result(written)
        return done

    async def touch(self, key: str, ttl: int) -> bool:
        return self._touch_now(key, ttl)

    def _touch_now(self, key: str, ttl: int) -> bool:
        if self.keys.get(session_key(key)) is None:
            return False
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key), chat_key(key),
                     moderation_key(key)):
            self.keys.expire(name, ttl)
        return True

    async def delete_session(self, key: str) -> None:
        for name in (session_key(key), state_key(key), meta_key(key), members_key(key), host_key(key),
                     chat_key(key), moderation_key(key)):
            self.keys.delete(name)

    # -- host lease -------------------------------------------------------------
    async def acquire_host(self, key: str, holder: str, lease_ms: int) -> bool:
        if self.keys.get(host_key(key)) is not None:
            return False
        self.keys.set(host_key(key), holder, lease_ms / 1000)
        return True

    async def renew_host(self, key: str, holder: str, lease_ms: int) -> bool:
        if self.keys.string(host_key(key)) != holder:
            return False
        self.keys.expire(host_key(key), lease_ms / 1000)
        return True

    async def release_host(self, key: str, holder: str) -> bool:
        if self.keys.string(host_key(key)) != holder:
            return False
        self.keys.delete(host_key(key))
        return True

    async def get_host(self, key: str) -> str | None:
        return self.keys.string(host_key(key))

    # -- presence ------------------------------------------------------------------
    async def put_member(self, key: str, member_id: str, data: str, ttl: int) -> None:
        entry = self.keys.get(members_key(key))
        if entry is None or not isinstance(entry.value, dict):
            self.keys.set(members_key(key), {member_id: data}, ttl)
        else:
            entry.value[member_id] = data
            self.keys.expire(members_key(key), ttl)  # marks it changed too

    async def remove_member(self, key: str, member_id: str) -> None:
        entry = self.keys.get(members_key(key))
        if entry is not None and isinstance(entry.value, dict):
            if entry.value.pop(member_id, None) is None:
                return
            if entry.value:
                self._changed(members_key(key))
            else:
                self.keys.delete(members_key(key))

    async def get_members(self, key: str) -> dict[str, str]:
        entry = self.keys.get(members_key(key))
        return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- chat history and moderation -------------------------------------------------------
    # The history is kept as a hash of sequence number -> message (insertion-ordered), the one
    # container the SQLite journal already writes; the sequence is the last one plus one.
    async def append_chat(self, key: str, message: str, limit: int, ttl: int) -> bool:
        if self.keys.get(session_key(key)) is None:
            return False
        name = chat_key(key)
        entry = self.keys.get(name)
        if entry is None or not isinstance(entry.value, dict):
            self.keys.set(name, {"0": message}, ttl)
            return True
        history = entry.value
        history[str(int(next(reversed(history), "-1")) + 1)] = message
        while len(history) > limit:
            del history[next(iter(history))]
        self.keys.expire(name, ttl)  # marks it changed too
        return True

    async def get_chat(self, key: str) -> list[str]:
        entry = self.keys.get(chat_key(key))
        return list(entry.value.values()) if entry is not None and isinstance(entry.value, dict) else []

    async def set_moderation(self, key: str, field: str, value: str | None, ttl: int) -> bool:
        if self.keys.get(session_key(key)) is None:
            return False
        name = moderation_key(key)
        entry = self.keys.get(name)
        records = dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}
        if value is None:
            records.pop(field, None)
        else:
            records[field] = value
        if records:
            self.keys.set(name, records, ttl)
        else:
            self.keys.delete(name)
        return True

    async def get_moderation(self, key: str) -> dict[str, str]:
        entry = self.keys.get(moderation_key(key))
        return dict(entry.value) if entry is not None and isinstance(entry.value, dict) else {}

    # -- events ----------------------------------------------------------------------
    async def publish(self, channel: str, message: str) -> None:
        self.channels.publish(channel, message)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self.channels.subscribe(channel)
