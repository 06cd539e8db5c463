"""`--accel-redirect PREFIX`: videosync decides, nginx sends the bytes (docs/production.md §3).

Bulk file bytes and sync messages otherwise share one event loop: 20 clients pulling 1 MiB ranges
keep it ~99 % busy (docs/benchmarks-sync-load.md), and every sync message waits behind them. In
this mode a media route still does everything that decides *whether* and *which* file: the
route's id lookup, path confinement, the 404s and 400s, CORS, Cache-Control. Then, instead of the
body, it answers `X-Accel-Redirect: PREFIX/<path under the media dir, percent-encoded>` with the
Content-Type, and nginx (an `internal` location aliasing the media dir) answers the client: ranges,
conditionals, HEAD, 416, with sendfile and off videosync's loop.

What nginx cannot do as this server does stays here: playlists (`accelerated = False` on their
handler) change several times a second while ffmpeg writes them and are validated by an inode and
nanosecond ETag nginx has no equivalent for; they are a few KiB, so nothing is gained by moving
them. The headers each side sets are listed in PROTOCOL.md §3 (*Behind nginx with
--accel-redirect*).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from tornado.web import HTTPError

if TYPE_CHECKING:
    from .ranged import RangedFileHandler

ACCEL_HEADER = "X-Accel-Redirect"


@dataclass(frozen=True)
class AccelRedirect:
    """Where nginx finds the media dir (`prefix`, its internal location) and what it aliases
    (`root`, the media dir's real path: every file a route serves has been confined under it)."""

    prefix: str
    root: str

    def uri_for(self, path: str) -> str | None:
        """The internal URI naming `path`, or None for a file outside the media dir (served by
        videosync itself: nginx's location aliases the media dir and nothing else)."""
        root = self.root.rstrip(os.sep) + os.sep
        if not path.startswith(root):
            return None
        # bytes, so a file name that is not UTF-8 survives (nginx unescapes to the same bytes);
        # `/` stays, everything else outside unreserved characters is escaped (`?`, `%`, `#`, space)
        return self.prefix + "/" + quote(os.fsencode(path[len(root):]), safe="/")

    def answer(self, handler: RangedFileHandler, path: str | os.PathLike[str], content_type: str) -> bool:
        """Answer `handler`'s request with the redirect; False when nginx cannot serve `path`
        (the caller then serves it). A missing or non-regular file is this server's 404."""
        real = os.fspath(path)
        uri = self.uri_for(real)
        if uri is None:
            return False
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            raise HTTPError(404, "not found") from None
        if not stat.S_ISREG(st.st_mode):
            raise HTTPError(404, "not found")
        # nginx sends its own ETag ("mtime-size" in hex, the format of `_etag`); this one is
        # copied by the `add_header ETag $upstream_http_etag` of the internal location, which
        # also removes nginx's where videosync sends none (/api/video and segments, as Go)
        if handler.send_etag:
            handler.set_header("Etag", handler._etag(st))
        handler.set_extra_headers()  # Cache-Control: nginx passes it on from this answer
        handler.set_header("Content-Type", content_type)
        handler.set_header(ACCEL_HEADER, uri)
        handler.finish()
        return True
