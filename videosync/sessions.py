"""The session service: create, look up and change sessions. Framework-free; time is passed in."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import uuid6

from . import metrics
from .state import INITIAL_STATE_JSON, PlaybackState
from .store import StateChanged, Store, StoreError
from .store.base import session_channel

log = logging.getLogger(__name__)

# Canonical lower-case UUIDs only: Go's keys are v4, ours v7; both match. Anything else
# ("{K}:state", upper case, 10,000 characters) can never name a session (docs/go-protocol.md §2.8.7).
_KEY_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class SessionNotFound(LookupError):
    """No live session has this key."""


class UnknownVideo(LookupError):
    """A session was asked to play a video the library does not have."""


_COMPACT = json.JSONEncoder(separators=(",", ":"))


def short_key(key: str) -> str:
    """Enough of a key to follow it in logs without publishing it: its last 8 hex digits (random in
    both our UUIDv7 keys and Go's v4; a v7 key's first 8 are its creation minute, shared by many)."""
    return "…" + key[-8:]


def is_session_key(key: str) -> bool:
    return bool(_KEY_RE.match(key))


def epoch_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SessionMeta:
    host_token: str
    video: str | None
    created_at: int
    password: str | None = None  # the session password's salted hash (passwords.py), never the password

    def encode(self) -> str:
        fields: dict[str, object] = {
            "hostToken": self.host_token, "video": self.video, "createdAt": self.created_at
        }
        if self.password is not None:
            fields["password"] = self.password
        return _COMPACT.encode(fields)

    def accepts(self, token: str | None) -> bool:
        """Whether `token` is this session's host token."""
        if not token:
            return False
        # Go-B compared trimmed tokens; a token pasted with spaces still works.
        # bytes: compare_digest refuses str with non-ASCII characters (a made-up token may have them)
        return secrets.compare_digest(self.host_token.encode(), token.strip().encode())

    @classmethod
    def decode(cls, text: str | None) -> SessionMeta | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            password = data.get("password")
            return cls(
                str(data["hostToken"]), data.get("video"), int(data["createdAt"]),
                password if isinstance(password, str) else None,
            )
        except (ValueError, KeyError, TypeError):
            return None


# A state write retried this many times against newer states before giving up: each retry means
# another writer got in between, which with one host per session is already rare.
UPDATE_ATTEMPTS = 5


@dataclass(frozen=True)
class StoredState:
    """A state and the exact text the store holds for it (None: no state stored)."""

    state: PlaybackState
    text: str | None

    @classmethod
    def parse(cls, text: str | None) -> StoredState:
        return cls(PlaybackState.decode(text), text)


@dataclass(frozen=True)
class CreatedSession:
    key: str
    host_token: str
    video: str | None


@dataclass(frozen=True)
class SessionView:
    """What anyone holding the key may read: never the host token."""

    key: str
    state: PlaybackState
    video: str | None
    created_at: int | None
    has_host: bool


# One change of `update_states`: the new state from the one before it, and the channel message of
# the stored result.
StateStep = tuple[Callable[[PlaybackState], PlaybackState], Callable[["StoredState"], str]]


