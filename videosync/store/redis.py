"""The shared store: Redis through redis-py's asyncio client, keys exactly as the Go server's."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.asyncio.sentinel import Sentinel

from . import redis_scripts as lua
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
from .redis_channels import RedisChannels

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

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


def _client_for(url: str, read_timeout: float | None = _TIMEOUT_S) -> aioredis.Redis:
    """A client of its own pool; `read_timeout` None for one whose caller bounds every call."""
    options: dict[str, Any] = dict(
        socket_connect_timeout=_TIMEOUT_S,
        socket_timeout=read_timeout,
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
        self._renew = self._redis.register_script(lua.RENEW)
        self._release = self._redis.register_script(lua.RELEASE)
        self._touch = self._redis.register_script(lua.TOUCH)
        self._set_if_live = self._redis.register_script(lua.SET_IF_LIVE)
        self._create = self._redis.register_script(lua.CREATE)
        self._append_chat = self._redis.register_script(lua.APPEND_CHAT)
        self._set_moderation = self._redis.register_script(lua.SET_MODERATION)
        # The auto-pipeline bounds each batch as a whole: with a read timeout on its connections
        # redis-py would arm and disarm a timer for every reply of every batch (9 % of a join
        # storm's CPU on Redis, profiled).
        self._batched = AutoPipeline(_client_for(url, read_timeout=None), timeout_s=_TIMEOUT_S)
        self._channels = RedisChannels(self._redis)

    @_translate
    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._channels.close()
        await self._batched.close()
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

    def set_states(
        self, key: str, states: Sequence[tuple[str, Announcement]], ttl: int, expect: str
    ) -> Awaitable[bool]:
        # Queued now (not when awaited): it joins this loop turn's pipeline. EVAL, not EVALSHA: a
        # Redis that does not know the script yet (new, restarted) runs it in its place in the
        # pipeline instead of refusing it, so what is queued after it reads its result.
        keys = [session_key(key), state_key(key), meta_key(key), members_key(key)]
        args: list[Any] = [ttl, expect]
        for text, (channel, message) in states:
            args += [text, channel, message]
        reply = self._batched.execute("EVAL", lua.SET_CHAIN, len(keys), *keys, *args)
        return self._chain_written(key, reply)

    @_translate
    async def _chain_written(self, key: str, reply: Awaitable[Any]) -> bool:
        written = await reply
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
        await self._batched.execute("DEL", *self._session_keys(key), host_key(key))

    # -- host lease -------------------------------------------------------------------
    @_translate
    async def acquire_host(self, key: str, holder: str, lease_ms: int) -> bool:
        return bool(await self._batched.execute("SET", host_key(key), holder, "NX", "PX", lease_ms))

    @_translate
    async def renew_host(self, key: str, holder: str, lease_ms: int) -> bool:
        return bool(await self._batched.script(self._renew, [host_key(key)], [holder, lease_ms]))

    @_translate
    async def release_host(self, key: str, holder: str) -> bool:
        return bool(await self._batched.script(self._release, [host_key(key)], [holder]))

    @_translate
    async def get_host(self, key: str) -> str | None:
        return cast("str | None", await self._batched.execute("GET", host_key(key)))

    # -- presence -----------------------------------------------------------------------
    @_translate
    async def put_member(self, key: str, member_id: str, data: str, ttl: int) -> None:
        # One pipeline write with the turn's other commands (a join storm's puts were one MULTI
        # round trip and pool checkout each); the two are sent together, so none is left half done.
        await asyncio.gather(
            self._batched.execute("HSET", members_key(key), member_id, data),
            self._batched.execute("EXPIRE", members_key(key), ttl),
        )

    @_translate
    async def remove_member(self, key: str, member_id: str) -> None:
        await self._batched.execute("HDEL", members_key(key), member_id)

    @_translate
    async def get_members(self, key: str) -> dict[str, str]:
        return cast("dict[str, str]", await self._batched.execute("HGETALL", members_key(key)))

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
        # through the auto-pipeline, after the commands queued before it (a join's member put)
        await self._batched.execute("PUBLISH", channel, message)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        return self._channels.subscribe(channel)
