"""The roster mirror: members in join order (the same in every process), the host's role, the
joiner last, and JSON that is exactly what encoding each member would give."""

from __future__ import annotations

import json

from videosync.presence import Member, Roster
from videosync.room.roster import RosterMirror, member_from_event


def test_public_lists_members_oldest_first_with_roles_and_the_joiner_last() -> None:
    mirror = RosterMirror()
    a, b, c = Member("a", "A", 30, "p"), Member("b", "B", 10, "p"), Member("c", "C", 20, "q", rtt=4.5)
    for member in (a, b, c):
        mirror.put(member)
    listed = json.loads(mirror.public("c"))
    assert listed == [b.public("c"), c.public("c"), a.public("c")]
    assert [m["role"] for m in listed] == ["participant", "host", "participant"]
    assert [m["id"] for m in json.loads(mirror.public(None, last="b"))] == ["c", "a", "b"]
    assert mirror.processes() == {"p", "q"}


def test_updates_replace_and_removals_forget() -> None:
    mirror = RosterMirror()
    mirror.put(Member("a", "A", 1, "p"))
    mirror.put(Member("b", "B", 2, "p"))
    mirror.put(Member("a", "Ann", 1, "p"))
    mirror.remove("b")
    mirror.remove("never there")
    assert json.loads(mirror.public(None)) == [Member("a", "Ann", 1, "p").public(None)]
    assert len(mirror) == 1 and "b" not in mirror
    mirror.seed(Roster((Member("z", "Z", 0, "r"),), ()))
    assert [m["id"] for m in json.loads(mirror.public(None))] == ["z", "a"]


def test_the_member_of_an_event_comes_from_its_meta_or_else_its_wire() -> None:
    member = Member("m", "M", 5, "p", drift=2.0)
    assert member_from_event({"member": member.to_store()}, "") == member
    wire = json.dumps({"type": "memberJoined", "member": member.public(None)})
    assert member_from_event({}, wire) == Member("m", "M", 5, "", None, 2.0, False)
    assert member_from_event({}, "not json") is None


def test_a_read_proves_absent_only_the_members_known_before_it_began() -> None:
    mirror = RosterMirror()
    mirror.put(Member("old", "Old", 1, "p"))
    mirror.put(Member("kept", "Kept", 2, "p"))
    read_from = mirror.mark()
    mirror.put(Member("new", "New", 3, "q"))  # heard while the read was on its way
    stored = Roster((Member("kept", "Kept", 2, "p"),), ())
    assert mirror.absent(stored, read_from) == ["old"]
    mirror.remove("old")
    assert mirror.absent(stored, mirror.mark()) == ["new"]
