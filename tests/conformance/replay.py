"""Replay the Go server's recorded HTTP exchanges against ours, byte-level where it matters.

The golden files were recorded from the real Go server (docs/go-protocol.md §0, §5). Volatile
values are placeholders ({UUIDn}, {HTTP_DATE}, {GO_TIME}, {LEN}, …); this module binds them while
replaying, so a step's request can use a key an earlier step's response created.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden"

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHAPES = {
    "HTTP_DATE": r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT",
    "GO_TIME": (
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})? [+-]\d{4} [A-Za-z0-9+-]+"
        r"(?: m=[+-]\d+\.\d{9})?"
    ),
    "LEN": r"\d+",
    "MS": r"1\d{12}",
    "TOKEN": r"[A-Za-z0-9_-]{32}",
    "STORE": r"memory|redis",
}


def load_cases(suite: str, name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / suite / f"{name}.json").read_text())["cases"]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


async def raw_request(
    port: int, method: str, target: str, headers: list[list[str]], body: bytes | None
) -> Response:
    """Send exactly this request line (no client-side path cleaning) and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(h.split(": ", 1)) for h in header_lines if ": " in h]
    return Response(int(status_line.split()[1]), parsed, rest)  # type: ignore[arg-type]


@dataclass
class Bindings:
    """Placeholder values seen so far in one case."""

    uuids: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        """Substitute known placeholders in a request; unknown {UUIDn} get fresh random UUIDs."""

        def sub(match: re.Match[str]) -> str:
            name, _, transform = match.group(1).partition("|")
            value = self.uuids.setdefault(name, str(uuid.uuid4()))
            return value.upper() if transform == "upper" else value

        return re.sub(r"\{(UUID\d+(?:\|upper)?)\}", sub, text)

    def pattern(self, expected: str) -> re.Pattern[str]:
        """A regex for a golden value: bound placeholders literal, unbound ones by shape."""
        out, pos = [], 0
        for match in re.finditer(r"\{([A-Z_]+\d*)\}", expected):
            out.append(re.escape(expected[pos : match.start()]))
            name = match.group(1)
            if name.startswith("UUID"):
                out.append(re.escape(self.uuids[name]) if name in self.uuids else f"(?P<{name}>{UUID_RE})")
            else:
                out.append(f"(?:{SHAPES.get(name, '.+')})")
            pos = match.end()
        out.append(re.escape(expected[pos:]))
        return re.compile("".join(out), re.DOTALL)

    def match(self, expected: str, actual: str) -> bool:
        found = self.pattern(expected).fullmatch(actual)
        if found is None:
            return False
        self.uuids.update({k: v for k, v in found.groupdict().items() if v})
        return True


# Date varies; Connection is the replayer's own "close"; Allow is RFC 9110's on our 405s.
IGNORED_HEADERS = {"date", "connection", "allow"}


def compare_http(step: dict[str, Any], got: Response, bindings: Bindings) -> list[str]:
    """Differences between a golden response and ours; empty when they agree."""
    want = step["response"]
    problems: list[str] = []
    if got.status != want["status"]:
        problems.append(f"status {got.status} != {want['status']}")
    want_headers = {k.lower(): v for k, v in want["headers"] if k.lower() not in IGNORED_HEADERS}
    got_headers = {k.lower(): v for k, v in got.headers if k.lower() not in IGNORED_HEADERS}
    for name in sorted(set(want_headers) | set(got_headers)):
        if name not in got_headers:
            problems.append(f"missing header {name}")
        elif name not in want_headers:
            problems.append(f"extra header {name}: {got_headers[name]}")
        elif not bindings.match(want_headers[name], got_headers[name]):
            problems.append(f"header {name}: {got_headers[name]!r} != {want_headers[name]!r}")
    text = want["body"].get("text")
    if text is not None and not bindings.match(text, got.body.decode("utf-8", "replace")):
        problems.append(f"body {got.body[:200]!r} != {text[:200]!r}")
    elif text is None and want["body"].get("length") == 0 and got.body:
        problems.append(f"body {got.body[:200]!r} != empty")
    return problems


async def replay_http_step(port: int, step: dict[str, Any], bindings: Bindings) -> tuple[Response, list[str]]:
    request = step["request"]
    body = request["body"]
    got = await raw_request(
        port,
        request["method"],
        bindings.fill(request["target"]),
        [[k, bindings.fill(v)] for k, v in request["headers"]],
        None if body is None else bindings.fill(body).encode(),
    )
    return got, compare_http(step, got, bindings)
