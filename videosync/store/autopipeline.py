"""Commands issued during one event-loop turn go to Redis together, as one pipeline.

Under load many requests reach their store call in the same turn (each readable socket is handled
before the loop polls again). Sent one by one, each pays redis-py's per-command machinery: a pool
checkout, a health check, a retry wrapper, a timeout. Sent as one pipeline, that is paid once per
turn, and every caller still gets its own reply or its own error. Nothing waits for a timer: the
batch leaves at the end of the turn that queued it. One deadline bounds a whole batch (its client
has no per-reply read timeout); past it every caller gets a TimeoutError, and redis-py drops the
connection the batch was cut off on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)


class AutoPipeline:
    def __init__(self, redis: aioredis.Redis, timeout_s: float) -> None:
        self._redis = redis
        self._timeout_s = timeout_s
        self._queued: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._sending: set[asyncio.Task[None]] = set()  # (the loop holds tasks only weakly)

    def execute(self, *command: Any) -> asyncio.Future[Any]:
        """Queue one command; the future holds its reply, or the exception it raised."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._queued:
            # A task's first step runs in the next loop turn, after this turn has queued all it
            # will: it takes the batch and writes it at once. (A callback that then started the
            # sending task cost one more turn, and under load every turn is long.)
            task = loop.create_task(self._flush())
            self._sending.add(task)
            task.add_done_callback(self._sent)
        self._queued.append((command, future))
        return future

    async def close(self) -> None:
        await self._redis.aclose()

    async def script(self, script: AsyncScript, keys: list[str], args: list[Any]) -> Any:
        """Run a registered script by its digest; one Redis no longer has (after a restart or
        SCRIPT FLUSH) is loaded by running it the ordinary way."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except rexc.NoScriptError:
            return await script(keys=keys, args=args)

    async def _flush(self) -> None:
        batch, self._queued = self._queued, []
        await self._send(batch)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        _log_crash(task)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                if len(batch) == 1:  # alone in its turn: a pipeline would only add its own overhead
                    replies = [await _reply_or_error(self._redis.execute_command(*batch[0][0]))]
                else:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for command, _ in batch:
                            pipe.execute_command(*command)
                        replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # the whole batch failed: every caller hears why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue  # its caller was cancelled
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


async def _reply_or_error(call: Awaitable[Any]) -> Any:
    """As a pipeline reports a command Redis refused: the error as the reply."""
    try:
        return await call
    except rexc.ResponseError as exc:
        return exc


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("redis auto-pipeline send crashed", exc_info=task.exception())
