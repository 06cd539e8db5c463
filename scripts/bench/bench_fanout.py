#!/usr/bin/env python3
"""Fan-out benchmark: one host, N participants, host updates paced 20 ms apart.

Starts a real `python -m videosync` (memory store, the SQLite-backed embedded store, or Redis with
a throw-away redis-server on a free port), connects N participants and a host with a lean
raw-socket WebSocket client (asyncio protocols in one process, so the load generator steals as
little CPU as possible from the server on a small machine), sends the updates and measures, for
every participant and every update, host send -> participant receipt. Also reports the server's
RSS per idle connection.

A join-storm phase (`--storm N`) connects N members to one fresh session, at most `--storm-concurrency`
(50) connecting at a time, and reports when the last `init` arrived after the first connect, and
how many presence frames (`presence`, or `memberJoined`/`memberLeft`/`memberUpdated` for clients
that did not ask for batches) each member received per second during the storm.

usage: python scripts/bench/bench_fanout.py [--n 10,100,1000] [--stores memory,sqlite,redis]
                                             [--updates 200] [--gap-ms 20] [--runs 1]
                                             [--storm 1000] [--storm-presence batch|legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.http import wait_http  # noqa: E402
from tests.support.net import free_port  # noqa: E402
from tests.support.procstat import cpu_seconds, rss_kb  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

MARK = b'"currentTime":'


class WSClient(asyncio.Protocol):
    """Just enough RFC 6455: handshake, unmasked server frames in, masked text frames out."""

    def __init__(self, key: str, record: bool) -> None:
        self.key = key
        self.record = record
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.init = asyncio.get_running_loop().create_future()
        self.received: list[tuple[int, int]] = []  # (update index, ns)
        self.init_ns = 0
        self.presence_ns: list[int] = []  # arrival of each presence frame
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.status = ""  # the handshake's status line, as the server answered it
        self.close_code: int | None = None  # from the server's close frame, if one came

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        nonce = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /ws?sessionKey={self.key} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.buffer
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status = bytes(buf[: buf.find(b"\r\n")]).decode("latin-1")
            del buf[: end + 4]
            self.upgraded.set_result(None)
        while len(buf) >= 2:
            size = buf[1] & 0x7F
            head = 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, head = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, head = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < head + size:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[head : head + size])
            del buf[: head + size]
            if opcode == 0x1:
                self._message(payload, now)
            elif opcode == 0x9:
                self.send(payload, opcode=0xA)
            elif opcode == 0x8 and self.close_code is None:
                self.close_code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005

    def _message(self, payload: bytes, now: int) -> None:
        if not self.init.done() and payload.startswith(b'{"isHost"'):
            self.init_ns = now
            self.init.set_result(json.loads(payload))
        elif payload.startswith((b'{"type":"presence"', b'{"type":"member')):
            self.presence_ns.append(now)
        elif self.record and payload.startswith(b'{"type":"stateUpdate"'):
            start = payload.index(MARK) + len(MARK)
            end = payload.index(b",", start)
            self.received.append((int(float(payload[start:end])), now))

    def send(self, payload: bytes, opcode: int = 0x1) -> None:
        mask = os.urandom(4)
        size = len(payload)
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size) if size < 126 else struct.pack(
            "!BBH", 0x80 | opcode, 0x80 | 126, size
        )
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def connect(port: int, key: str, record: bool = True) -> WSClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WSClient(key, record), "127.0.0.1", port)
    await asyncio.wait_for(client.init, 180)
    return client


class Server:
    def __init__(
        self, store: str, workdir: Path, extra: list[str] | None = None, launcher: list[str] | None = None
    ) -> None:
        """`launcher`: what runs the server instead of `python -m videosync` (it takes the flags)."""
        self.port = free_port()
        self.redis: RedisServer | None = None
        args = [*(launcher or [sys.executable, "-m", "videosync"]),
                "--host", "127.0.0.1", "--port", str(self.port),
                "--media-dir", str(workdir / "media"), "--log-level", "warning",
                "--rate-limit", "1000", "--rate-burst", "1000", "--max-connections-per-ip", "10000",
                "--create-rate", "0", "--max-sessions", "0",
                *(extra or [])]  # a flag given twice: the last one counts
        if store == "memory":
            args += ["--data-dir", "memory://"]
        elif store == "sqlite":
            args += ["--data-dir", str(workdir / "data")]
        elif store == "redis":
            self.redis = RedisServer(workdir)
            self.redis.start()
            args += ["--redis-url", self.redis.url]
        (workdir / "media").mkdir(exist_ok=True)
        # an empty media dir makes the server render and package its sample video in the
        # background: seconds of ffmpeg on one of the two cores, during the first updates measured
        (workdir / "media" / "placeholder.mp4").write_bytes(b"not a video")
        # this checkout's videosync, whatever the launcher (a script's own directory comes first)
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.process = subprocess.Popen(args, cwd=ROOT, env=env)
        try:  # a loaded machine, or a server under tracemalloc, is slow to start
            wait_http(f"http://127.0.0.1:{self.port}/health", timeout=60)
        except Exception:
            self.stop()  # never left running behind the benchmark
            raise

    def session(self) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/sessions", method="POST")
        return str(json.loads(urllib.request.urlopen(request).read())["sessionKey"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.redis is not None:
            self.redis.stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run_fanout(server: Server, n: int, updates: int, gap_ms: float) -> dict[str, object]:
    key = server.session()
    host = await connect(server.port, key, record=False)
    participants: list[WSClient] = []
    joining = time.perf_counter()
    for start in range(0, n, 50):
        participants += await asyncio.gather(*(connect(server.port, key) for _ in range(min(50, n - start))))
    join_s = time.perf_counter() - joining
    await asyncio.sleep(1.0 + n / 500)  # let the join announcements settle
    sent: list[int] = []
    gc.collect()
    gc.disable()  # the load generator's own GC pauses would be counted as server latency
    server_cpu, client_cpu = cpu_seconds(server.process.pid), time.process_time()
    for i in range(updates):
        state = {"paused": False, "currentTime": i, "playbackRate": 1}
        message = json.dumps({"type": "stateUpdate", "state": state})
        sent.append(time.perf_counter_ns())
        host.send(message.encode())
        await asyncio.sleep(gap_ms / 1000)
    await asyncio.sleep(2.0)
    gc.enable()
    server_cpu = cpu_seconds(server.process.pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    latencies: list[float] = []
    complete = in_order = 0
    for p in participants:
        indices = [i for i, _ in p.received]
        complete += len(indices) == updates
        in_order += indices == sorted(indices)
        latencies += [(t - sent[i]) / 1e6 for i, t in p.received]
    for c in [host, *participants]:
        if c.transport is not None:
            c.transport.close()
    return {
        "n": n,
        "received": len(latencies),
        "expected": n * updates,
        "all_complete": complete == n,
        "all_in_order": in_order == n,
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "server_alive": server.alive(),
        "join_all_s": round(join_s, 1),
        # CPU per update, whatever else the machine runs: the floor of the latency on an idle core
        "server_cpu_ms_per_update": round(1000 * server_cpu / updates, 2),
        "client_cpu_ms_per_update": round(1000 * client_cpu / updates, 2),
    }


async def join_storm(server: Server, n: int, concurrency: int, batch: bool) -> dict[str, object]:
    """N members into one session, `concurrency` connecting at a time; init times and presence rates."""
    key = server.session() + ("&presence=batch" if batch else "")
    gate = asyncio.Semaphore(concurrency)
    loop = asyncio.get_running_loop()

    async def member() -> WSClient:
        async with gate:
            _, client = await loop.create_connection(lambda: WSClient(key, False), "127.0.0.1", server.port)
            await asyncio.wait_for(client.init, 180)
            return client

    server_cpu = cpu_seconds(server.process.pid)
    first = time.perf_counter_ns()
    clients = await asyncio.gather(*(member() for _ in range(n)))
    last_init = max(c.init_ns for c in clients)
    await asyncio.sleep(1.0)  # the news of the last joins
    server_cpu = cpu_seconds(server.process.pid) - server_cpu
    storm_s = max(0.001, (last_init - first) / 1e9)
    # the most presence frames any member got in any one second from its init to the storm's end
    worst = 0
    for c in clients:
        times = sorted(t for t in c.presence_ns if t <= last_init + 1e9)
        lo = 0
        for hi, t in enumerate(times):
            while t - times[lo] > 1e9:
                lo += 1
            worst = max(worst, hi - lo + 1)
    per_member = [len(c.presence_ns) for c in clients]
    for c in clients:
        if c.transport is not None:
            c.transport.close()
    return {
        "storm": n, "concurrency": concurrency, "presence": "batch" if batch else "legacy",
        "last_init_after_first_connect_s": round(storm_s, 3),
        "init_p50_s": round(statistics.median((c.init_ns - first) / 1e9 for c in clients), 3),
        "presence_frames_per_member_mean": round(statistics.mean(per_member), 1),
        "presence_frames_per_member_max_in_1s": worst,
        "server_cpu_s": round(server_cpu, 2),
    }


async def idle_memory(server: Server, n: int) -> dict[str, object]:
    # warm up: one session with a few members so code paths and caches are loaded
    warm = [await connect(server.port, server.session(), record=False) for _ in range(5)]
    await asyncio.sleep(1.0)
    before = rss_kb(server.process.pid)
    key = server.session()
    clients: list[WSClient] = []
    for start in range(0, n, 50):
        batch = min(50, n - start)
        clients += await asyncio.gather(*(connect(server.port, key, record=False) for _ in range(batch)))
    await asyncio.sleep(3.0)
    after = rss_kb(server.process.pid)
    for c in [*warm, *clients]:
        if c.transport is not None:
            c.transport.close()
    return {"connections": n, "rss_before_kb": before, "rss_after_kb": after,
            "kb_per_connection": round((after - before) / n, 1)}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="10,100,1000")
    parser.add_argument("--stores", default="memory,redis")
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--memory-connections", type=int, default=1000)
    parser.add_argument("--storm", type=int, default=0, help="members of a join storm (0: none)")
    parser.add_argument("--storm-concurrency", type=int, default=50)
    parser.add_argument("--storm-presence", choices=["batch", "legacy"], default="batch")
    args = parser.parse_args()
    if args.storm:
        for store in args.stores.split(","):
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    server = Server(store, Path(tmp))
                    try:
                        result = await join_storm(
                            server, args.storm, args.storm_concurrency, args.storm_presence == "batch"
                        )
                    finally:
                        server.stop()
                load = round(os.getloadavg()[0], 1)
                print(json.dumps({"store": store, **result, "load1": load}), flush=True)
        return
    for store in args.stores.split(","):
        for n in [int(x) for x in args.n.split(",")]:
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as tmp:
                    server = Server(store, Path(tmp))
                    try:
                        result = await run_fanout(server, n, args.updates, args.gap_ms)
                    finally:
                        server.stop()
                load = round(os.getloadavg()[0], 1)
                print(json.dumps({"store": store, **result, "load1": load}), flush=True)
        if args.memory_connections:
            with tempfile.TemporaryDirectory() as tmp:
                server = Server(store, Path(tmp))
                try:
                    result = await idle_memory(server, args.memory_connections)
                finally:
                    server.stop()
            print(json.dumps({"store": store, "idle": result}), flush=True)


def loop_factory():  # type: ignore[no-untyped-def]
    """uvloop when installed (as the server uses it): the load generator's callbacks cost half."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
