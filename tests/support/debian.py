"""Debian packages the benchmarks need (wrk, nginx), installed with apt-get when missing, so a
benchmark runs on a fresh machine as it is (the tests' own packages come from scripts/test.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def ensure(binary: str, package: str) -> str:
    """The path of `binary`, installing Debian's `package` first if it is not on this machine."""
    found = shutil.which(binary) or next(
        (str(p) for p in (Path("/usr/sbin") / binary, Path("/usr/bin") / binary) if p.exists()), None
    )
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"(installing {package} with apt-get)", file=sys.stderr)
    subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends", package],
                   check=True, stdout=subprocess.DEVNULL)
    found = shutil.which(binary)
    if not found:
        raise RuntimeError(f"apt-get installed {package}, but there is no {binary}")
    return found
