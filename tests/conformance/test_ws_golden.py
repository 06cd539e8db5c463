"""The Go server's recorded WebSocket exchanges (golden/go-a/ws.json), replayed against ours.

Go-A's messages (`init`, `stateUpdate`) and close frames must match field for field (Go-A's keys,
in Go-A's order, then our extension fields); extension messages (presence, hostChanged, …) are
what an old client ignores and are left out of the comparison. Steps where we deliberately answer
otherwise are listed in DELIBERATE with the reason (PROTOCOL.md §3 carries the same reasons).
Runs over Redis because some steps edit Redis keys behind the server's back, as the recorder did.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from tests.conftest import RedisServer
from tests.support.ws_fixtures import stop_hub  # noqa: F401 (autouse: the rooms shut down after each test)

from .replay import Bindings, load_cases, raw_request, replay_http_step

GO_A_TYPES = {"init", "stateUpdate"}

# Cases that need frames the `websockets` client cannot forge (unmasked, RSV1, bad opcodes,
# fragmented or invalid UTF-8 frames), or 16 s of waiting; record.py covers them (see report).
NOT_REPLAYED = {
    "ws_a_frames": "raw frame forging (fragmentation, invalid UTF-8, 1 MiB: we close 1009)",
    "ws_control_frames": "raw control frames (Tornado echoes close codes like gorilla)",
    "ws_protocol_violations": "raw protocol violations: tests/handlers/test_ws.py sends them by hand",
    "ws_ping_cadence": "16 s of pings; the cadence (5 s, empty payload) is unchanged",
}

INVALID = "rejected with an error frame (finite numbers, 0.0625 ≤ rate ≤ 16); Go broadcast it"
KEEP = "missing or null fields keep their current value; Go zeroed them (playbackRate 0)"
ENDED = "a deleted session ends: `ended` + close 4004; Go left clients half-working"
LEASE = "the host key is a lease: the displaced host is demoted, never two hosts"
HANDOFF = "a departed host's role passes to the longest-present member after the grace"
PSEUDO = "'{K}:state' / '{K}:host' are no sessions: close 4001"
LATE = "late joiners get the position extrapolated to now (Go sent the stale one)"
CLIENT_TS = "client timestamps are ignored whatever their type; Go dropped the whole update"
NOT_HOST_ERR = "participants' updates are answered with error not_host (Go: silence)"

DELIBERATE: dict[tuple[str, str], str] = {
    ("ws_a_state_fields", "receivers: float formatting"): INVALID,
    ("ws_a_state_fields", "receivers: tiny float / negative"): INVALID,
    ("ws_a_state_fields", "receivers: null values"): KEEP,
    ("ws_a_state_fields", "receivers: missing state"): KEEP,
    ("ws_a_state_fields", "receivers: state is null"): KEEP,
    ("ws_a_state_fields", "receivers: partial state"): KEEP,
    ("ws_a_state_fields", "receivers: duplicate key type (last wins?)"): "an unknown type gets error unknown_type",
    ("ws_a_invalid_messages", "receivers: snake case type (GO-B style)"): "Go-B's state_update is accepted",
    ("ws_a_session_deleted", "clients notified?"): ENDED,
    ("ws_a_session_deleted", "receivers after deletion"): ENDED,
    ("ws_a_session_deleted", "host2 notified of expiry?"): ENDED,
    ("ws_a_missing_state_and_host_key", "receivers"): LEASE,
    ("ws_a_missing_state_and_host_key", "receivers 2"): LEASE,
    ("ws_a_host_disconnect", "receivers of old participant update"): HANDOFF,
    ("ws_a_host_disconnect", "newcomer init"): HANDOFF,
    ("ws_a_host_disconnect", "receivers of newcomer update"): HANDOFF,
    ("ws_a_host_disconnect", "broadcast from new host"): HANDOFF,
    ("ws_a_host_drop", "newcomer init"): HANDOFF,
    ("ws_a_invalid_messages", "receivers: top-level timestamp as string"): CLIENT_TS,
    ("ws_a_invalid_messages", "receivers: top-level timestamp as float"): CLIENT_TS,
    ("ws_a_state_update", "late joiner init carries stored state"): LATE,
    ("ws_isolation", "dup init"): LATE,
    ("ws_derived_keys", "events:state"): PSEUDO,
    ("ws_derived_keys", "events:host"): PSEUDO,
}

REDIS_OPS = {
    "DEL session:<key> in Redis": ("delete", "session:{UUID1}"),
    "PEXPIRE session:<key2> 200ms": ("pexpire", "session:{UUID2}"),
    "DEL session:<key>:state": ("delete", "session:{UUID1}:state"),
    "DEL session:<key>:host while host connected": ("delete", "session:{UUID1}:host"),
}

CASES = load_cases("go-a", "ws")


@pytest.fixture
def store_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


class Peer:
    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pending: list[dict[str, Any]] = []
        self.closed = False

    async def drain(self, wait: float) -> list[dict[str, Any]]:
        """Everything received within `wait` s, as recorder-style events (Go-A types only)."""
        got, self.pending = self.pending, []
        while not self.closed:
            try:
                message = await asyncio.wait_for(self.conn.recv(), wait)
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                self.closed = True
                if exc.rcvd is not None:
                    got.append({"type": "close", "code": exc.rcvd.code, "reason": exc.rcvd.reason})
                break
            text = message if isinstance(message, str) else message.decode()
            data = json.loads(text)
            if data.get("type") in GO_A_TYPES:
                got.append({"type": "text", "raw": text, "json": data})
        return got


def fields_match(want: Any, got: Any, bindings: Bindings) -> bool:
    """Golden JSON (with placeholders) against ours: every golden key present and equal."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and fields_match(v, got[k], bindings) for k, v in want.items())
    if isinstance(want, str) and "{" in want:
        return bindings.match(want, str(got))
    return bool(want == got and type(want) is type(got)) or (
        isinstance(want, int | float) and isinstance(got, int | float) and not isinstance(got, bool) and want == got
    )


