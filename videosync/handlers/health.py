"""Liveness, readiness and the API root."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from ..store import Store, StoreError
from .base import BaseHandler
from .problems import RETRY_AFTER_S


def go_time(now: float) -> str:
    """A wall-clock time in the shape of Go's time.Time.String() (without the monotonic part)."""
    moment = datetime.fromtimestamp(now, UTC)
    nanos = int(round((now - int(now)) * 1e9)) % 1_000_000_000
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{nanos:09d} +0000 UTC"


class HealthHandler(BaseHandler):
    """Liveness: answers while the process runs, whatever the store does (as Go-A)."""

    def initialize(self, store: Store) -> None:
        self.store = store

    def get(self) -> None:
        scheme = self.store.url.split("://", 1)[0]
        kind = scheme if scheme in ("memory", "sqlite") else "redis"
        self.write_json({"status": "ok", "time": go_time(time.time()), "store": kind})


class ReadyHandler(BaseHandler):
    """Readiness: 503 while the store cannot be reached, so a balancer drains this instance."""

    def initialize(self, store: Store) -> None:
        self.store = store

    async def get(self) -> None:
        try:
            await self.store.ping()
        except StoreError:
            self.set_header("Retry-After", str(RETRY_AFTER_S))
            self.write_json({"error": "session store unavailable"}, status=503)
            return
        self.write_json({"status": "ready"})


class RootHandler(BaseHandler):
    """`GET /`: Go-A's JSON for API clients, the web app for browsers."""

    def initialize(self, web_dir: Path | None) -> None:
        self.index = web_dir / "index.html" if web_dir is not None else None

    def get(self) -> None:
        accept = self.request.headers.get("Accept", "")
        if "text/html" in accept and self.index is not None and self.index.is_file():
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-cache")
            self.finish(self.index.read_bytes())
            return
        self.write_json({"message": "VideoSync API Server", "status": "running"})
