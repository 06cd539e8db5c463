"""The handler base: CORS as the Go server did it (minus its bugs; the policy is cors.py's), JSON
bodies and one error shape (problems.py), the cross-site refusal and Go's 404s."""

from __future__ import annotations

import json
import logging
import posixpath
import sys
from asyncio import Future
from collections.abc import Iterable
from http.client import responses
from typing import Any

from tornado.http1connection import HTTP1Connection
from tornado.web import HTTPError, RequestHandler, stream_request_body

from .cors import (
    CORS_EXPOSE,
    CORS_EXPOSE_MEDIA,
    CORS_HEADERS,
    CORS_METHODS,
    CORS_SIMPLE_HEADERS,
    canonical_header,
    is_cross_site,
)
from .problems import BadRequest, PayloadTooLarge, go_json, problem_for

# is_cross_site and CORS_EXPOSE_MEDIA are imported from here by handlers/ws.py and ranged.py
__all__ = [
    "MAX_BUFFERED_BODY", "MAX_JSON_BODY", "BaseHandler", "CrossSiteRefused", "JSONBodyHandler",
    "NotFoundHandler", "CORS_EXPOSE_MEDIA", "is_cross_site",
]

log = logging.getLogger(__name__)

MAX_JSON_BODY = 64 * 1024
# Bodies of ordinary requests are buffered in memory up to this (the HTTPServer's max_body_size);
# uploads raise their own limit per request.
MAX_BUFFERED_BODY = 1024 * 1024


