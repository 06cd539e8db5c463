"""The application: one route table, every dependency passed in through `initialize()`."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado import httputil
from tornado.log import access_log
from tornado.web import Application, RequestHandler, StaticFileHandler

from .handlers.accel import AccelRedirect
from .handlers.base import MAX_BUFFERED_BODY, CrossSiteRefused, NotFoundHandler
from .handlers.cors import SAFE_METHODS, is_cross_site
from .handlers.health import HealthHandler, ReadyHandler, RootHandler
from .handlers.media import media_routes
from .handlers.metrics import MetricsHandler
from .handlers.sessions import CreationLimits, SessionHandler, SessionsHandler, ValidateHandler
from .handlers.ws import SyncSocket
from .handlers.zerocopy import TurnBudget
from .iplimit import AddressLimit
from .logformat import LineHandler
from .media import MediaLibrary
from .packager import Packager
from .room import Hub
from .sessions import SessionService
from .settings import Settings
from .store import Store

__all__ = ["MAX_BUFFERED_BODY", "Services", "make_app"]  # the first for HTTPServer(max_body_size=...)

_KEY = r"([^/]+)"


def default_web_dir() -> Path:
    """The web app a wheel carries (copied into the package at build time, see setup.py), else the
    checkout's web/ beside the package (a source tree or an editable install)."""
    package = Path(__file__).resolve().parent
    packaged = package / "web"
    return packaged if (packaged / "index.html").is_file() else package.parent / "web"


@dataclass
class Services:
    """Everything the handlers need, built once by `__main__` (or a test fixture)."""

    settings: Settings
    store: Store
    sessions: SessionService
    library: MediaLibrary
    packager: Packager | None = None
    hub: Hub = field(default=None)  # type: ignore[assignment]  # built from the others when absent

    def __post_init__(self) -> None:
        if self.hub is None:
            self.hub = Hub(
                self.sessions, self.settings,
                media_status=self.packager.status if self.packager is not None else None,
                default_video=lambda: self.library.default().id,
            )


class WebFileHandler(StaticFileHandler):
    """The web app's static files; revalidated on every load so a deploy is seen at once."""

    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")


def web_routes(web_dir: Path) -> list[tuple[str, type, dict[str, Any]]]:
    # A wheel carries hls.js's one needed file in vendor/hls; a checkout has npm's whole package.
    vendor = web_dir / "vendor" / "hls"
    if not vendor.is_dir():
        vendor = web_dir / "node_modules" / "hls.js" / "dist"
    return [
        (r"/(index\.html)", WebFileHandler, {"path": str(web_dir)}),
        (r"/((?:pages|js|css|img)/.*)", WebFileHandler, {"path": str(web_dir)}),
        (r"/vendor/hls/(.*)", WebFileHandler, {"path": str(vendor)}),
    ]


_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}([0-9a-f]{8})")


def log_request(handler: RequestHandler) -> None:
    """Access log without query strings (host tokens travel there) and with keys shortened.

    One line per request is a hot path (measured: 31 µs a line through `Logger.log`, of a
    session creation's ~190): the line is formatted here, once, and handed to the handlers as a
    record made directly, skipping `findCaller`'s walk up the stack that `Logger.log` does for a
    file and line number no access line shows; where the server's own handler is the only place
    the line goes, it is written there without a record (scripts/bench/bench_access_log.py)."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return  # at --log-level warning the hot path pays for nothing here
    request = handler.request
    path = request.path
    if "-" in path:  # only paths with a session key have something to shorten
        path = _UUID_RE.sub(r"…\1", path)  # as sessions.short_key
    line = f"{status} {request.method} {path} {1000.0 * request.request_time():.2f}ms"
    direct = LineHandler.direct_for(access_log)
    if direct is not None:
        direct.write_line(level, access_log.name, line)
    else:
        access_log.handle(access_log.makeRecord(access_log.name, level, "", 0, line, (), None))


class VideosyncApplication(Application):
    """Tornado's Application, refusing cross-site state changes on every route (PROTOCOL.md §1)."""

    def find_handler(self, request: httputil.HTTPServerRequest, **kwargs: Any) -> Any:
        # Here, before any route's handler exists: nothing it does in prepare() or with the body
        # (an upload streams to disk) can happen for a refused request.
        if request.method not in SAFE_METHODS and is_cross_site(
            request, self.settings["allowed_origins"], self.settings.get("public_url")
        ):
            return self.get_handler_delegate(request, CrossSiteRefused)
        return super().find_handler(request, **kwargs)


def make_app(services: Services) -> Application:
    settings = services.settings
    sessions = {"sessions": services.sessions}
    store = {"store": services.store}
    creation_limits = CreationLimits.from_settings(settings, services.store)
    web_dir = Path(settings.web_dir) if settings.web_dir else default_web_dir()
    routes: list[Any] = [
        (r"/", RootHandler, {"web_dir": web_dir if web_dir.is_dir() else None}),
        (r"/health", HealthHandler, store),
        (r"/ready", ReadyHandler, store),
        (r"/metrics", MetricsHandler),
        (r"/api/sessions", SessionsHandler, {
            **sessions, "limits": creation_limits, "passwords": services.hub.passwords,
        }),
        (rf"/api/sessions/{_KEY}/validate", ValidateHandler, sessions),
        (rf"/api/sessions/{_KEY}", SessionHandler, {**sessions, "public_url": settings.public_url}),
        (r"/ws", SyncSocket, {
            "hub": services.hub, "sessions": services.sessions, "settings": settings,
            "per_address": AddressLimit(settings.max_connections_per_ip),  # one per process
        }),
        *media_routes(services.library, services.packager, settings, services.sessions),
    ]
    if web_dir.is_dir():
        routes += web_routes(web_dir)
    accel = (AccelRedirect(settings.accel_redirect, str(services.library.root))
             if settings.accel_redirect else None)
    return VideosyncApplication(
        routes,
        default_handler_class=NotFoundHandler,
        allowed_origins=settings.allowed_origins,
        public_url=settings.public_url,
        compress_response=False,
        websocket_ping_interval=None,
        log_function=log_request,
        accel_redirect=accel,  # read by RangedFileHandler.serve
        # bulk file bytes per loop turn, smaller while sync members share the loop (zerocopy.py)
        turn_budget=TurnBudget(sync_active=services.hub.has_members),
    )
