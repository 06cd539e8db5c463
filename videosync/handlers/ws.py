"""`/ws?sessionKey=K`: a thin WebSocket handler; the session's room does the work (PROTOCOL.md §2).

Go-A behaviour kept: the upgrade succeeds first and a missing or unknown key is then refused with
close 4001 and Go's reasons; the server pings every `ping_interval` s. Added: origin allow-list,
message size cap (1009), per-socket rate limit (1008), a pong deadline of three ping intervals.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from typing import Any

from tornado import httputil
from tornado.iostream import StreamClosedError
from tornado.websocket import (
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketProtocol13,
)

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
from ..wsframes import StrictFraming
from .base import is_cross_site

log = logging.getLogger(__name__)

PONG_DEADLINE_PINGS = 3


def handshake_ok(headers: Any) -> bool:
    """gorilla/websocket's checks: Connection has `upgrade`, Upgrade has `websocket`, version 13,
    and a key of 16 base64 bytes. Tornado would answer 426 or accept a short key."""

    def tokens(name: str) -> set[str]:
        return {t.strip().lower() for t in headers.get(name, "").split(",")}

    if "upgrade" not in tokens("Connection") or "websocket" not in tokens("Upgrade"):
        return False
    if headers.get("Sec-WebSocket-Version") != "13":
        return False
    try:
        return len(base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)) == 16
    except (ValueError, binascii.Error):
        return False


class SyncSocket(WebSocketHandler):
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
        self._ping_handle: Any = None
        self._last_pong = time.monotonic()
        self.address: str | None = None  # counted against the per-address cap while set

    # -- the handshake, as gorilla/websocket answered it ------------------------------------------
    def set_default_headers(self) -> None:
        # Go's 101 carried only Upgrade, Connection and Sec-WebSocket-Accept.
        for name in ("Server", "Date", "Content-Type"):
            self.clear_header(name)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if not handshake_ok(self.request.headers):
            self._refuse(400, "Bad Request")
            return
        await super().get(*args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> None:
        self._refuse(405, "Method Not Allowed")

    put = delete = patch = post

    def _refuse(self, status: int, text: str) -> None:
        self.set_status(status)
        origin = self.request.headers.get("Origin")
        if origin is not None and self._origin_allowed():
            allow = "*" if "*" in self.config.allowed_origins else origin
            self.set_header("Access-Control-Allow-Origin", allow)
            self.set_header("Access-Control-Expose-Headers", "Content-Length")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Sec-Websocket-Version", "13")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Date", httputil.format_timestamp(time.time()))
        self.set_header("Connection", "close")  # a failed upgrade leaves the connection unusable
        connection = self.request.connection
        # (request.connection is typed as the abstract HTTPConnection; the HTTP/1 one has close())
        self.finish(text + "\n").add_done_callback(lambda _f: connection.close())  # type: ignore[union-attr]

    # -- Tornado knobs ----------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        return True  # checked after the upgrade, so a browser sees close 1008 instead of a bare 403

    @property
    def max_message_size(self) -> int:
        return self.config.max_message_bytes

    @property
    def ping_interval(self) -> float | None:
        return None  # our own pinger (below): one timer per socket, no task, a lenient deadline

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # Go negotiated no permessage-deflate; broadcasts are shared pre-built frames

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        protocol = super().get_websocket_protocol()
        if not isinstance(protocol, WebSocketProtocol13):
            return protocol
        # Tornado's framing, plus Go's close 1002 / 1007 answers to frames that break RFC 6455.
        # Built from Tornado's own protocol for its parameters (their type is private to Tornado);
        # the first object is freed at once, once per connection.
        return StrictFraming(self, False, protocol.params)

    # -- life cycle -------------------------------------------------------------------------
    def _origin_allowed(self) -> bool:
        # The HTTP routes' rule: listed origins, and the server's own pages (the request's Host,
        # --public-url's origin); a client that sends no Origin is not a browser page.
        return not is_cross_site(self.request, self.config.allowed_origins, self.config.public_url)

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
        self._schedule_ping()

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
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
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

    # -- pings ------------------------------------------------------------------------------------
    def _schedule_ping(self) -> None:
        loop = asyncio.get_running_loop()
        self._ping_handle = loop.call_later(self.config.ping_interval, self._ping)

    def _ping(self) -> None:
        self._ping_handle = None
        if self.gone:
            return
        deadline = PONG_DEADLINE_PINGS * self.config.ping_interval + 1.0
        if time.monotonic() - self._last_pong > deadline:
            metrics.rejected("ping_timeout")
            self.disconnect(Close.GOING_AWAY, PING_TIMEOUT)
            return
        try:
            self.ping(b"")
        except WebSocketClosedError:
            return
        self._schedule_ping()

    def on_pong(self, data: bytes) -> None:
        self._last_pong = time.monotonic()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Tornado's own report names the request URI, whose query holds the host and resume tokens."""
        log.error("uncaught exception on /ws (session %s, member %s)", short_key(self.key), self.member_id,
                  exc_info=(typ, value, tb))
