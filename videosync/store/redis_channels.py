"""The Redis store's pub/sub: one connection and one reader for every channel of the process.

The reader survives Redis restarts (it re-subscribes what is still wanted) and hands each message
to its subscribers: into a queue for one that iterates, or straight to the callback of one that
asked for it (`Subscription.deliver_to`), in the reader's own loop turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

CONFIRM_TIMEOUT_S = 2.0


class Subscription:
    """One subscriber's messages, in the order Redis sent them.

    Iterated (`async for`), each message crosses a queue: the consumer runs a loop turn after the
    reader. Handed over (`deliver_to`), the reader calls the consumer itself. Under load every
    loop turn is long (the turn that copies video to twenty sockets), and a host's update
    crosses this once per process on its way to the members."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._deliver: Callable[[str], None] | None = None
        self._failed: asyncio.Future[None] | None = None

    def put(self, message: str) -> None:
        if self._deliver is None:
            self._queue.put_nowait(message)
            return
        try:
            self._deliver(message)
        except Exception as exc:  # the consumer's failure ends its subscription, not the reader
            self._deliver = None
            if self._failed is not None and not self._failed.done():
                self._failed.set_exception(exc)

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        return await self._queue.get()

    async def deliver_to(self, deliver: Callable[[str], None]) -> None:
        """Call `deliver` with every message (those already queued first) until cancelled or
        until `deliver` raises, which this then raises."""
        while not self._queue.empty():
            deliver(self._queue.get_nowait())
        self._failed = asyncio.get_running_loop().create_future()
        self._deliver = deliver
        try:
            await self._failed
        finally:
            self._deliver = None


class RedisChannels:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._queues: dict[str, set[Subscription]] = {}
        # per channel, one future per SUBSCRIBE sent and not yet confirmed, in the order sent:
        # Redis confirms in that order on the one pub/sub connection
        self._unconfirmed: dict[str, list[asyncio.Future[None]]] = {}
        self._sub_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except asyncio.CancelledError:
                pass
        if self._pubsub is not None:
            await self._pubsub.aclose()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        subscription = Subscription()
        try:  # the subscription is ended below however this ends, cancelled while confirming too
            async with self._sub_lock:
                if self._pubsub is None:
                    self._pubsub = self._redis.pubsub()
                first = channel not in self._queues
                self._queues.setdefault(channel, set()).add(subscription)
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
            yield subscription
        finally:
            async with self._sub_lock:
                queues = self._queues.get(channel)
                if queues is not None:
                    queues.discard(subscription)
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
            await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_TIMEOUT_S)
        except TimeoutError:
            # Not forever: a caller (a join) must not hang on a Redis that stopped answering; the
            # listener re-subscribes everything once it reconnects.
            log.warning("subscribe to %s not confirmed within %.0f s", channel[-8:], CONFIRM_TIMEOUT_S)

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
            for subscription in tuple(self._queues.get(message["channel"], ())):
                subscription.put(message["data"])

    async def _reset_pubsub(self) -> None:
        self._confirm_all()
        old = self._pubsub
        self._pubsub = self._redis.pubsub()
        if old is not None:
            try:
                await old.aclose()
            except (rexc.RedisError, OSError):
                pass
