"""Who controls (pure): the policy's rule, its stored form, and the messages that change it."""

from __future__ import annotations

import pytest

from videosync.protocol import ProtocolError, Report, SetControl, WaitPreference, parse_command
from videosync.room.control_policy import ControlMode, ControlPolicy


def test_the_host_always_controls_and_others_by_mode_and_grant() -> None:
    host_only = ControlPolicy()
    assert host_only.allows("h", "h") and not host_only.allows("a", "h")
    assert ControlPolicy(ControlMode.EVERYONE).allows("a", "h")
    delegated = ControlPolicy(ControlMode.DELEGATED, ("a",))
    assert delegated.allows("a", "h") and not delegated.allows("b", "h")
    assert ControlPolicy(ControlMode.DELEGATED, ("a",)).allows("a", None)


def test_the_stored_form_round_trips_and_junk_reads_as_the_default() -> None:
    policy = ControlPolicy(ControlMode.DELEGATED, ("a", "b"))
    assert ControlPolicy.from_public(policy.public()) == policy
    for junk in (None, "x", {"mode": "anarchy"}, {"mode": 3}, []):
        assert ControlPolicy.from_public(junk) == ControlPolicy()
    assert ControlPolicy.from_public({"mode": "delegated", "controllers": ["a", 1, None]}).controllers == ("a",)


def test_a_change_keeps_what_it_does_not_name_and_drops_duplicate_grants() -> None:
    policy = ControlPolicy(ControlMode.DELEGATED, ("a",))
    assert policy.changed(None, ("b", "b")) == ControlPolicy(ControlMode.DELEGATED, ("b",))
    assert policy.changed(ControlMode.EVERYONE, None) == ControlPolicy(ControlMode.EVERYONE, ("a",))


def test_the_new_messages_parse_and_bad_ones_are_refused() -> None:
    assert parse_command('{"type":"setControl","mode":"everyone"}') == SetControl("everyone", None)
    assert parse_command('{"type":"setControl","controllers":["a"]}') == SetControl(None, ("a",))
    assert parse_command('{"type":"waitForMe","wait":false}') == WaitPreference(False)
    assert parse_command('{"type":"report","buffering":true,"video":"v1"}') == Report(None, None, True, "v1")
    for bad in (
        '{"type":"setControl","mode":"all"}',
        '{"type":"setControl","controllers":"a"}',
        '{"type":"setControl","controllers":[""]}',
        '{"type":"waitForMe","wait":"no"}',
        '{"type":"waitForMe"}',
        '{"type":"report","video":""}',
        '{"type":"report","video":7}',
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_command(bad)
        assert caught.value.code == "invalid_message"
