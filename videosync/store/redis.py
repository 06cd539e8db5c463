"""The shared store: Redis through redis-py's asyncio client, keys exactly as the Go server's."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.asyncio.client import PubSub
from redis.asyncio.sentinel import Sentinel

from .autopipeline import AutoPipeline
from .base import (
    SESSION_MARKER,
    Announcement,
    StateChanged,
    StoreError,
    StoreUnavailable,
    chat_key,
    host_key,
    members_key,
    meta_key,
    moderation_key,
    session_key,
    state_key,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Compare-and-act scripts: the lease holder alone may renew or release it.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# Writes that must never resurrect a deleted or expired session (Go-A did, docs/go-protocol.md §2.7.8).
_TOUCH = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
for i = 1, #KEYS do redis.call('expire', KEYS[i], ARGV[1]) end
return 1
"""
# One round trip, all or nothing: a write refused for memory (OOM) fails the first SET, before any key.
_CREATE = """
redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[4])
redis.call('set', KEYS[3], ARGV[3], 'EX', ARGV[4])
return 1
"""
# Writes KEYS[2] of a live session (KEYS[1] its marker) and refreshes every key's TTL; 0 if gone.
# ARGV[3] == '1' makes it conditional on the stored text being ARGV[4] (-1 if not); ARGV[5],
# ARGV[6]: an optional channel and message, published with the write (one round trip).
_SET_IF_LIVE = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' and (redis.call('get', KEYS[2]) or '') ~= ARGV[4] then return -1 end
redis.call('set', KEYS[2], ARGV[2], 'EX', ARGV[1])
for i = 3, #KEYS do redis.call('expire', KEYS[i], ARGV[1]) end
redis.call('expire', KEYS[1], ARGV[1])
if ARGV[5] then redis.call('publish', ARGV[5], ARGV[6]) end
return 1
"""

# Chat history and moderation records of a live session only (KEYS[1] its marker), TTL refreshed.
_APPEND_CHAT = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
redis.call('rpush', KEYS[2], ARGV[1])
redis.call('ltrim', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('expire', KEYS[2], ARGV[3])
return 1
"""
_SET_MODERATION = """
if redis.call('exists', KEYS[1]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
else redis.call('hdel', KEYS[2], ARGV[1]) end
redis.call('expire', KEYS[2], ARGV[4])
return 1
"""

_TIMEOUT_S = 2.0


def _translate(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn redis-py's exceptions into the store's two."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unreachable: {exc}") from exc
        except rexc.RedisError as exc:
            raise StoreError(f"redis refused: {exc}") from exc

    return wrapper


