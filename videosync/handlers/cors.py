"""The CORS policy as Go's gorilla/handlers applied it (methods, headers, exposed headers), and the
cross-site check that refuses a state change a page on another site made a browser send. Pure:
BaseHandler applies it."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from tornado import httputil

# Go-A's CORS (gorilla/handlers) allowed GET, POST, OPTIONS and these headers; we add what
# browsers need for video (HEAD preflights, Range and conditional headers) and Go-B's Authorization,
# and DELETE (a host removing its upload from a page on an allowed origin).
CORS_METHODS = ("GET", "HEAD", "POST", "OPTIONS")  # what Go allowed in front of every route
CORS_SIMPLE_HEADERS = {"accept", "accept-language", "content-language", "origin"}
CORS_HEADERS = {
    "content-type",
    "origin",
    "sec-websocket-extensions",
    "sec-websocket-key",
    "sec-websocket-version",
    "authorization",
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
}
CORS_EXPOSE = "Content-Length"
CORS_EXPOSE_MEDIA = "Content-Length, Content-Range, Accept-Ranges"


def canonical_header(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL (as a browser's `Origin` header would name it), or None."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_cross_site(
    request: httputil.HTTPServerRequest, allowed: Sequence[str], public_url: str | None
) -> bool:
    """Whether a browser sent this request from a page on a site not in `allowed`.

    A page elsewhere can make a visitor's browser send a "simple" request (a no-cors POST) whose
    effect happens even though the page may not read the answer: CORS alone does not stop it.
    Browsers always send `Origin` on state-changing methods; `Referer` covers older ones that did
    not. A request with neither is not from a browser page. The server's own pages are never
    cross-site: `Sec-Fetch-Site: same-origin` (set by the browser, no page can forge it), the origin
    of `--public-url`, or, as in Tornado's own check, an origin naming the host the request went to.
    """
    if "*" in allowed:
        return False
    headers = request.headers
    if headers.get("Sec-Fetch-Site") == "same-origin":
        return False
    origin = headers.get("Origin")
    if origin is None:
        referer = headers.get("Referer")
        origin = origin_of(referer) if referer else None
        if origin is None:
            return False
    origin = origin.rstrip("/").lower()
    if origin in allowed or (public_url is not None and origin == origin_of(public_url)):
        return False
    return urlsplit(origin).netloc != headers.get("Host", "").lower()
