#!/usr/bin/env python3
"""Runs `python -m videosync` with two probes bench_soak.py uses to tell what grows from what the
allocator merely keeps. A file DIR/request holding one word asks for one (a thread watches for it:
Python signal handlers wait for the event loop, and uvloop's loop does not run them); the answer
is a JSON line appended to DIR/probe.jsonl, and the request file is removed.

- `snapshot`: a gc, then a tracemalloc snapshot written to DIR/snapshot-N.pickle and the traced
  total (start tracemalloc with `-X tracemalloc=8`);
- `garbage`: a gc that reports what it freed, by type (what closed sockets leave in reference
  cycles, kept until the cycle collector runs);
- `trim`: a gc, and the RSS before and after glibc's malloc_trim(0) (memory freed by Python but
  kept by the C allocator comes back; memory still referenced does not).

usage: python [-X tracemalloc=8] scripts/bench/soak_probe.py DIR [videosync flags...]
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench_fanout import rss_kb

from videosync.__main__ import main


def answer(out: Path, request: str, taken: int) -> dict[str, object]:
    if request == "garbage":
        return garbage()
    gc.collect()
    if request == "snapshot":
        fields: dict[str, object] = {"probe": "snapshot", "n": taken}
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(str(out / f"snapshot-{taken}.pickle"))
            fields["traced_kb"] = tracemalloc.get_traced_memory()[0] // 1024
        return fields
    before = rss_kb(os.getpid())
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return {"probe": "trim", "rss_kb": before, "trimmed_rss_kb": rss_kb(os.getpid()), **pymalloc_kb(out)}


def garbage() -> dict[str, object]:
    """What only the cycle collector would free: objects unreachable yet kept alive by reference
    cycles, counted by type (a full collection that keeps them in gc.garbage to be looked at)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        started = time.perf_counter()
        found = gc.collect()
        took_ms = round(1000 * (time.perf_counter() - started), 1)
        kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return {"probe": "garbage", "garbage_objects": found, "collect_ms": took_ms,
            "garbage_types": kinds.most_common(30)}


def pymalloc_kb(out: Path) -> dict[str, int]:
    """Python's small-object allocator: memory in its arenas (kept from the OS while any block in
    an arena is used), and how much of that holds live objects."""
    stats = out / "mallocstats.txt"
    with stats.open("w") as sink:  # sys._debugmallocstats writes to the C stderr
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    found: dict[str, int] = {}
    names = {"# arenas allocated current": "arenas", "# bytes in allocated blocks": "used_kb",
             "# bytes in available blocks": "free_blocks_kb"}
    for line in stats.read_text().splitlines():
        label, _, value = line.partition("=")
        digits = value.strip().replace(",", "")
        if not digits.isdigit():
            continue
        name = names.get(label.strip())
        if name is not None:
            found[name] = int(digits) if name == "arenas" else int(digits) // 1024
        elif "unused pools *" in line:
            found["unused_pools_kb"] = int(digits) // 1024
    if "arenas" in found:
        found["arenas_kb"] = found["arenas"] * 1024  # 1 MiB each on 64-bit since Python 3.10
    return found


def watch(out: Path) -> None:
    request_file = out / "request"
    taken = 0
    while True:
        time.sleep(0.1)
        try:
            request = request_file.read_text().strip()
        except FileNotFoundError:
            continue
        taken += request == "snapshot"
        fields = answer(out, request, taken)
        with (out / "probe.jsonl").open("a") as log:
            log.write(json.dumps(fields) + "\n")
        request_file.unlink()


if __name__ == "__main__":
    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=watch, args=(directory,), daemon=True, name="soak-probe").start()
    sys.exit(main(sys.argv[2:]))
