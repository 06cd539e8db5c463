"""Members of a session across every process: who is here, since when, and how they are doing.

The store's `session:{K}:members` hash holds one field per member (its JSON) and one `proc:{id}`
field per server process with a member there, refreshed every presence tick. A member whose
process stopped refreshing (a crashed or killed server) is stale: it is no longer a candidate for
the host role and is pruned by any other process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .store import Store

PROC_PREFIX = "proc:"


def new_member_id() -> str:
    return secrets.token_hex(6)


def new_process_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    joined_at: int
    proc: str
    rtt: float | None = None
    drift: float | None = None
    buffering: bool = False

    def to_store(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_store(cls, text: str) -> Member | None:
        try:
            data = json.loads(text)
            return cls(
                id=str(data["id"]),
                name=str(data.get("name", "")),
                joined_at=int(data["joined_at"]),
                proc=str(data.get("proc", "")),
                rtt=data.get("rtt"),
                drift=data.get("drift"),
                buffering=bool(data.get("buffering", False)),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def public(self, host_id: str | None) -> dict[str, Any]:
        """The member object of PROTOCOL.md §2.1."""
        return {
            "id": self.id,
            "name": self.name,
            "role": "host" if self.id == host_id else "participant",
            "joinedAt": self.joined_at,
            "rtt": self.rtt,
            "drift": self.drift,
            "buffering": self.buffering,
        }

    def renamed(self, name: str) -> Member:
        return replace(self, name=name)

    def with_report(self, rtt: float | None, drift: float | None, buffering: bool | None) -> Member:
        return replace(
            self, rtt=rtt, drift=drift, buffering=self.buffering if buffering is None else buffering
        )


@dataclass(frozen=True)
class Roster:
    """A snapshot of the members hash, split into live members and stale ones."""

    live: tuple[Member, ...]
    stale: tuple[Member, ...]
    heartbeats: dict[str, int] = field(default_factory=dict)  # process id -> last heartbeat ms

    def get(self, member_id: str) -> Member | None:
        return next((m for m in self.live if m.id == member_id), None)


# field -> (its stored text, the member parsed from it)
ParsedMembers = dict[str, tuple[str, Member]]


def split_roster(
    fields: dict[str, str], now_ms: int, stale_after_ms: int, parsed: ParsedMembers | None = None
) -> Roster:
    """Which members belong to a process that is still refreshing its heartbeat.

    `parsed` carries members parsed by earlier calls: a member whose stored text has not changed
    is not parsed again (a tick of a 1,000-member session would otherwise decode 1,000 JSONs)."""
    seen: dict[str, int] = {}
    members: list[Member] = []
    for name, value in fields.items():
        if name.startswith(PROC_PREFIX):
            try:
                seen[name[len(PROC_PREFIX):]] = int(json.loads(value)["seen"])
            except (ValueError, KeyError, TypeError):
                continue
        else:
            known = parsed.get(name) if parsed is not None else None
            member = known[1] if known is not None and known[0] == value else Member.from_store(value)
            if member is not None:
                members.append(member)
                if parsed is not None:
                    parsed[name] = (value, member)
    if parsed is not None and len(parsed) > len(members):
        for name in parsed.keys() - fields.keys():
            del parsed[name]
    live: list[Member] = []
    stale: list[Member] = []
    for member in sorted(members, key=lambda m: (m.joined_at, m.id)):
        fresh = now_ms - seen.get(member.proc, -(10**15)) <= stale_after_ms
        (live if fresh else stale).append(member)
    return Roster(tuple(live), tuple(stale), seen)


def host_candidate(roster: Roster, exclude: str | None = None) -> Member | None:
    """The longest-present live member: the same answer in every process."""
    return next((m for m in roster.live if m.id != exclude), None)


def resume_token(secret: str, member_id: str) -> str:
    """`{memberId}.{mac}`: proves the bearer had this member's init; the session's secret signs it."""
    return f"{member_id}.{_mac(secret, member_id)}"


def member_from_resume(secret: str, token: str) -> str | None:
    member_id, dot, mac = token.partition(".")
    if not dot or not member_id or len(member_id) > 64:
        return None
    # bytes: compare_digest refuses str with non-ASCII characters (a made-up token may have them)
    return member_id if hmac.compare_digest(mac.encode(), _mac(secret, member_id).encode()) else None


def _mac(secret: str, member_id: str) -> str:
    return hmac.new(secret.encode(), b"resume:" + member_id.encode(), hashlib.sha256).hexdigest()[:32]


class Presence:
    """The members hash of the store, as this process sees it."""

    def __init__(
        self, store: Store, ttl: int, proc_id: str, stale_after_ms: int, clock: Callable[[], int]
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.proc_id = proc_id
        self.stale_after_ms = stale_after_ms
        self._clock = clock
        self._parsed: dict[str, ParsedMembers] = {}  # per session with members here
        self._beaten_at: dict[str, int] = {}  # per session with members here: our last heartbeat

    def track(self, key: str) -> None:
        """Keep parsed members of `key` between roster reads (while it has members here)."""
        self._parsed.setdefault(key, {})

    def forget(self, key: str) -> None:
        self._parsed.pop(key, None)
        self._beaten_at.pop(key, None)

    async def heartbeat(self, key: str, unless_within_ms: int = 0) -> None:
        """Say this process is alive in `key`; `unless_within_ms`: not if it said so that recently
        (a join storm would otherwise write the same entry once per joiner)."""
        now = self._clock()
        if unless_within_ms and now - self._beaten_at.get(key, -(10**15)) < unless_within_ms:
            return
        await self.store.put_member(key, PROC_PREFIX + self.proc_id, json.dumps({"seen": now}), self.ttl)
        if key in self._parsed:  # only while it has members here: nothing kept for a gone session
            self._beaten_at[key] = now

    async def put(self, key: str, member: Member) -> None:
        await self.store.put_member(key, member.id, member.to_store(), self.ttl)

    async def remove(self, key: str, member_id: str) -> None:
        await self.store.remove_member(key, member_id)

    async def remove_process(self, key: str) -> None:
        await self.store.remove_member(key, PROC_PREFIX + self.proc_id)

    async def roster(self, key: str) -> Roster:
        fields = await self.store.get_members(key)
        return split_roster(fields, self._clock(), self.stale_after_ms, self._parsed.get(key))
