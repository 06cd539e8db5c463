#!/usr/bin/env python3
"""Churn: many short visits, as two rows of issue 12's table tried them, and the server's RSS.

Each round opens `--sockets` WebSocket members (into one fresh session, or each into its own
session with `--own-sessions`), holds them `--hold` seconds, closes them all and waits until every
one is closed; the server runs with `--session-ttl` (3 s), so the sessions of earlier rounds expire
meanwhile. The RSS (MiB) is printed every 5 rounds and once more after the last sessions expired.
A server that keeps something per closed socket or ended session grows with the rounds.

    python scripts/bench/bench_churn.py [--store memory] [--rounds 30] [--sockets 200] [--own-sessions]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

from bench_fanout import Server, loop_factory, rss_kb
from bench_soak import close_all, create_sessions, join


def mib(kb: int) -> float:
    return round(kb / 1024, 1)


async def churn(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(args.store, Path(tmp), extra=["--session-ttl", str(args.session_ttl)])
        try:
            await asyncio.sleep(1.0)
            rss = [mib(rss_kb(server.process.pid))]
            started = time.monotonic()
            count = args.sockets if args.own_sessions else 1  # sessions a round
            for round_ in range(args.rounds):
                keys = await asyncio.to_thread(create_sessions, server.port, count)
                targets = keys if args.own_sessions else keys * args.sockets
                clients = await asyncio.gather(*(join(server.port, key) for key in targets))
                await asyncio.sleep(args.hold)
                await close_all(clients)
                if round_ % 5 == 4:
                    rss.append(mib(rss_kb(server.process.pid)))
            await asyncio.sleep(args.session_ttl + 3)
            rss.append(mib(rss_kb(server.process.pid)))
            print(json.dumps({"store": args.store, "rounds": args.rounds, "sockets": args.sockets,
                              "own_sessions": args.own_sessions, "rss_mib_every_5_rounds_then_at_rest": rss,
                              "seconds": round(time.monotonic() - started, 1),
                              "load1": round(os.getloadavg()[0], 1)}), flush=True)
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="memory", choices=["memory", "sqlite", "redis"])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--hold", type=float, default=0.5)
    parser.add_argument("--session-ttl", type=int, default=3)
    parser.add_argument("--own-sessions", action="store_true", help="each socket in a session of its own")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(churn(args))


if __name__ == "__main__":
    main()