def compare_events(want: list[dict[str, Any]], got: list[dict[str, Any]], bindings: Bindings) -> list[str]:
    want = [e for e in want if e["type"] in ("text", "close")]
    if len(want) != len(got):
        return [f"{len(got)} events != {len(want)}: {[e.get('json', e) for e in got]}"]
    problems = []
    for w, g in zip(want, got, strict=True):
        if w["type"] != g["type"]:
            problems.append(f"{g['type']} != {w['type']}")
        elif w["type"] == "close":
            if (w["code"], w["reason"]) != (g["code"], g["reason"]):
                problems.append(f"close {g['code']} {g['reason']!r} != {w['code']} {w['reason']!r}")
        else:
            if not fields_match(w["json"], g["json"], bindings):
                problems.append(f"{g['raw'][:300]} does not carry {w['raw'][:300]}")
            order = list(g["json"])[: len(w["key_order"])]
            if order != w["key_order"]:
                problems.append(f"key order {order} != {w['key_order']}")
            if w["ends_with_newline"] != g["raw"].endswith("\n"):
                problems.append("trailing newline differs")
    return problems


async def replay(case: dict[str, Any], port: int, redis_server: RedisServer) -> list[str]:
    bindings = Bindings()
    peers: dict[str, Peer] = {}
    problems: list[str] = []
    name = case["name"]
    try:
        for step in case["steps"]:
            kind, label = step["kind"], step["step"]
            if kind == "http":
                if step["request"]["target"] == "/api/sessions":
                    got = await raw_request(port, "POST", "/api/sessions", [], None)
                    placeholder = re.search(r"\{(UUID\d+)\}", step["response"]["body"]["text"])
                    assert placeholder is not None
                    bindings.uuids[placeholder.group(1)] = json.loads(got.body)["sessionKey"]
                else:
                    _, diffs = await replay_http_step(port, step, bindings)
                    problems += [f"{label}: {d}" for d in diffs]
            elif kind == "ws_connect":
                target = bindings.fill(step["request"]["target"])
                headers = [(k, v) for k, v in step["request"]["extra_headers"] if k.lower() == "origin"]
                conn = await websockets.connect(
                    f"ws://127.0.0.1:{port}{target}", additional_headers=headers, ping_interval=None,
                    max_size=None, close_timeout=1, compression=None,
                )
                peers[step["client"]] = Peer(conn)
            elif kind == "ws_send" and step["frame"] in ("close", "tcp-close"):
                peer = peers[step["client"]]
                if step["frame"] == "tcp-close":
                    peer.conn.transport.abort()
                else:
                    await peer.conn.close(int(step["payload"].split()[0]))
                    rcvd = peer.conn.protocol.close_rcvd
                    if rcvd is not None:
                        peer.pending.append({"type": "close", "code": rcvd.code, "reason": rcvd.reason})
                peer.closed = True
            elif kind == "ws_send":
                payload = step["payload"]
                message = payload.encode() if step["frame"] == "binary" and not payload.startswith("<") else payload
                if step["frame"] == "binary" and payload.startswith("<"):
                    message = b"\x00\x01\x02"
                await peers[step["client"]].conn.send(message)
            elif kind == "ws_events":
                for client, want in step["events"].items():
                    got = await peers[client].drain(0.4 if want else 0.3)
                    if (name, label) in DELIBERATE:
                        continue
                    problems += [f"{label} [{client}]: {p}" for p in compare_events(want, got, bindings)]
            elif kind == "redis_op":
                op, key = REDIS_OPS[label]
                with redis_server.client() as client:
                    if op == "delete":
                        client.delete(bindings.fill(key))
                    else:
                        client.pexpire(bindings.fill(key), 200)
                await asyncio.sleep(0.3)
    finally:
        await asyncio.gather(*(p.conn.close() for p in peers.values()), return_exceptions=True)
    return problems


@pytest.mark.redis
@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("name", [n for n in CASES if n not in NOT_REPLAYED])
async def test_go_a_ws_exchange(name: str, http_server: Any, http_port: int, redis_server: RedisServer) -> None:
    problems = await replay(CASES[name], http_port, redis_server)
    assert problems == [], "\n".join(problems)
