"""The WebSocket upgrade as Go's gorilla/websocket answered it, and Tornado's knobs set to match.

gorilla refused a bad upgrade with 400 and its own headers where Tornado answers 426 (or accepts a
short key), sent a bare 101, negotiated no compression and checked the origin itself; the socket
handler (`handlers.ws.SyncSocket`) builds on this and deals only with the session.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from tornado import httputil
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from ..settings import Settings
from ..wsframes import StrictFraming
from .base import is_cross_site


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


class GorillaHandshake(WebSocketHandler):
    config: Settings  # set by the subclass's initialize()

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

    def _origin_allowed(self) -> bool:
        # The HTTP routes' rule: listed origins, and the server's own pages (the request's Host,
        # --public-url's origin); a client that sends no Origin is not a browser page.
        return not is_cross_site(self.request, self.config.allowed_origins, self.config.public_url)

    # -- Tornado knobs ----------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        return True  # checked after the upgrade, so a browser sees close 1008 instead of a bare 403

    @property
    def max_message_size(self) -> int:
        return self.config.max_message_bytes

    @property
    def ping_interval(self) -> float | None:
        return None  # our own pinger (handlers/ws_heartbeat.py): one timer per socket, no task

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
