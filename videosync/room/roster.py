"""Every member of a session as this process knows it, kept from the channel's events, and when
each server process was last heard from.

A join sends the joiner the whole roster; reading it from the store for every join makes a join
storm O(N²) in store traffic. The mirror is read from the store once, when the room is made, then
kept by the events every process publishes. Each member's JSON is encoded once (as a participant;
the host's alone is encoded per use), so an `init` costs a join of strings, not an encode of N.
"""

from __future__ import annotations

import bisect
import json
from typing import Any

from ..events import Event, EventKind
from ..presence import Member, Roster
from ..server_messages import RawJSON


class RosterMirror:
    def __init__(self) -> None:
        self._members: dict[str, Member] = {}
        self._order: list[tuple[int, str]] = []  # (joined_at, id): the same order in every process
        self._ids: list[str] = []  # the ids in that order (what `public` walks, at C speed)
        self._encoded: dict[str, str] = {}  # id -> the member's JSON with role "participant"
        # process id -> epoch ms of its last heartbeat heard (BEAT events, roster reads): a member
        # whose process has gone quiet is what makes a tick read the roster, not every tick
        self.heartbeats: dict[str, int] = {}
        # per member, the count of changes when it was last put: a store read that began at count
        # n can only prove absent the members known by then (one heard since may be newer than it)
        self._changes = 0
        self._put_at: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, member_id: str) -> bool:
        return member_id in self._members

    def processes(self) -> set[str]:
        """The server processes the members are connected to."""
        return {member.proc for member in self._members.values()}

    def seed(self, roster: Roster) -> None:
        for member in roster.live:
            self.put(member)

    def mark(self) -> int:
        """Where the mirror stands now: pass it to `absent` with a store read begun after it."""
        return self._changes

    def reconcile(self, roster: Roster) -> None:
        """What a roster read tells: members (added or corrected) and processes' heartbeats."""
        self.seed(roster)
        for proc, seen in roster.heartbeats.items():
            self.heard(proc, seen)

    def absent(self, roster: Roster, read_from: int) -> list[str]:
        """Members known since before the read (`mark()` then) that the store no longer holds:
        their leave was never heard (a channel message lost in a store outage)."""
        stored = {member.id for member in roster.live} | {member.id for member in roster.stale}
        return [i for i, at in self._put_at.items() if at <= read_from and i not in stored]

    def heard(self, proc: str, seen_ms: int) -> None:
        self.heartbeats[proc] = max(seen_ms, self.heartbeats.get(proc, seen_ms))

    def quiet_processes(self, now_ms: int, after_ms: int) -> set[str]:
        """Processes with members here whose heartbeat has not been heard for `after_ms`."""
        return {p for p in self.processes() if now_ms - self.heartbeats.get(p, -(10**15)) > after_ms}

    def track(self, event: Event) -> None:
        """A joined, updated or left event heard on the channel."""
        if event.kind == EventKind.MEMBER_LEFT:
            self.remove(str(event.meta.get("memberId")))
            return
        member = member_from_event(event.meta, event.wire)
        if member is not None:
            self.put(member)

    def put(self, member: Member) -> None:
        known = self._members.get(member.id)
        if known == member:
            return
        if known is not None:
            self._unlist(known)
        self._members[member.id] = member
        self._changes += 1
        self._put_at[member.id] = self._changes
        index = bisect.bisect(self._order, (member.joined_at, member.id))
        self._order.insert(index, (member.joined_at, member.id))
        self._ids.insert(index, member.id)
        self._encoded[member.id] = _compact(member.public(None))

    def remove(self, member_id: str) -> None:
        member = self._members.pop(member_id, None)
        if member is not None:
            self._unlist(member)
            del self._encoded[member_id]
            del self._put_at[member_id]
            self._changes += 1

    def clear(self) -> None:
        self._members.clear()
        self._order.clear()
        self._ids.clear()
        self._encoded.clear()
        self._put_at.clear()
        self.heartbeats.clear()

    def _unlist(self, member: Member) -> None:
        index = bisect.bisect_left(self._order, (member.joined_at, member.id))
        if index < len(self._order) and self._order[index] == (member.joined_at, member.id):
            del self._order[index]
            del self._ids[index]

    def public(self, host_id: str | None, last: str | None = None) -> RawJSON:
        """The roster as a JSON list of member objects, oldest first; `last` (the joiner) at the end."""
        # A thousand-member roster per join in a storm: map/index/join run in C, no Python per member.
        parts = list(map(self._encoded.__getitem__, self._ids))
        if host_id is not None and host_id in self._members:
            parts[self._ids.index(host_id)] = self._text(host_id, host_id)
        if last is not None and last in self._members:
            parts.append(parts.pop(self._ids.index(last)))
        return RawJSON("[" + ",".join(parts) + "]")

    def _text(self, member_id: str, host_id: str | None) -> str:
        if member_id == host_id:
            return _compact(self._members[member_id].public(host_id))
        return self._encoded[member_id]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def member_from_event(meta: dict[str, Any], wire: str) -> Member | None:
    """The member a joined/updated event is about: from its stored form in the meta (ours), else
    from the wire's public member object (a process that did not send it)."""
    stored = meta.get("member")
    if isinstance(stored, str):
        return Member.from_store(stored)
    try:
        public = json.loads(wire)["member"]
        return Member(
            str(public["id"]), str(public.get("name", "")), int(public["joinedAt"]), "",
            public.get("rtt"), public.get("drift"), bool(public.get("buffering", False)),
        )
    except (ValueError, KeyError, TypeError):
        return None
