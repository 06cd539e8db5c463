"""REST handlers for sessions: create, validate, public read."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tornado.web import HTTPError

from ..sessions import SessionNotFound, SessionService, is_session_key, view_to_public_json
from .base import BadRequest, BaseHandler, JSONBodyHandler

# Go accepted any path segment; beyond this length nothing can be a key and we stop reading.
MAX_KEY_CHARS = 256


class SessionsHandler(JSONBodyHandler):
    """`POST /api/sessions`: Go-A's 200 and `sessionKey`, plus Go-B's `hostToken`."""

    def initialize(self, sessions: SessionService) -> None:
        self.sessions = sessions

    async def post(self) -> None:
        video = self._requested_video(self.json_body(optional=True))
        created = await self.sessions.create(video)
        self.write_json({"sessionKey": created.key, "hostToken": created.host_token})

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

    def initialize(self, sessions: SessionService) -> None:
        self.sessions = sessions

    async def get(self, key: str) -> None:
        if len(key) > MAX_KEY_CHARS or not is_session_key(key):
            raise SessionNotFound(key)
        view = await self.sessions.view(key)
        body = view_to_public_json(view)
        # Go-B clients find the video here; ours is served by this server (PROTOCOL.md §1).
        video_path = f"/api/videos/{quote(view.video)}/file" if view.video else "/api/video"
        body["streamingUrl"] = f"{self.request.protocol}://{self.request.host}{video_path}"
        self.write_json(body)
