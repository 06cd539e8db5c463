"""REST handlers for sessions: create, validate, public read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tornado.web import HTTPError

from ..passwords import PasswordError, PasswordGuard, check_new_password
from ..session_limits import AddressRateLimit, SessionCap
from ..sessions import SessionNotFound, SessionService, is_session_key, view_to_public_json
from ..settings import Settings
from ..store import Store
from ..store.memory import MemoryStore
from .base import BaseHandler, JSONBodyHandler
from .problems import BadRequest

# Go accepted any path segment; beyond this length nothing can be a key and we stop reading.
MAX_KEY_CHARS = 256


@dataclass
class CreationLimits:
    """What bounds `POST /api/sessions` on this process (None: that limit is off)."""

    rate: AddressRateLimit | None
    cap: SessionCap | None

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> CreationLimits:
        rate = AddressRateLimit(settings.create_rate, settings.create_burst) if settings.create_rate else None
        # Only the embedded store can be counted cheaply and exactly; Redis is bounded by maxmemory.
        if not isinstance(store, MemoryStore) or settings.max_sessions <= 0:
            return cls(rate, None)
        # sessions read back from the data dir count as much as those created from now on
        keys = store.session_keys
        return cls(rate, SessionCap(settings.max_sessions, lambda: len(keys())))


class SessionsHandler(JSONBodyHandler):
    """`POST /api/sessions`: Go-A's 200 and `sessionKey`, plus Go-B's `hostToken`."""

    def initialize(
        self,
        sessions: SessionService,
        limits: CreationLimits | None = None,
        passwords: PasswordGuard | None = None,
    ) -> None:
        self.sessions = sessions
        self.limits = limits or CreationLimits(None, None)
        self.passwords = passwords

    def prepare(self) -> None:
        super().prepare()
        # Refused before the body is read: a client over its rate costs no more than its headers.
        if self.request.method == "POST" and self.limits.rate is not None:
            wait = self.limits.rate.take(self.request.remote_ip or "")
            if wait is not None:
                self.set_header("Retry-After", str(wait))
                self.write_json({"error": "too many sessions created from this address; retry later"}, 429)

    async def post(self) -> None:
        body = self.json_body(optional=True)
        video = self._requested_video(body)
        password_hash = await self._password_hash(body)
        if password_hash == "":
            self.set_header("Retry-After", "1")
            self.write_json({"error": "the server is busy hashing passwords; retry shortly"}, 503)
            return
        cap = self.limits.cap
        if cap is not None and not cap.has_room():
            full = f"the server holds its maximum of {cap.limit} sessions; retry later"
            self.write_json({"error": full}, 503)
            return
        created = await self.sessions.create(video, password_hash)
        if cap is not None:
            cap.add()
        self.write_json({"sessionKey": created.key, "hostToken": created.host_token})

    async def _password_hash(self, body: Any) -> str | None:
        """The stored form of the body's `password` (None: no password; "": the hash pool is full)."""
        if not isinstance(body, dict) or body.get("password") is None:
            return None
        if self.passwords is None:
            raise BadRequest("this server does not take session passwords")
        try:
            password = check_new_password(body["password"])
        except PasswordError as exc:
            raise BadRequest(str(exc)) from None
        return await self.passwords.hash(password) or ""

    @staticmethod
    def _requested_video(body: Any) -> str | None:
        # Go-A ignored the body; a JSON body may now name the video (PROTOCOL.md §1).
        if body is None:
            return None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        video = body.get("video")
        if video is not None and (not isinstance(video, str) or not video):
            raise BadRequest("'video' must be a non-empty string")
        return video


class ValidateHandler(BaseHandler):
    """`GET /api/sessions/{key}/validate`: Go-A's `{"valid":…}`; only real session keys are valid."""

    def initialize(self, sessions: SessionService) -> None:
        self.sessions = sessions

    async def get(self, key: str) -> None:
        if "/" in key:
            raise HTTPError(404)  # "%2F" names no session; gorilla/mux decoded it and found no route
        valid = len(key) <= MAX_KEY_CHARS and await self.sessions.exists(key)
        self.write_json({"valid": valid})


class SessionHandler(BaseHandler):
    """`GET /api/sessions/{key}`: Go-B's public read, minus the host token Go-B leaked."""

    def initialize(self, sessions: SessionService, public_url: str | None = None) -> None:
        self.sessions = sessions
        self.public_url = public_url

    async def get(self, key: str) -> None:
        if len(key) > MAX_KEY_CHARS or not is_session_key(key):
            raise SessionNotFound(key)
        view = await self.sessions.view(key)
        body = view_to_public_json(view)
        # Go-B clients find the video here; ours is served by this server (PROTOCOL.md §1). Never
        # from the Host header: any client can send any Host, and the URL would point anywhere.
        video_path = f"/api/videos/{quote(view.video)}/file" if view.video else "/api/video"
        body["streamingUrl"] = (self.public_url or "") + video_path
        # Only whether a password is needed: never the hash.
        meta = await self.sessions.meta(key)
        body["passwordRequired"] = meta is not None and meta.password is not None
        self.write_json(body)
