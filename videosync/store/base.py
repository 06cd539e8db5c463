"""The store contract: every backend keeps the Go server's Redis keys and adds ours beside them.

Keys (Go-A compatible, docs/go-protocol.md §2.1):
  session:{K}          "active"              created with the session, refreshed by activity
  session:{K}:state    playback state JSON   written by the host's updates
  session:{K}:host     host lease holder id  SET NX PX, renewed by the holder, released by it
Ours (a Go instance never reads them):
  session:{K}:meta     JSON {"hostToken", "video", "createdAt"}
  session:{K}:members  hash member id -> member JSON (presence across processes)
  session:{K}:chat     list of the last chat messages (wire JSON), oldest first, trimmed
  session:{K}:moderation hash: "locked" -> "1", "ban:{memberId}" / "kick:{memberId}" -> ms
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class StoreError(Exception):
    """The store refused or failed an operation (out of memory, auth, protocol)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached right now; the caller may retry later."""


class StateChanged(Exception):
    """A conditional state write found another state than the one it was based on."""


def session_key(key: str) -> str:
    return f"session:{key}"


def state_key(key: str) -> str:
    return f"session:{key}:state"


def host_key(key: str) -> str:
    return f"session:{key}:host"


def meta_key(key: str) -> str:
    return f"session:{key}:meta"


def members_key(key: str) -> str:
    return f"session:{key}:members"


def chat_key(key: str) -> str:
    return f"session:{key}:chat"


def moderation_key(key: str) -> str:
    return f"session:{key}:moderation"


def session_channel(key: str) -> str:
    return f"videosync:session:{key}"


SESSION_MARKER = "active"

# (channel, message): an event published together with a write
Announcement = tuple[str, str]


class Store(Protocol):
    url: str

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def close(self) -> None: ...

    # sessions
    async def create_session(self, key: str, state: str, meta: str, ttl: int) -> None:
        """Write marker, state and meta atomically: all three or none."""

    async def session_exists(self, key: str) -> bool: ...

    async def get_state(self, key: str) -> str | None: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_state(
        self, key: str, state: str, ttl: int, announce: Announcement | None = None, expect: str | None = None
    ) -> bool:
        """Store the state and refresh the session's TTLs; False (nothing written) if it is gone.

        `announce` (channel, message) is published in the same atomic step, only when the state
        was written: nobody hears of a state that was not stored, nor misses one that was.
        `expect`: write only if the stored state is exactly this text ("" for none), else raise
        StateChanged (a compare-and-set: concurrent writers never both build on the same state)."""

    def set_states(
        self, key: str, states: Sequence[tuple[str, Announcement]], ttl: int, expect: str
    ) -> Awaitable[bool]:
        """`set_state` for a chain of states, each announced, all in one atomic step and in order:
        written only if the stored state is `expect` (else StateChanged), each state the base of the
        next. The write leaves when this is called, not when it is awaited, so it joins this loop
        turn's batch (Redis) or is done already (memory): a caller need not be a task that runs
        a turn later."""
        ...

    async def set_meta(self, key: str, meta: str, ttl: int) -> bool: ...

    async def touch(self, key: str, ttl: int) -> bool:
        """Refresh the TTL of every key of a live session; False if the session is gone."""

    async def delete_session(self, key: str) -> None: ...

    # host lease
    async def acquire_host(self, key: str, holder: str, lease_ms: int) -> bool: ...

    async def renew_host(self, key: str, holder: str, lease_ms: int) -> bool:
        """Extend the lease only if `holder` holds it."""

    async def release_host(self, key: str, holder: str) -> bool:
        """Delete the lease only if `holder` holds it."""

    async def get_host(self, key: str) -> str | None: ...

    # presence
    async def put_member(self, key: str, member_id: str, data: str, ttl: int) -> None: ...

    async def remove_member(self, key: str, member_id: str) -> None: ...

    async def get_members(self, key: str) -> dict[str, str]: ...

    # chat history and moderation records: they live and die with the session (its TTL, its deletion)
    async def append_chat(self, key: str, message: str, limit: int, ttl: int) -> bool:
        """Add `message` to the session's chat history, keeping the last `limit`; False if gone."""

    async def get_chat(self, key: str) -> list[str]:
        """The session's chat history, oldest first."""
        ...

    async def set_moderation(self, key: str, field: str, value: str | None, ttl: int) -> bool:
        """Set (or with None delete) one moderation record of a live session; False if gone."""

    async def get_moderation(self, key: str) -> dict[str, str]: ...

    # events between processes
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """Messages published on `channel` from now on, until the context exits."""
        ...


async def consume(messages: AsyncIterator[str], handle: Callable[[str], None]) -> None:
    """Each message of a subscription to `handle`, in order, until the subscription ends (or
    `handle` raises). A subscription that can hand its messages over as its reader gets them
    (`deliver_to`: Redis's, whose one reader serves every channel) is not iterated: that saves
    the loop turn between the reader and the consumer on every message."""
    deliver_to: Callable[[Callable[[str], None]], Awaitable[None]] | None
    deliver_to = getattr(messages, "deliver_to", None)
    if deliver_to is not None:
        await deliver_to(handle)
        return
    async for text in messages:
        handle(text)
