"""Real processes for the fault tests: `python -m videosync` servers that can be signalled.

Each server logs to a file of its own; a failing test shows the tail of every log (see conftest).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.http import answers_ok, http
from tests.support.net import free_port, port_open

__all__ = ["ServerProc", "StartedServers", "http"]  # `http` re-exported: the fault tests import it from here

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServerProc:
    """One `python -m videosync serve`; `start()` again after a kill reuses the port."""

    workdir: Path
    redis_url: str | None = None
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    name: str = "server"
    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None  # the embedded store's; default: one of its own in workdir

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.port}.log"

    def command(self) -> list[str]:
        media = self.workdir / "media"
        media.mkdir(exist_ok=True)
        # not empty, so the server does not spend a core rendering its sample video during the test
        (media / "placeholder.mp4").write_bytes(b"not a video")
        cmd = [
            sys.executable, "-m", "videosync", "--host", "127.0.0.1", "--port", str(self.port),
            "--media-dir", str(media), "--web-dir", str(self.workdir / "no-web"),
            "--data-dir", str(self.data_dir or self.workdir / f"data-{self.name}-{self.port}"), *self.args,
        ]
        return cmd + (["--redis-url", self.redis_url] if self.redis_url else [])

    def start(self, timeout: float = 20.0) -> None:
        path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": path, **self.env}
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(), cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,  # signals to its group reach its workers, never the test
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}:\n{self.log_tail()}")
            if answers_ok(self.base + "/health"):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any workers): a crash, no clean-up."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def accepts(self) -> bool:
        return port_open(self.port)


class StartedServers:
    """The server processes one test started: all stopped when it ends, each log's tail printed
    (pytest shows it only when the test failed)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[ServerProc] = []

    def start(self, **kw: Any) -> ServerProc:
        server = ServerProc(self.tmp_path, **kw)
        self.started.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
            print(f"----- {server.name} log (tail) -----\n{server.log_tail()}")
