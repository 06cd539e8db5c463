"""What a process has used so far, read from /proc (benchmarks report it): CPU seconds, which other
load on the machine cannot skew the way it skews wall-clock rates, and resident memory."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def cpu_seconds(*pids: int) -> float:
    """User + system CPU seconds these processes have used (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name may hold ") "
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """A process's direct children (a server's workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss_kb(pid: int) -> int:
    """Resident memory of a process, in KiB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, as an operator stops the server; SIGKILL if it has not ended within `timeout` s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
