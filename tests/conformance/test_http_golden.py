"""Every HTTP exchange recorded from the Go server, replayed against ours.

A step either matches the Go server's answer (status, headers but Date, body), or is listed in
DELIBERATE with what we answer instead and why; PROTOCOL.md §3 carries the same reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .replay import Bindings, load_cases, replay_http_step


@dataclass(frozen=True)
class Ours:
    status: int
    body: str | Callable[[str], str] | None  # with placeholders, or made from Go's; None: unchecked
    why: str

    def expected_body(self, golden: str | None) -> str | None:
        return self.body(golden or "") if callable(self.body) else self.body


def _with_token(golden: str) -> str:
    return golden.replace('{"sessionKey"', '{"hostToken":"{TOKEN}","sessionKey"')


CREATED = Ours(200, _with_token, "creation also returns Go-B's hostToken (the host's credential)")
API_405 = Ours(405, '{"error":"method not allowed"}\n', "API errors are JSON bodies, with an Allow header")
API_404 = Ours(404, '{"error":"not found"}\n', "API errors are JSON bodies")
HEAD_405 = Ours(405, None, "API errors are JSON bodies (HEAD: headers only)")
KEY_COLLISION = Ours(200, '{"valid":false}\n', "only real session keys validate: '{K}:state' is no session")
HEAD_405_PLAIN = Ours(405, None, "a HEAD 405 says Content-Length: 0 (Go's had none); body still empty")
HEALTH = Ours(200, '{"status":"ok","store":"{STORE}","time":"{GO_TIME}"}\n', "health also names the store")

DELIBERATE: dict[tuple[str, str], Ours] = {
    ("create_session", "POST /api/sessions"): CREATED,
    ("create_session_with_body", "POST with body"): CREATED,
    ("validate_derived_keys", "<key>:state"): KEY_COLLISION,
    ("validate_keys", "percent-encoded slash key"): API_404,
    ("validate_edge_paths", "trailing slash"): API_404,
    ("validate_edge_paths", "POST validate"): API_405,
    ("validate_edge_paths", "HEAD validate"): HEAD_405,
    ("sessions_wrong_methods", "GET /api/sessions"): API_405,
    ("sessions_wrong_methods", "PUT /api/sessions"): API_405,
    ("sessions_wrong_methods", "DELETE /api/sessions"): API_405,
    ("sessions_wrong_methods", "PATCH /api/sessions"): API_405,
    ("sessions_wrong_methods", "HEAD /api/sessions"): HEAD_405,
    ("sessions_wrong_methods", "POST /api/sessions/ (trailing slash)"): API_404,
    ("health", "GET /health"): HEALTH,
    ("health", "HEAD /health"): HEAD_405_PLAIN,
    ("root", "HEAD /"): HEAD_405_PLAIN,
    ("unknown_paths", "GET /api/"): API_404,
    ("unknown_paths", "GET /api/video/extra"): API_404,
    ("unknown_paths", "GET /api/sessions/abc"): Ours(
        404, '{"error":"session_not_found"}\n', "Go-B's public session read exists here (JSON 404)"
    ),
    ("unknown_paths", "GET /index.html"): Ours(
        404, None, "the web app is served at /index.html when web/ is present (absent in this test)"
    ),
    ("cors_preflight", "HEAD"): Ours(200, None, "browsers preflight HEAD for video; Go refused it"),
    ("cors_preflight", "Authorization header"): Ours(200, None, "Go-B allowed Authorization"),
    ("cors_preflight", "Range header"): Ours(200, None, "range requests from another origin need Range"),
    ("cors_simple", "GET /health with Origin"): HEALTH,
    ("cors_simple", "POST /api/sessions with Origin"): CREATED,
    ("cors_simple", "GET /api/sessions with Origin (405)"): API_405,
    ("cors_simple", "DELETE /api/sessions with Origin"): API_405,
}
# Steps whose only difference is in DELIBERATE above, repeated across cases (session creation).
CREATE_STEPS = {"create session", "POST #1", "POST #2", "POST #3"}


def _cases(name: str) -> list[Any]:
    return [pytest.param(case, id=case_name) for case_name, case in load_cases("go-a", name).items()]


async def _replay(port: int, case: dict[str, Any]) -> None:
    bindings = Bindings()
    failures = []
    for step in case["steps"]:
        if step["kind"] != "http":
            continue
        ours = DELIBERATE.get((case["name"], step["step"]))
        if ours is None and step["step"] in CREATE_STEPS:
            ours = CREATED
        got, problems = await replay_http_step(port, step, bindings)
        if ours is not None:
            problems = []
            if got.status != ours.status:
                problems.append(f"status {got.status} != {ours.status}")
            body = ours.expected_body(step["response"]["body"].get("text"))
            if body is not None and not bindings.match(body, got.body.decode()):
                problems.append(f"body {got.body!r} != {body!r}")
        failures += [f"{step['step']}: {p}" for p in problems]
    assert not failures, "\n".join(failures)


@pytest.mark.gen_test
@pytest.mark.parametrize("case", _cases("http"))
async def test_http_exchange_matches_the_go_server(
    http_server: object, http_port: int, case: dict[str, Any]
) -> None:
    await _replay(http_port, case)


@pytest.mark.gen_test
@pytest.mark.parametrize("case", _cases("cors"))
async def test_cors_exchange_matches_the_go_server(
    http_server: object, http_port: int, case: dict[str, Any]
) -> None:
    await _replay(http_port, case)


def test_every_deliberate_difference_names_a_recorded_step() -> None:
    recorded = {
        (case["name"], step["step"])
        for name in ("http", "cors")
        for case in load_cases("go-a", name).values()
        for step in case["steps"]
    }
    assert set(DELIBERATE) <= recorded
