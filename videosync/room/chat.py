"""Text chat: a member's line goes to everyone in the session (every process, through the session's
channel) and into a bounded history in the store that late joiners and reconnecting tabs get with
their `init` (field `chat`).

Text is plain: control characters other than line breaks are dropped, it is trimmed, and a line
over `--chat-max-chars` is refused (never cut: the sender would not know what others saw). Each
socket has a chat token bucket of its own (`--chat-rate`, `--chat-burst`) besides the socket's
message limit; over it the sender gets `error` `rate_limited` and loses nothing else.
"""

from __future__ import annotations

import json
import time
import weakref
from typing import TYPE_CHECKING, Any

import uuid6

from ..events import Event, EventKind
from ..protocol import INVALID_MESSAGE, RATE_LIMITED, Chat, ProtocolError
from ..ratelimit import TokenBucket
from ..server_messages import RawJSON
from ..sessions import SessionNotFound
from .context import Peer
from .feature import RoomFeature

if TYPE_CHECKING:
    from .room import Room

FEATURE = "chat"


def clean_text(text: str, max_chars: int) -> str:
    """Printable characters and line breaks, trimmed; ProtocolError if empty or too long."""
    cleaned = "".join(ch for ch in text.replace("\r\n", "\n") if ch.isprintable() or ch == "\n").strip()
    if not cleaned:
        raise ProtocolError(INVALID_MESSAGE, "text must not be empty")
    if len(cleaned) > max_chars:
        raise ProtocolError(INVALID_MESSAGE, f"text must be at most {max_chars} characters")
    return cleaned


def encode_chat(message_id: str, member_id: str, name: str, text: str, at_ms: int) -> str:
    fields = {"type": "chat", "id": message_id, "from": member_id, "name": name, "text": text, "at": at_ms}
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


class ChatBuckets:
    """Each socket's chat allowance; a socket's bucket goes with the socket (weakly held)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: weakref.WeakKeyDictionary[Peer, TokenBucket] = weakref.WeakKeyDictionary()

    def take(self, peer: Peer) -> bool:
        now = time.monotonic()
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)


class ChatFeature(RoomFeature):
    """A room's chat: its sockets' allowances, and the history in every `init`."""

    name = FEATURE

    def __init__(self, room: Room) -> None:
        super().__init__(room)
        settings = room.ctx.settings
        self.buckets = ChatBuckets(settings.chat_rate, settings.chat_burst)

    async def init_fields(self, _member_id: str) -> dict[str, Any]:
        """`init`'s `chat`: the session's last messages, oldest first, as they were sent."""
        room = self.room
        if room.ctx.settings.chat_history <= 0:
            return {"chat": []}
        history = await room.ctx.sessions.store.get_chat(room.key)
        return {"chat": RawJSON("[" + ",".join(history) + "]")}


async def send_chat(room: Room, peer: Peer, command: Chat, _received_ms: float) -> None:
    settings = room.ctx.settings
    text = clean_text(command.text, settings.chat_max_chars)
    chat = room.feature(ChatFeature)
    if chat is not None and not chat.buckets.take(peer):
        raise ProtocolError(RATE_LIMITED, "too many chat messages; wait a moment")
    member = room.members.get(peer.member_id)
    name = member.name if member is not None else ""
    wire = encode_chat(str(uuid6.uuid7()), peer.member_id, name, text, room.ctx.clock())
    if settings.chat_history > 0:
        stored = await room.ctx.sessions.store.append_chat(
            room.key, wire, settings.chat_history, settings.session_ttl
        )
        if not stored:
            raise SessionNotFound(room.key)
    await room.publish(Event(EventKind.CHAT, {}, wire))
