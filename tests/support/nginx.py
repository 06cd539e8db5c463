"""A throw-away Debian nginx on a free port: one process, its own config, temp dirs and logs in a
work dir, never the machine's /etc/nginx. Used by the accel-redirect tests and the benchmarks
(scripts/bench/bench_video.py, bench_sync_load.py), so it needs nothing but the standard library."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

from .debian import ensure
from .net import port_open

NGINX = "/usr/sbin/nginx"
PRODUCTION_DOC = Path(__file__).resolve().parents[2] / "docs" / "production.md"

# `http_conf` goes inside `http { }`: server blocks, upstreams, maps (a Debian site file's shape).
MAIN_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    keepalive_requests 1000000;
    client_body_temp_path {workdir}/body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
{http_conf}
}}
"""


def accel_config(videosync_port: int, nginx_port: int, media_dir: Path) -> str:
    """The `--accel-redirect` nginx config of docs/production.md (the one with an `internal`
    location), with these ports and media dir: what is tested and measured is what is documented."""
    blocks = [b for b in re.findall(r"```nginx\n(.*?)```", PRODUCTION_DOC.read_text(), re.S)
              if "internal;" in b]
    if len(blocks) != 1:
        raise AssertionError("docs/production.md should hold one accel-redirect nginx config")
    conf = blocks[0]
    for documented, ours in [("server 127.0.0.1:8080;", f"server 127.0.0.1:{videosync_port};"),
                             ("listen 80;", f"listen 127.0.0.1:{nginx_port};"),
                             ("alias /srv/videosync/media/;", f"alias {media_dir}/;")]:
        if documented not in conf:
            raise AssertionError(f"the documented config no longer has {documented!r}")
        conf = conf.replace(documented, ours)
    return conf


def find_nginx() -> str | None:
    """Debian's nginx binary, or None (scripts/test.sh installs it)."""
    return shutil.which("nginx") or (NGINX if Path(NGINX).exists() else None)


def ensure_nginx() -> str:
    """For the benchmarks: Debian's nginx, installed with apt-get when missing."""
    return find_nginx() or ensure("nginx", "nginx")


class Nginx:
    """nginx serving `http_conf`, whose server listens on 127.0.0.1:`port` (from `free_port()`)."""

    def __init__(self, workdir: Path, http_conf: str, port: int, binary: str | None = None,
                 nice: int = 0) -> None:
        """`nice`: run at this lower CPU priority (what `worker_priority` does to nginx's workers;
        in this one-process mode nginx has none)."""
        self.workdir = workdir
        self.nice = nice
        self.port = port
        self.binary = binary or find_nginx()
        if self.binary is None:
            raise RuntimeError("nginx is not installed: run scripts/test.sh, which installs it")
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "nginx.conf"
        self.conf.write_text(MAIN_CONF.format(workdir=workdir, http_conf=http_conf))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 15) -> Nginx:
        niced = ["nice", "-n", str(self.nice)] if self.nice else []  # nice execs: the pid is nginx's
        self.process = subprocess.Popen(
            [*niced, str(self.binary), "-c", str(self.conf), "-p", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start: {self.errors()}")
            time.sleep(0.05)
        return self

    def errors(self) -> str:
        log = self.workdir / "error.log"
        return log.read_text() if log.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()  # SIGTERM: nginx's fast shutdown
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