def _client_for(url: str) -> aioredis.Redis:
    options: dict[str, Any] = dict(
        socket_connect_timeout=_TIMEOUT_S,
        socket_timeout=_TIMEOUT_S,
        health_check_interval=15,
        decode_responses=True,
    )
    if not url.startswith("redis+sentinel://"):
        # Room for bursts (a thousand sockets leaving at once); the hub bounds its own concurrency.
        return aioredis.from_url(url, max_connections=1024, **options)
    # redis+sentinel://[:password@]host:port[,host:port]/service[/db]
    parts = urlsplit(url)
    hosts = []
    for hostport in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = hostport.partition(":")
        hosts.append((host, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("redis+sentinel:// URL needs a service name: redis+sentinel://host:26379/mymaster")
    db = int(path[1]) if len(path) > 1 else int(parse_qs(parts.query).get("db", ["0"])[0])
    password = unquote(parts.password) if parts.password else None
    sentinel = Sentinel(hosts, sentinel_kwargs={"password": password} if password else None)
    master: aioredis.Redis = sentinel.master_for(path[0], db=db, password=password, **options)
    return master


class RedisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._redis = _client_for(url)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._touch = self._redis.register_script(_TOUCH)
        self._set_if_live = self._redis.register_script(_SET_IF_LIVE)
        self._create = self._redis.register_script(_CREATE)
        self._append_chat = self._redis.register_script(_APPEND_CHAT)
        self._set_moderation = self._redis.register_script(_SET_MODERATION)
        self._batched = AutoPipeline(self._redis)
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}
        # per channel, one future per SUBSCRIBE sent and not yet confirmed, in the order sent:
        # Redis confirms in that order on the one pub/sub connection
        self._unconfirmed: dict[str, list[asyncio.Future[None]]] = {}
        self._sub_lock = asyncio.Lock()

    @_translate
    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()

    # -- sessions -----------------------------------------------------------------
    @_translate
    async def create_session(self, key: str, state: str, meta: str, ttl: int) -> None:
        keys = [session_key(key), state_key(key), meta_key(key)]
        await self._batched.script(self._create, keys, [SESSION_MARKER, state, meta, ttl])

    @_translate
    async def session_exists(self, key: str) -> bool:
        return bool(await self._batched.execute("EXISTS", session_key(key)))

    @_translate
    async def get_state(self, key: str) -> str | None:
        return cast("str | None", await self._batched.execute("GET", state_key(key)))

    @_translate
    async def get_meta(self, key: str) -> str | None:
        return cast("str | None", await self._batched.execute("GET", meta_key(key)))

    def _session_keys(self, key: str) -> list[str]:
        return [session_key(key), state_key(key), meta_key(key), members_key(key), chat_key(key),
                moderation_key(key)]

    @_translate
    async def set_state(
        self, key: str, state: str, ttl: int, announce: Announcement | None = None, expect: str | None = None
    ) -> bool:
        keys = [session_key(key), state_key(key), meta_key(key), members_key(key)]
        condition = ["0", ""] if expect is None else ["1", expect]
        args = [ttl, state, *condition, *(announce or ())]
        written = await self._batched.script(self._set_if_live, keys, args)
        if written == -1:
            raise StateChanged(key)
        return bool(written)

    @_translate
    async def set_meta(self, key: str, meta: str, ttl: int) -> bool:
        keys = [session_key(key), meta_key(key), state_key(key), members_key(key)]
        return bool(await self._set_if_live(keys=keys, args=[ttl, meta, "0", ""]))

    @_translate
    async def touch(self, key: str, ttl: int) -> bool:
        return bool(await self._batched.script(self._touch, self._session_keys(key), [ttl]))

    @_translate
    async def delete_session(self, key: str) -> None:
        await self._redis.delete(*self._session_keys(key), host_key(key))

    # -- host lease -------------------------------------------------------------------
    @_translate
    async def acquire_host(self, key: str, holder: str, lease_ms: int) -> bool:
        return bool(await self._redis.set(host_key(key), holder, nx=True, px=lease_ms))

    @_translate
    async def renew_host(self, key: str, holder: str, lease_ms: int) -> bool:
        return bool(await self._renew(keys=[host_key(key)], args=[holder, lease_ms]))

    @_translate
    async def release_host(self, key: str, holder: str) -> bool:
        return bool(await self._release(keys=[host_key(key)], args=[holder]))

    @_translate
    async def get_host(self, key: str) -> str | None:
        return cast("str | None", await self._batched.execute("GET", host_key(key)))

    # -- presence -----------------------------------------------------------------------
    @_translate
    async def put_member(self, key: str, member_id: str, data: str, ttl: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(members_key(key), member_id, data)
            pipe.expire(members_key(key), ttl)
            await pipe.execute()

    @_translate
    async def remove_member(self, key: str, member_id: str) -> None:
        await self._redis.hdel(members_key(key), member_id)

    @_translate
    async def get_members(self, key: str) -> dict[str, str]:
        return cast("dict[str, str]", await self._redis.hgetall(members_key(key)))

    # -- chat history and moderation ----------------------------------------------------------
    @_translate
    async def append_chat(self, key: str, message: str, limit: int, ttl: int) -> bool:
        keys = [session_key(key), chat_key(key)]
        return bool(await self._append_chat(keys=keys, args=[message, limit, ttl]))

    @_translate
    async def get_chat(self, key: str) -> list[str]:
        return cast("list[str]", await self._batched.execute("LRANGE", chat_key(key), 0, -1))

    @_translate
    async def set_moderation(self, key: str, field: str, value: str | None, ttl: int) -> bool:
        keys = [session_key(key), moderation_key(key)]
        args = [field, value or "", "0" if value is None else "1", ttl]
        return bool(await self._set_moderation(keys=keys, args=args))

    @_translate
    async def get_moderation(self, key: str) -> dict[str, str]:
        # pipelined with the meta read every join makes (and reconnecting like it after an outage)
        return cast("dict[str, str]", await self._batched.execute("HGETALL", moderation_key(key)))

    # -- events --------------------------------------------------------------------------
    @_translate
    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def messages() -> AsyncIterator[str]:
            while True:
                yield await queue.get()

        try:  # the subscription is ended below however this ends, cancelled while confirming too
            async with self._sub_lock:
                if self._pubsub is None:
                    self._pubsub = self._redis.pubsub()
                first = channel not in self._queues
                self._queues.setdefault(channel, set()).add(queue)
                # a later subscriber of the channel waits for the same confirmation as the first
                pending = self._unconfirmed.get(channel)
                if first:
                    confirmed = await self._subscribe_channel(channel)
                else:
                    confirmed = pending[-1] if pending else None
                if self._listener is None or self._listener.done():
                    self._listener = asyncio.create_task(self._listen(), name="redis-pubsub")
            if confirmed is not None:
                await self._confirmation(channel, confirmed)
            yield messages()
        finally:
            async with self._sub_lock:
                queues = self._queues.get(channel)
                if queues is not None:
                    queues.discard(queue)
                    if not queues:
                        del self._queues[channel]
                        await self._unsubscribe_channel(channel)

    async def _subscribe_channel(self, channel: str) -> asyncio.Future[None] | None:
        """Send SUBSCRIBE; the future completes when Redis confirms it (None: not sent)."""
        assert self._pubsub is not None
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unconfirmed.setdefault(channel, []).append(confirmed)
        try:
            await self._pubsub.subscribe(channel)
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            # The listener re-subscribes every channel in self._queues when Redis is back.
            log.warning("subscribe to %s deferred: redis unreachable (%s)", channel[-8:], exc)
            self._confirm(channel)
            return None
        return confirmed

    async def _confirmation(self, channel: str, confirmed: asyncio.Future[None]) -> None:
        """Until Redis has confirmed the subscription: only then does it deliver what is published."""
        try:
            await asyncio.wait_for(asyncio.shield(confirmed), _TIMEOUT_S)
        except TimeoutError:
            # Not forever: a caller (a join) must not hang on a Redis that stopped answering; the
            # listener re-subscribes everything once it reconnects.
            log.warning("subscribe to %s not confirmed within %.0f s", channel[-8:], _TIMEOUT_S)

    def _confirm(self, channel: str) -> None:
        pending = self._unconfirmed.get(channel)
        if not pending:
            return  # a re-subscription after a reconnect: nobody is waiting for it
        future = pending.pop(0)
        if not pending:
            del self._unconfirmed[channel]
        if not future.done():
            future.set_result(None)

    def _confirm_all(self) -> None:
        """The connection is gone: nobody waits for confirmations that will never come."""
        for channel in tuple(self._unconfirmed):
            while channel in self._unconfirmed:
                self._confirm(channel)

    async def _unsubscribe_channel(self, channel: str) -> None:
        assert self._pubsub is not None
        try:
            await self._pubsub.unsubscribe(channel)
        except (rexc.ConnectionError, rexc.TimeoutError, OSError):
            pass  # a reconnect re-subscribes only what is still in self._queues

    async def _listen(self) -> None:
        """One reader for the whole process; survives Redis restarts by re-subscribing."""
        assert self._pubsub is not None
        backoff = 0.1
        while True:
            try:
                if not self._pubsub.subscribed:
                    if not self._queues:
                        await asyncio.sleep(0.05)
                        continue
                    await self._pubsub.subscribe(*self._queues)
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
            except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
                log.warning("redis pub/sub lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                await self._reset_pubsub()
                continue
            if message is None:
                continue
            if message.get("type") == "subscribe":
                self._confirm(message["channel"])
                continue
            if message.get("type") != "message":
                continue
            for queue in tuple(self._queues.get(message["channel"], ())):
                queue.put_nowait(message["data"])

    async def _reset_pubsub(self) -> None:
        self._confirm_all()
        old = self._pubsub
        self._pubsub = self._redis.pubsub()
        if old is not None:
            try:
                await old.aclose()
            except (rexc.RedisError, OSError):
                pass
