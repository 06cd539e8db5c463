"""Every WebSocket close code the server sends, and the reasons that go with them (PROTOCOL.md §2.3).

One home for both the room (which ends sessions and shuts down) and the socket handler (which refuses
and drops sockets), so a code means one thing wherever it is sent.
"""

from __future__ import annotations

from enum import IntEnum


class Close(IntEnum):
    GOING_AWAY = 1001  # shutting down or ping timeout: reconnect, maybe elsewhere
    PROTOCOL_ERROR = 1002  # a frame broke RFC 6455's framing rules
    INVALID_PAYLOAD = 1007  # a text message that is not UTF-8
    POLICY = 1008  # rate limit, origin, too many connections from one address
    INTERNAL_ERROR = 1011  # the store failed while joining
    TRY_AGAIN_LATER = 1013  # slow consumer: the send queue overflowed
    INVALID_SESSION = 4001  # Go-A: missing or unknown session key
    FORBIDDEN = 4003  # kicked, banned, locked out, or a missing/wrong session password
    SESSION_ENDED = 4004  # the session was deleted or expired while connected


# Go-A's reasons, byte for byte
MISSING_KEY = "Missing session key"
INVALID_KEY = "Invalid session key"

SESSION_ENDED = "Session ended"
SHUTTING_DOWN = "server shutting down"
PING_TIMEOUT = "Ping timeout"
RATE_LIMITED = "Rate limit exceeded"
ORIGIN_NOT_ALLOWED = "Origin not allowed"
TOO_MANY_CONNECTIONS = "Too many connections"
STORE_UNAVAILABLE = "session store unavailable"
SEND_QUEUE_OVERFLOW = "Send queue overflow"

# close 4003 (moderation and session passwords): the page shows why and does not reconnect
KICKED = "Removed by the host"
BANNED = "Banned from this session"
LOCKED = "Session is locked"
PASSWORD_REQUIRED = "Password required"
WRONG_PASSWORD = "Wrong password"
PASSWORD_RATE_LIMITED = "Too many password attempts; retry later"