class SessionService:
    def __init__(
        self,
        store: Store,
        ttl: int,
        video_exists: Callable[[str], bool] = lambda _id: True,
        clock: Callable[[], int] = epoch_ms,
    ) -> None:
        self.store = store
        self.ttl = ttl
        self._video_exists = video_exists
        self._clock = clock

    def now(self) -> int:
        return self._clock()

    def video_exists(self, video: str) -> bool:
        return self._video_exists(video)

    async def create(self, video: str | None = None, password_hash: str | None = None) -> CreatedSession:
        if video is not None and not self._video_exists(video):
            raise UnknownVideo(video)
        key = str(uuid6.uuid7())
        token = secrets.token_urlsafe(24)
        state = INITIAL_STATE_JSON if video is None else PlaybackState(video=video).encode()
        meta = SessionMeta(token, video, self.now(), password_hash)
        await self.store.create_session(key, state, meta.encode(), self.ttl)
        metrics.SESSIONS_CREATED.inc()
        # debug: the access line already records each creation, and a second INFO line per
        # request doubled what logging costs a creation (scripts/bench/bench_access_log.py)
        log.debug("session %s created", short_key(key))
        return CreatedSession(key, token, video)

    async def exists(self, key: str) -> bool:
        return is_session_key(key) and await self.store.session_exists(key)

    async def require(self, key: str) -> None:
        if not await self.exists(key):
            raise SessionNotFound(key)

    async def state(self, key: str) -> PlaybackState:
        return (await self.stored_state(key)).state

    async def stored_state(self, key: str) -> StoredState:
        return StoredState.parse(await self.store.get_state(key))

    async def meta(self, key: str) -> SessionMeta | None:
        return SessionMeta.decode(await self.store.get_meta(key))

    async def view(self, key: str) -> SessionView:
        if not is_session_key(key):
            raise SessionNotFound(key)
        # four independent reads: one round trip's wait, not four (Redis pipelines them)
        exists, state, meta, host = await asyncio.gather(
            self.store.session_exists(key), self.state(key), self.meta(key), self.store.get_host(key)
        )
        if not exists:
            raise SessionNotFound(key)
        return SessionView(
            key=key,
            state=state.at(self.now()) if not state.paused else state,
            video=state.video or (meta.video if meta else None),
            created_at=meta.created_at if meta else None,
            has_host=host is not None,
        )

    async def check_host_token(self, key: str, token: str | None) -> bool:
        if not token:
            return False
        meta = await self.meta(key)
        return meta is not None and meta.accepts(token)

    async def save_state(self, key: str, state: PlaybackState) -> PlaybackState:
        """Persist `state` as the next version; SessionNotFound if the session is gone."""
        return (await self.update_state(key, lambda _current: state)).state

    async def update_state(
        self,
        key: str,
        change: Callable[[PlaybackState], PlaybackState],
        cached: StoredState | None = None,
        announce: Callable[[StoredState], str] | None = None,
    ) -> StoredState:
        """Store `change(current)` as the version after `current`, atomically; SessionNotFound if
        the session is gone.

        `current` is `cached` when given (no read: a host's update is then one round trip), else
        read. The write is a compare-and-set on the text it was based on: if the state changed
        meanwhile (another process, a stale cache), `change` is applied again to the newer one.
        `announce(saved)` builds the message for the session's channel, published in the same
        store operation as the write."""
        base = cached if cached is not None else await self.stored_state(key)
        # A writer that does not number its states (a Go instance on the same Redis) stores version
        # 0; members have seen the cached one, and a lower number would look stale to them.
        floor = base.state.version
        for _ in range(UPDATE_ATTEMPTS):
            new = replace(change(base.state), version=max(base.state.version, floor) + 1)
            text = new.encode()
            saved = StoredState(new, text)
            message = (session_channel(key), announce(saved)) if announce is not None else None
            try:
                written = await self.store.set_state(key, text, self.ttl, message, expect=base.text or "")
            except StateChanged:
                base = await self.stored_state(key)
                floor = max(floor, new.version - 1)
                continue
            if not written:
                raise SessionNotFound(key)
            return saved
        raise StoreError(f"session {short_key(key)}: the state kept changing under the write")

    def update_states(
        self, key: str, steps: Sequence[StateStep], cached: StoredState | None = None
    ) -> Awaitable[StoredState]:
        """`update_state` for a sequence of changes, each written as its own version and announced
        with its own message, in order, all in one store step (one Redis round trip). Returns
        the last. With `cached`, the write is sent before this returns (in this loop turn's
        batch); if the state changed under it, the whole sequence is applied again to the newer
        state."""
        if cached is None:
            return self._settle_chain(key, steps, None, None)
        floor = cached.state.version
        return self._settle_chain(key, steps, self._write_chain(key, steps, cached, floor), floor)

    def _write_chain(
        self, key: str, steps: Sequence[StateStep], base: StoredState, floor: int
    ) -> tuple[StoredState, Awaitable[bool]]:
        chain: list[tuple[str, tuple[str, str]]] = []
        previous = base
        for change, announce in steps:
            new = replace(change(previous.state), version=max(previous.state.version, floor) + 1)
            previous = StoredState(new, new.encode())
            chain.append((previous.text or "", (session_channel(key), announce(previous))))
        return previous, self.store.set_states(key, chain, self.ttl, expect=base.text or "")

    async def _settle_chain(
        self,
        key: str,
        steps: Sequence[StateStep],
        written: tuple[StoredState, Awaitable[bool]] | None,
        floor: int | None,
    ) -> StoredState:
        for _ in range(UPDATE_ATTEMPTS):
            if written is None:
                base = await self.stored_state(key)
                # as in update_state: never number below what members have seen
                floor = base.state.version if floor is None else floor
                written = self._write_chain(key, steps, base, floor)
            assert floor is not None  # set with the first write
            last, done = written
            try:
                if not await done:
                    raise SessionNotFound(key)
            except StateChanged:
                floor = max(floor, last.state.version - len(steps))
                written = None
                continue
            return last
        raise StoreError(f"session {short_key(key)}: the state kept changing under the write")

    async def touch(self, key: str) -> bool:
        return await self.store.touch(key, self.ttl)


def view_to_public_json(view: SessionView) -> dict[str, object]:
    return {
        "sessionKey": view.key,
        "state": json.loads(view.state.encode()),
        "video": view.video,
        "createdAt": view.created_at,
        "hasHost": view.has_host,
    }