class BaseHandler(RequestHandler):
    """Every handler's base. `allowed_origins` comes from the application settings."""

    expose_headers = CORS_EXPOSE
    # Preflights answer for these; a handler with more (DELETE of a video) widens its own, so every
    # other path keeps Go's 405 for a DELETE preflight.
    cors_methods: tuple[str, ...] = CORS_METHODS

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.clear_header("Content-Type")
        self._apply_cors()

    def finish(self, chunk: str | bytes | dict[Any, Any] | None = None) -> Future[None]:
        # An answer before the body was read (a refused upload) makes Tornado hang up once it is
        # sent, but without saying so: a keep-alive client (nginx's upstream pool) would send its
        # next request on that connection and get a reset (a 502 through nginx). Say it.
        if getattr(self, "_stream_request_body", False) and not self._headers_written:
            connection = self.request.connection
            if isinstance(connection, HTTP1Connection) and not connection._read_finished:
                self.set_header("Connection", "close")
        return super().finish(chunk)

    def lift_body_limit(self) -> None:
        """Turn off Tornado's body-size limit for this request: it would drop the connection
        without an answer, so a streaming handler that enforces its own cap lifts it."""
        connection = self.request.connection
        assert isinstance(connection, HTTP1Connection)  # Tornado serves HTTP/1.x only
        connection.set_max_body_size(sys.maxsize)

    # -- CORS -----------------------------------------------------------------
    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(self.application.settings.get("allowed_origins", ("*",)))

    def origin_allowed(self, origin: str) -> bool:
        allowed = self.allowed_origins
        return "*" in allowed or origin.rstrip("/") in allowed

    def _apply_cors(self) -> None:
        origin = self.request.headers.get("Origin")
        if origin is None or self.request.method == "OPTIONS":
            return
        if not self.origin_allowed(origin):
            return
        self._set_allow_origin(origin)
        self.set_header("Access-Control-Expose-Headers", self.expose_headers)

    def _set_allow_origin(self, origin: str) -> None:
        if "*" in self.allowed_origins:
            self.set_header("Access-Control-Allow-Origin", "*")
        else:
            self.set_header("Access-Control-Allow-Origin", origin)
            self.add_header("Vary", "Origin")

    def options(self, *args: Any, **kwargs: Any) -> None:
        """Preflight, on any path (Go answered them in front of the router)."""
        origin = self.request.headers.get("Origin")
        self.clear_header("Content-Type")
        if origin is None:
            self.set_status(200)
            self.finish()
            return
        method = self.request.headers.get("Access-Control-Request-Method")
        if not method:
            return self._preflight_refused(400)
        if not self.origin_allowed(origin):
            return self._preflight_refused(403)
        if method not in self.cors_methods:
            return self._preflight_refused(405)
        requested = [
            canonical_header(h.strip())
            for h in self.request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        extra = [h for h in requested if h.lower() not in CORS_SIMPLE_HEADERS]
        if any(h.lower() not in CORS_HEADERS for h in extra):
            return self._preflight_refused(403)
        self._set_allow_origin(origin)
        if extra:
            self.set_header("Access-Control-Allow-Headers", ",".join(extra))
        if method not in ("GET", "HEAD", "POST"):
            self.set_header("Access-Control-Allow-Methods", method)
        self.set_status(200)
        self.finish()

    def _preflight_refused(self, status: int) -> None:
        self.set_status(status)
        self.finish()

    # -- bodies and errors ------------------------------------------------------
    def compute_etag(self) -> str | None:
        return None  # Go sent no ETags on API responses; clients must not start caching them

    def is_api(self) -> bool:
        return self.request.path.startswith("/api/")

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(go_json(value))


    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        problem = problem_for(exc) if exc is not None else None
        if problem is not None:
            self.set_status(problem.status)
            message = problem.message
            if problem.retry_after is not None:
                self.set_header("Retry-After", str(problem.retry_after))
        elif isinstance(exc, HTTPError) and exc.log_message and status_code < 500:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        else:
            message = responses.get(status_code, "error").lower()
        self.clear_header("Content-Type")
        if self.get_status() == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
            if not self.is_api():
                self.finish()  # gorilla/mux's empty 405 outside the API, kept for Go clients
                return
        self.set_header("Content-Type", "application/json")
        self.finish(go_json({"error": message}))

    def allowed_methods(self) -> Iterable[str]:
        return [
            m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")
            if getattr(type(self), m.lower()) is not getattr(RequestHandler, m.lower())
        ] + ["OPTIONS"]

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        problem = problem_for(value) if value is not None else None
        if problem is None:
            super().log_exception(typ, value, tb)
        elif problem.status >= 500:
            log.warning("%s %s -> %s: %s", self.request.method, self.request.path, problem.status, value)


@stream_request_body
class JSONBodyHandler(BaseHandler):
    """A handler that reads a small JSON body; an oversized one is answered 413, never buffered."""

    body_limit = MAX_JSON_BODY

    def prepare(self) -> None:
        self._body = bytearray()
        self._too_large = False
        declared = self.request.headers.get("Content-Length", "0")
        if declared.isdigit() and int(declared) > MAX_BUFFERED_BODY:
            # Past what the server reads at all: answer at once (a client that sent
            # `Expect: 100-continue` gets it before sending the body).
            raise PayloadTooLarge(f"JSON body over {self.body_limit} bytes")
        # Anything up to the server's limit is read (and dropped past `body_limit`) and answered
        # 413 when it ends: answering earlier would close the connection on unread data, and the
        # client would see a reset instead of the answer. Chunked bodies have no declared length,
        # so this is the only way they get one.

    def data_received(self, chunk: bytes) -> None:
        # Raising here would only drop the connection; remember it and answer 413 from the verb.
        self._too_large = self._too_large or len(self._body) + len(chunk) > self.body_limit
        if not self._too_large:
            self._body += chunk

    def json_body(self, optional: bool = False) -> Any:
        if self._too_large:
            raise PayloadTooLarge(f"JSON body over {self.body_limit} bytes")
        if optional and not bytes(self._body).strip():
            return None
        try:
            return json.loads(self._body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"malformed JSON body: {exc}") from None


@stream_request_body  # so that it runs as soon as the headers are in, never reading the body
class CrossSiteRefused(BaseHandler):
    """Answers every request `is_cross_site` found, before any handler of the route is built."""

    def prepare(self) -> None:
        raise HTTPError(403, "cross-site request refused: its origin is not in --allowed-origins")


class NotFoundHandler(BaseHandler):
    """Unknown paths: Go's path-cleaning redirect, then a 404 in the path's own style."""

    def prepare(self) -> None:
        if self.request.method == "OPTIONS":
            return
        path = self.request.path
        cleaned = posixpath.normpath(path) if path else "/"
        if path.endswith("/") and cleaned != "/":
            cleaned += "/"  # gorilla/mux keeps a trailing slash when it cleans a path
        cleaned = cleaned.replace("//", "/")
        if cleaned != path:
            # gorilla/mux answers uncleaned paths with 301 to the cleaned one (docs/go-protocol.md §1)
            self.set_status(301)
            self.set_header("Location", cleaned)
            self.finish()
            return
        if self.is_api():
            self.write_json({"error": "not found"}, status=404)
        else:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.set_header("X-Content-Type-Options", "nosniff")
            self.finish("404 page not found\n")
