"""A real videosync app on its own event loop in a thread, for tests driven by synchronous code
(hypothesis examples): `call(coro)` runs a coroutine on the server's loop and returns its result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tornado.httpserver import HTTPServer

from tests.support.net import free_port
from videosync.app import MAX_BUFFERED_BODY, Services, make_app

T = TypeVar("T")


@dataclass
class ThreadedServer:
    build: Callable[[], Services]  # called on the server's loop
    port: int = field(default_factory=free_port)
    services: Services | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: HTTPServer | None = None

    def __enter__(self) -> ThreadedServer:
        ready: Future[None] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def start() -> None:
                self.services = self.build()
                self.services.hub.start()
                self._server = HTTPServer(make_app(self.services), max_body_size=MAX_BUFFERED_BODY)
                self._server.listen(self.port, "127.0.0.1")

            try:
                loop.run_until_complete(start())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="videosync-under-test", daemon=True)
        self._thread.start()
        ready.result(timeout=10)
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._server is not None and self.services is not None
        services, server = self.services, self._server

        async def stop() -> None:
            server.stop()
            await services.hub.shutdown(timeout=2)
            await server.close_all_connections()
            await services.store.close()

        self.call(stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
