"""The packaging queue: video ids taken round-robin by owner, so no uploader can monopolise ffmpeg.

asyncio.Queue is first-in first-out: one session queueing ten videos would make everyone else
wait for all ten. Here each owner (a session key; None for the operator's library) has a line of
its own and `get` serves the owners in turn.
"""

from __future__ import annotations

import asyncio
from collections import deque


class FairQueue:
    def __init__(self) -> None:
        self._lines: dict[str | None, deque[str]] = {}
        self._turns: deque[str | None] = deque()  # owners with work, in serving order
        self._waiting = asyncio.Event()
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return sum(len(line) for line in self._lines.values())

    def __contains__(self, item: str) -> bool:
        return any(item in line for line in self._lines.values())

    def put(self, owner: str | None, item: str) -> None:
        line = self._lines.setdefault(owner, deque())
        if not line:
            self._turns.append(owner)
        line.append(item)
        self._unfinished += 1
        self._idle.clear()
        self._waiting.set()

    def discard(self, item: str) -> bool:
        """Take `item` out of the queue if it is still waiting; True if it was."""
        for owner, line in self._lines.items():
            if item in line:
                line.remove(item)
                if not line:
                    self._turns.remove(owner)
                    del self._lines[owner]
                self.task_done()
                return True
        return False

    def get_nowait(self) -> str | None:
        if not self._turns:
            return None
        owner = self._turns.popleft()
        line = self._lines[owner]
        item = line.popleft()
        if line:
            self._turns.append(owner)  # back of the round
        else:
            del self._lines[owner]
        return item

    async def get(self) -> str:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            self._waiting.clear()
            await self._waiting.wait()

    def task_done(self) -> None:
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._unfinished = 0
            self._idle.set()

    async def join(self) -> None:
        await self._idle.wait()
