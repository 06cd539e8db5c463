"""The bulk budget of one event-loop turn: how many file bytes all downloads together may send
before sync messages get the loop; smaller while sync members share it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from videosync.handlers.zerocopy import SLICE_BYTES, TurnBudget

MIB = 1024 * 1024


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def next_turn(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_alone_a_turn_sends_two_slices_and_with_sync_members_one(loop: asyncio.AbstractEventLoop) -> None:
    members = False
    budget = TurnBudget(per_turn=2 * MIB, shared=MIB, sync_active=lambda: members)
    assert [budget.take(loop, SLICE_BYTES) for _ in range(3)] == [MIB, MIB, 0]
    members = True
    next_turn(loop)
    assert [budget.take(loop, SLICE_BYTES) for _ in range(2)] == [MIB, 0]
    members = False
    next_turn(loop)
    assert budget.take(loop, SLICE_BYTES) == MIB


def test_what_is_left_of_a_turn_is_granted_down_to_a_minimum(loop: asyncio.AbstractEventLoop) -> None:
    budget = TurnBudget(per_turn=MIB + 100 * 1024)
    assert budget.take(loop, MIB) == MIB
    assert budget.take(loop, MIB) == 100 * 1024  # the rest of the turn
    assert budget.take(loop, MIB) == 0  # less than the minimum grant left: wait for the next turn
    next_turn(loop)
    assert budget.take(loop, MIB) == MIB
