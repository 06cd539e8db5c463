"""`--workers N`: a pre-fork parent that passes SIGTERM/SIGINT on to its workers and waits for them.

Tornado's `fork_processes` leaves the parent in `os.wait()` with the default signal dispositions:
a SIGTERM sent to the parent alone (Docker's `stop`, `kill <pid>`) killed it and orphaned the
workers, which went on serving and never closed their sockets with 1001. Here the parent forwards
the signal, waits for every worker to finish its graceful shutdown and exits 0; a worker that dies
abnormally (a crash, the OOM killer) is restarted, as Tornado did.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

from . import metrics

log = logging.getLogger(__name__)

MAX_RESTARTS = 100
FORWARDED = (signal.SIGTERM, signal.SIGINT)


def fork_workers(count: int) -> int:
    """Fork `count` workers. Returns the worker's index in each worker; never returns in the parent.

    The parent holds no listening socket: each worker opens its own after the fork, so the port
    stops accepting as soon as the workers stop listening.
    """
    children: dict[int, int] = {}
    stopping = False

    def start(index: int) -> bool:
        pid = os.fork()
        if pid == 0:
            for sig in FORWARDED:
                signal.signal(sig, signal.SIG_DFL)  # the worker's event loop installs its own
            return True
        children[pid] = index
        return False

    def forward(sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in tuple(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    for sig in FORWARDED:
        signal.signal(sig, forward)  # before forking, so no signal slips between fork and handler
    for index in range(count):
        if start(index):
            return index
    log.info("started %d workers", count)
    restarts = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index = children.pop(pid)
        metrics.process_exited(pid)
        code = os.waitstatus_to_exitcode(status)
        if code == 0 or stopping:
            continue
        log.warning("worker %d (pid %d) exited with %d; restarting", index, pid, code)
        restarts += 1
        if restarts > MAX_RESTARTS:
            log.error("too many worker restarts; giving up")
            forward(signal.SIGTERM, None)
            continue
        if start(index):
            return index
    sys.exit(0)
