"""Who may upload and delete videos, and how many bytes uploads may hold (the access model).

An upload carries credentials in `Authorization: Bearer TOKEN`: the operator's `--admin-token`, or
the host token of a live session together with that session's key in `?session=KEY` (the token
alone names no session). `--uploads` says who may upload: `off` (the admin only), `hosts` (the
default: a live session's host, or the admin) or `anyone`. A host's upload belongs to the session;
the admin's, and an anonymous one under `anyone`, go to the permanent library.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from .media import MediaLibrary
from .sessions import SessionService, is_session_key
from .video import VideoFile


class UploadMode(StrEnum):
    OFF = "off"
    HOSTS = "hosts"
    ANYONE = "anyone"


class Denied(Exception):
    """Refused for who the caller is: `status` 401 (no valid credentials) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


HOW_TO_AUTHENTICATE = (
    "send the host token of a live session as 'Authorization: Bearer <hostToken>' "
    "with its key as '?session=<sessionKey>'"
)


@dataclass(frozen=True)
class Caller:
    admin: bool = False
    session: str | None = None  # the live session whose host token was presented
    presented: bool = False  # credentials were sent (valid or not)

    @property
    def owner(self) -> str | None:
        """Whose an upload by this caller is: its session's, or nobody's (the permanent library)."""
        return None if self.admin else self.session

    def may_see(self, video: VideoFile) -> bool:
        return video.owner is None or self.admin or video.owner == self.session

    def may_delete(self, video: VideoFile) -> bool:
        return video.uploaded and (self.admin or (video.owner is not None and video.owner == self.session))


def bearer_token(header: str | None) -> str | None:
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def identify(
    sessions: SessionService | None, admin_token: str | None, authorization: str | None,
    session_key: str | None,
) -> Caller:
    token = bearer_token(authorization)
    if token is None:
        return Caller(presented=authorization is not None or session_key is not None)
    # bytes: compare_digest refuses str with non-ASCII characters (a made-up token may have them)
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        return Caller(admin=True, presented=True)
    if sessions is not None and session_key and is_session_key(session_key) \
            and await sessions.check_host_token(session_key, token) and await sessions.exists(session_key):
        return Caller(session=session_key, presented=True)
    return Caller(presented=True)


def check_upload(mode: UploadMode, caller: Caller) -> None:
    """Denied unless this caller may upload under `mode`."""
    if caller.admin:
        return
    if caller.presented and caller.session is None:
        raise Denied(401, f"these credentials are not valid: {HOW_TO_AUTHENTICATE}")
    if mode == UploadMode.OFF:
        raise Denied(403, "uploads are turned off on this server")
    if mode == UploadMode.HOSTS and caller.session is None:
        raise Denied(401, f"uploading needs a session's host: {HOW_TO_AUTHENTICATE}")


class Quotas:
    """Bytes uploads may hold: `per_session` for one session's, `total` for all of them.

    Bytes stored count from the library; bytes still arriving are reserved here as they come, so two
    uploads at once cannot both fit in the same room. Reservations are per process: with several
    workers an upload may overshoot by what other workers are receiving at that moment."""

    def __init__(self, library: MediaLibrary, per_session: int, total: int) -> None:
        self.library = library
        self.per_session = per_session
        self.total = total
        self._reserved: Counter[str | None] = Counter()

    def room(self, caller: Caller) -> tuple[int, str]:
        """(bytes this caller may still upload, what limits it) — unlimited for the admin."""
        if caller.admin:
            return 1 << 62, ""
        uploads = self.library.uploads()
        all_used = sum(v.size for v in uploads) + sum(self._reserved.values())
        room = self.total - all_used
        why = f"over the server's upload space (--media-quota, {self.total} bytes)"
        owner = caller.owner
        if owner is not None:
            used = sum(v.size for v in uploads if v.owner == owner) + self._reserved[owner]
            if self.per_session - used < room:
                room = self.per_session - used
                why = f"over this session's upload quota (--upload-quota, {self.per_session} bytes)"
        return max(0, room), why

    def reserve(self, caller: Caller, size: int) -> None:
        if not caller.admin:
            self._reserved[caller.owner] += size

    def release(self, caller: Caller, size: int) -> None:
        if not caller.admin and size:
            self._reserved[caller.owner] -= size
            if self._reserved[caller.owner] <= 0:
                del self._reserved[caller.owner]
