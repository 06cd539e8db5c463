"""The host's tools against unwanted members: kick, ban, lock; and who may come in at all.

Records live in the store with the session (`session:{K}:moderation`, same TTL, deleted with it), so
every process applies them:
  kick:{memberId}  the member was removed: its resume token no longer restores it (it may come
                   back as a new member, unless the session is locked or it is also banned)
  ban:{memberId}   removed for the rest of the session: a join presenting its resume token
                   (the same tab, or its reload) is refused with close 4003
  locked           "1" while the host keeps new members out (4003); a member who was in before
                   (a reconnect presenting its resume token) still comes back
The host token bypasses lock, ban and password: the session's owner cannot lock itself out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..closecodes import (
    BANNED,
    KICKED,
    LOCKED,
    PASSWORD_RATE_LIMITED,
    PASSWORD_REQUIRED,
    WRONG_PASSWORD,
    Close,
)
from ..events import Event, EventKind
from ..passwords import MAX_PASSWORD_CHARS, PasswordGuard
from ..presence import member_from_resume
from ..protocol import INVALID_MESSAGE, NOT_HOST, UNKNOWN_MEMBER, Kick, Lock, ProtocolError
from ..sessions import SessionNotFound, SessionService, short_key
from .context import Peer
from .feature import RoomFeature

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

LOCKED_FIELD = "locked"


def kick_field(member_id: str) -> str:
    return f"kick:{member_id}"


def ban_field(member_id: str) -> str:
    return f"ban:{member_id}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_kicked(member_id: str, ban: bool) -> str:
    return _json({"type": "kicked", "memberId": member_id, "ban": ban})


def encode_locked(locked: bool, by: str) -> str:
    return _json({"type": "locked", "locked": locked, "by": by})


# -- commands (host only) -----------------------------------------------------------------------
def _require_host(room: Room, peer: Peer) -> None:
    if room.host_id != peer.member_id:
        raise ProtocolError(NOT_HOST, "only the host can do that")


async def kick(room: Room, peer: Peer, command: Kick, _received_ms: float) -> None:
    _require_host(room, peer)
    target = command.member_id
    if target == peer.member_id:
        raise ProtocolError(INVALID_MESSAGE, "the host cannot remove itself")
    ctx = room.ctx
    if (await ctx.presence.roster(room.key)).get(target) is None:
        raise ProtocolError(UNKNOWN_MEMBER, "no such member in this session")
    field = ban_field(target) if command.ban else kick_field(target)
    store, ttl = ctx.sessions.store, ctx.settings.session_ttl
    if not await store.set_moderation(room.key, field, str(ctx.clock()), ttl):
        raise SessionNotFound(room.key)
    what = "banned" if command.ban else "kicked"
    log.info("session %s: %s %s by the host", short_key(room.key), target, what)
    meta = {"memberId": target, "ban": command.ban, "skip": target}
    await room.publish(Event(EventKind.KICK, meta, encode_kicked(target, command.ban)))


async def lock(room: Room, peer: Peer, command: Lock, _received_ms: float) -> None:
    _require_host(room, peer)
    ctx = room.ctx
    value = "1" if command.locked else None
    if not await ctx.sessions.store.set_moderation(room.key, LOCKED_FIELD, value, ctx.settings.session_ttl):
        raise SessionNotFound(room.key)
    wire = encode_locked(command.locked, peer.member_id)
    await room.publish(Event(EventKind.LOCK, {"locked": command.locked}, wire))


class Moderation(RoomFeature):
    """A room's part in moderation: closing kicked members' sockets, the lock in every `init`."""

    name = "moderation"
    events = frozenset({EventKind.KICK})

    def on_event(self, event: Event) -> None:
        """A kick heard on the channel: the process holding the member's socket closes it (4003)."""
        target = event.meta.get("memberId")
        peer = self.room.peers.get(target) if isinstance(target, str) else None
        if peer is not None:
            peer.disconnect(Close.FORBIDDEN, BANNED if event.meta.get("ban") else KICKED)

    async def init_fields(self, _member_id: str) -> dict[str, Any]:
        records = await self.room.ctx.sessions.store.get_moderation(self.room.key)
        return {"locked": records.get(LOCKED_FIELD) == "1"}


# -- admission (before a socket joins: nothing is sent to a refused one) --------------------------
@dataclass(frozen=True)
class Admission:
    refusal: str | None  # a close-4003 reason, or None: may join
    resume: str | None  # the resume token to join with (dropped when it no longer restores a member)


async def admit(
    sessions: SessionService,
    guard: PasswordGuard,
    key: str,
    *,
    host_token: str | None,
    resume: str | None,
    password: str | None,
    address: str,
) -> Admission:
    # one round trip's wait for both (Redis pipelines them): every join pays it
    meta, records = await asyncio.gather(sessions.meta(key), sessions.store.get_moderation(key))
    if meta is None or meta.accepts(host_token):
        return Admission(None, resume)
    member = member_from_resume(meta.host_token, resume) if resume else None
    if member is not None and ban_field(member) in records:
        return Admission(BANNED, None)
    if member is not None and kick_field(member) in records:
        member, resume = None, None
    if member is None and records.get(LOCKED_FIELD) == "1":
        return Admission(LOCKED, None)
    if meta.password is not None:
        if not password:
            return Admission(PASSWORD_REQUIRED, None)
        if not guard.allow_attempt(address, key):
            return Admission(PASSWORD_RATE_LIMITED, None)
        matched = len(password) <= MAX_PASSWORD_CHARS and await guard.verify(password, meta.password)
        if matched is None:
            return Admission(PASSWORD_RATE_LIMITED, None)
        if not matched:
            return Admission(WRONG_PASSWORD, None)
    return Admission(None, resume)
