"""`GET /metrics`: Prometheus text format (videosync/metrics.py has what is counted)."""

from __future__ import annotations

from tornado.web import RequestHandler

from .. import metrics


class MetricsHandler(RequestHandler):
    def set_default_headers(self) -> None:
        self.clear_header("Server")

    def get(self) -> None:
        body, content_type = metrics.exposition(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)
