"""A throw-away redis-server of the tests' own, on a free port (never the machine's 6379)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from .net import free_port


def wait_for_redis(port: int, timeout: float = 10) -> None:
    """Until a redis-server (or Sentinel) on `port` answers PING."""
    with redis.Redis(port=port, socket_connect_timeout=0.2) as client:
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class RedisServer:
    """redis-server with persistence off; `workdir` is its working directory (None: the cwd, for
    a server that never writes a file)."""

    def __init__(self, workdir: Path | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run scripts/test.sh, which installs it")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._cmd = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--loglevel", "warning",
        ]
        if workdir is not None:
            self._cmd += ["--dir", str(workdir)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self._cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_redis(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()
