"""Fuzz: arbitrary text, bytes and JSON from a host and a participant against a real in-process
server. Whatever arrives, the server stays up, no socket is dropped for it (every message gets an
answer or an effect, never a crash), and the stored playback state stays valid."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.fuzz_server import ThreadedServer
from videosync.app import Services
from videosync.media import MediaLibrary
from videosync.sessions import SessionService
from videosync.settings import Settings
from videosync.state import MAX_RATE, MIN_RATE, PlaybackState
from videosync.store import open_store

pytestmark = pytest.mark.slow

TYPES = ["stateUpdate", "state_update", "timeSync", "report", "setName", "transferHost", "heartbeatAck",
         "init", "STATEUPDATE", ""]

json_scalars = (
    st.none() | st.booleans() | st.text(max_size=30)
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
numbers = st.one_of(
    st.floats(), st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, -0.0, 1e308, 5e-324, 10**400, -(2**1024), 2**63]),
)
state_fields = st.fixed_dictionaries(
    {},
    optional={
        "paused": st.booleans() | json_values,
        "currentTime": numbers | json_values,
        "playbackRate": numbers | st.floats(MIN_RATE, MAX_RATE) | json_values,
        "video": json_values,
    },
)


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True)  # NaN and Infinity too: browsers never send them, others might


commands = st.one_of(
    st.builds(lambda t, s: _dumps({"type": t, "state": s}), st.sampled_from(TYPES), state_fields),
    st.builds(
        lambda t, extra: _dumps({"type": t, **extra}),
        st.sampled_from(TYPES),
        st.dictionaries(st.sampled_from(["t0", "rtt", "drift", "buffering", "name", "memberId", "TYPE"]),
                        numbers | json_values, max_size=4),
    ),
    json_values.map(_dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    root = tmp_path_factory.mktemp("fuzz")
    config = Settings(media_dir=str(root / "media"), web_dir=str(root / "no-web"),
                      rate_limit=1e6, rate_burst=10**6)

    def build() -> Services:
        store = open_store("memory://")
        return Services(
            settings=config, store=store, sessions=SessionService(store, config.session_ttl),
            library=MediaLibrary(config.media_dir),
        )

    with ThreadedServer(build) as running:
        yield running


class Member:
    def __init__(self, stack: ExitStack, port: int, query: str) -> None:
        self.conn: ClientConnection = stack.enter_context(
            connect(f"ws://127.0.0.1:{port}/ws{query}", max_size=None, open_timeout=10, close_timeout=1)
        )
        self.init = json.loads(self.conn.recv(timeout=5))
        assert self.init["type"] == "init"
        self._marker = 0.0

    def barrier(self) -> list[dict[str, Any]]:
        """Everything received until the answer to a fresh timeSync: every earlier message was
        handled (Tornado reads a socket's next message only after on_message finished)."""
        self._marker += 1
        marker = -1e15 - self._marker  # a t0 the fuzzed messages do not use
        self.conn.send(json.dumps({"type": "timeSync", "t0": marker}))
        seen = []
        while True:
            message = json.loads(self.conn.recv(timeout=10))
            if message.get("type") == "timeSync" and message.get("t0") == marker:
                return seen
            seen.append(message)


def assert_valid(state: PlaybackState) -> None:
    assert isinstance(state.paused, bool)
    assert math.isfinite(state.current_time) and state.current_time >= 0
    assert math.isfinite(state.playback_rate) and MIN_RATE <= state.playback_rate <= MAX_RATE
    assert isinstance(state.version, int) and state.version >= 0
    assert state.video is None or isinstance(state.video, str)
    PlaybackState.decode(state.encode())  # and it encodes as JSON a Go instance reads


@pytest.fixture(scope="module")
def session(server: ThreadedServer) -> Iterator[dict[str, Any]]:
    assert server.services is not None
    created = server.call(server.services.sessions.create())
    with ExitStack() as stack:
        host = Member(stack, server.port, f"?sessionKey={created.key}&hostToken={created.host_token}")
        guest = Member(stack, server.port, f"?sessionKey={created.key}&name=guest")
        yield {"key": created.key, "host": host, "guest": guest}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(from_host=st.lists(commands, max_size=6), from_guest=st.lists(commands, max_size=6))
def test_arbitrary_messages_never_break_the_server_nor_the_state(
    server: ThreadedServer, session: dict[str, Any],
    from_host: list[str | bytes], from_guest: list[str | bytes],
) -> None:
    assert server.services is not None
    host: Member = session["host"]
    guest: Member = session["guest"]
    for message in from_host:
        host.conn.send(message)
    for message in from_guest:
        guest.conn.send(message)
    for member in (host, guest):
        for reply in member.barrier():  # the socket is still open and answering
            assert reply["type"] != "error" or reply["code"] != "unavailable", reply
    state = server.call(server.services.sessions.state(session["key"]))
    assert_valid(state)
    assert server.services.hub.group_size(session["key"]) == 2  # nobody was dropped


query_values = st.text(max_size=80) | st.sampled_from(["", ".", "x.y", "a" * 70 + ".b", "\u202e", "%00"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=query_values, host_token=query_values, resume=query_values)
def test_arbitrary_join_parameters_get_an_init_and_never_the_host_role(
    server: ThreadedServer, session: dict[str, Any], name: str, host_token: str, resume: str,
) -> None:
    """Names, host tokens and resume tokens a client made up: the join works, as a participant."""
    query = "?" + urlencode({"sessionKey": session["key"], "name": name, "hostToken": host_token,
                             "resume": resume})
    with ExitStack() as stack:
        member = Member(stack, server.port, query)
        assert member.init["isHost"] is False
        assert member.init["memberId"] not in (session["host"].init["memberId"], session["guest"].init["memberId"])
        me = next(m for m in member.init["members"] if m["id"] == member.init["memberId"])
        assert isinstance(me["name"], str) and len(me["name"]) <= 40
        assert all(ch.isprintable() for ch in me["name"])
        member.barrier()
