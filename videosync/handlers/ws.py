"""`/ws?sessionKey=K`: a thin WebSocket handler; the session's room does the work (PROTOCOL.md §2).

Go-A behaviour kept: the upgrade succeeds first and a missing or unknown key is then refused with
close 4001 and Go's reasons; the server pings every `ping_interval` s. Added: origin allow-list,
message size cap (1009), per-socket rate limit (1008), a pong deadline of three ping intervals.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from .. import metrics
from ..closecodes import (
    INVALID_KEY,
    MISSING_KEY,
    ORIGIN_NOT_ALLOWED,
    PING_TIMEOUT,
    RATE_LIMITED,
    SEND_QUEUE_OVERFLOW,
    STORE_UNAVAILABLE,
    TOO_MANY_CONNECTIONS,
    Close,
)
from ..iplimit import AddressLimit
from ..outbox import Outbox
from ..protocol import clean_name
from ..ratelimit import TokenBucket
from ..room import Rooms
from ..room.moderation import admit
from ..sessions import SessionService, short_key
from ..settings import Settings
from ..store import StoreError
from .ws_handshake import GorillaHandshake, handshake_ok
from .ws_heartbeat import Heartbeat

log = logging.getLogger(__name__)

__all__ = ["SyncSocket", "handshake_ok"]


class SyncSocket(GorillaHandshake):
    outbox: Outbox  # set once the key is known; absent on refused sockets

    def initialize(
        self, hub: Rooms, sessions: SessionService, settings: Settings, per_address: AddressLimit
    ) -> None:
        self.hub = hub
        self.per_address = per_address  # sockets per client address on this process, shared
        self.sessions = sessions
        self.config = settings
        self.key = ""
        self.member_id = ""  # given by the room on join
        self.joined = False
        self.limited = False  # over the rate limit: closing; what it still sends is dropped unread
        self.presence_batch = False  # `presence=batch`: presence news as batched `presence` messages
        self.gone = False
        self._bucket = TokenBucket(settings.rate_limit, settings.rate_burst, time.monotonic())
        self.heartbeat = Heartbeat(settings.ping_interval, self._send_ping, self._ping_timed_out)
        self.address: str | None = None  # counted against the per-address cap while set

    # -- life cycle (the upgrade itself: handlers/ws_handshake.py) --------------------------------
    async def open(self) -> None:
        if not self._origin_allowed():
            metrics.rejected("origin")
            self.close_now(Close.POLICY, ORIGIN_NOT_ALLOWED)
            return
        address = self.request.remote_ip or ""
        if not self.per_address.acquire(address):
            metrics.rejected("too_many_connections")
            self.close_now(Close.POLICY, TOO_MANY_CONNECTIONS)
            return
        self.address = address
        self.key = self._arg("sessionKey") or ""
        if not self.key:
            self.close_now(Close.INVALID_SESSION, MISSING_KEY)
            return
        try:
            valid = await self.sessions.exists(self.key)
        except StoreError:
            valid = False  # Go-A: a store error reads as an unknown key
        if not valid:
            metrics.rejected("invalid_session")
            self.close_now(Close.INVALID_SESSION, INVALID_KEY)
            return
        # Moderation and the session password, before any state is sent (close 4003 + the reason).
        try:
            admission = await admit(
                self.sessions, self.hub.passwords, self.key,
                host_token=self._arg("hostToken"), resume=self._arg("resume"),
                password=self._arg("password"), address=address,
            )
        except StoreError as exc:
            log.warning("session %s: admission failed: %s", short_key(self.key), exc)
            self.close_now(Close.INTERNAL_ERROR, STORE_UNAVAILABLE)
            return
        if admission.refusal is not None:
            metrics.rejected("forbidden")
            self.close_now(Close.FORBIDDEN, admission.refusal)
            return
        if self.gone:
            return
        assert self.ws_connection is not None
        self.set_nodelay(True)  # small sync messages must not wait for Nagle + delayed ACKs
        self.outbox = Outbox(self.ws_connection, self.config.send_queue_limit, self._overflowed)
        self.presence_batch = self._arg("presence") == "batch"
        try:
            await self.hub.join(
                self,
                name=clean_name(self._arg("name") or ""),
                host_token=self._arg("hostToken"),
                resume=admission.resume,
            )
        except StoreError as exc:
            log.warning("session %s: join failed: %s", short_key(self.key), exc)
            self.disconnect(Close.INTERNAL_ERROR, STORE_UNAVAILABLE)
            await self.hub.leave(self)
            return
        self.joined = True
        if self.gone:
            await self.hub.leave(self)
            return
        self.heartbeat.start()

    def _arg(self, name: str) -> str | None:
        """The first value (as Go read it); undecodable bytes never fail the request (Go took them)."""
        values = self.request.query_arguments.get(name)
        return values[0].decode("utf-8", "replace") if values else None

    async def on_message(self, message: str | bytes) -> None:
        received = time.time() * 1000.0
        metrics.MESSAGES_IN.inc()
        if not self.joined or self.limited:
            return
        if not self._bucket.take(time.monotonic()):
            self.limited = True  # counted and logged once: the frames behind it are not news
            log.info("session %s: member %s over the rate limit", short_key(self.key), self.member_id)
            metrics.rejected("rate_limit")
            self.disconnect(Close.POLICY, RATE_LIMITED)
            return
        await self.hub.handle(self, message, received)

    def on_close(self) -> None:
        self.gone = True
        if self.address is not None:
            self.per_address.release(self.address)
            self.address = None
        self.heartbeat.stop()
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.close()
            self.hub.spawn(self.hub.leave(self), "leave")

    # -- the room's side of a peer ---------------------------------------------------------------
    def disconnect(self, code: int, reason: str) -> None:
        outbox = getattr(self, "outbox", None)
        if outbox is not None:
            outbox.close()
        if self.ws_connection is not None and not self.ws_connection.is_closing():
            self.close(code, reason)

    def _overflowed(self) -> None:
        log.warning("session %s: member %s too slow; dropped", short_key(self.key), self.member_id)
        metrics.rejected("slow_consumer")
        self.disconnect(Close.TRY_AGAIN_LATER, SEND_QUEUE_OVERFLOW)
        self.hub.spawn(self.hub.leave(self), "leave")

    def close_now(self, code: int, reason: str) -> None:
        """Close frame, then TCP close at once without awaiting the reply (as Go did)."""
        stream = getattr(self.ws_connection, "stream", None)
        self.close(code, reason)
        if stream is None:
            return
        try:
            stream.write(b"").add_done_callback(lambda _f: stream.close())
        except StreamClosedError:
            pass

    # -- pings (handlers/ws_heartbeat.py) ------------------------------------------------------
    def _send_ping(self) -> bool:
        if self.gone:
            return False
        try:
            self.ping(b"")
        except WebSocketClosedError:
            return False
        return True

    def _ping_timed_out(self) -> None:
        if not self.gone:
            metrics.rejected("ping_timeout")
            self.disconnect(Close.GOING_AWAY, PING_TIMEOUT)

    def on_pong(self, data: bytes) -> None:
        self.heartbeat.pong()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado's own report names the request URI, whose query holds the host and resume tokens."""
        log.error("uncaught exception on /ws (session %s, member %s)", short_key(self.key), self.member_id,
                  exc_info=(typ, value, tb))
