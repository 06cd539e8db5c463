"""A small WebSocket test client (the `websockets` library, asyncio): JSON in, JSON out, close codes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


@dataclass
class Client:
    conn: ClientConnection
    raw: list[str] = field(default_factory=list)
    init: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def connect(
        cls, port: int, query: str, origin: str | None = None, expect_init: bool = True, **kw: Any
    ) -> Client:
        conn = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws{query}",
            origin=origin,  # type: ignore[arg-type]
            ping_interval=None,
            max_size=None,
            open_timeout=10,
            close_timeout=1,
            **kw,
        )
        client = cls(conn)
        if expect_init:
            try:
                client.init = await client.recv_type("init")
            except BaseException:
                await conn.close()
                raise
        return client

    @property
    def member_id(self) -> str:
        return str(self.init["memberId"])

    async def recv_text(self, timeout: float = 5.0) -> str:
        try:
            message = await asyncio.wait_for(self.conn.recv(), timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            raise Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "") from None
        text = message if isinstance(message, str) else message.decode()
        self.raw.append(text)
        return text

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await self.recv_text(timeout))  # type: ignore[no-any-return]

    async def recv_type(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type `kind`, skipping others."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.recv(max(0.01, deadline - loop.time()))
            if message.get("type") == kind:
                return message

    async def closed(self, timeout: float = 5.0) -> Closed:
        """Read until the server closes; the close code and reason."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                await self.recv_text(max(0.01, deadline - loop.time()))
        except Closed as closed:
            return closed

    async def nothing(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Messages that arrive within `seconds` (expected: none)."""
        got = []
        try:
            while True:
                got.append(await self.recv(seconds))
        except TimeoutError:
            return got

    async def send(self, message: Any) -> None:
        await self.conn.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def update(self, **state: Any) -> None:
        await self.send({"type": "stateUpdate", "state": state})

    async def close(self) -> None:
        await self.conn.close()
