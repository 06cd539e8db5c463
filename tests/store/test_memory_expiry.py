"""The embedded store frees expired keys by itself: a session nobody reads again does not stay."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from dataclasses import dataclass

import pytest

from videosync.store.memory import MemoryStore


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


async def _create_sessions(store: MemoryStore, count: int, ttl: int, prefix: str = "s") -> None:
    for n in range(count):
        key = f"{prefix}{n:06d}"
        await store.create_session(key, '{"paused":true,"currentTime":12.5}', '{"hostToken":"' + key + '"}', ttl)
        await store.put_member(key, "member-1", '{"name":"Ana","buffering":false}', ttl)
        await store.acquire_host(key, "member-1", 10_000)


@pytest.mark.gen_test
async def test_expired_sessions_are_freed_by_the_sweep_without_being_read() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await _create_sessions(store, 1000, ttl=60)
    assert store.key_count() == 5000
    clock.now += 30
    assert store.sweep() == 1000  # the 10 s host leases ran out; the sessions live on
    clock.now += 31
    assert store.sweep() == 4000
    assert store.key_count() == 0
    await store.close()


@pytest.mark.gen_test
async def test_memory_held_by_expired_sessions_is_released_without_any_read() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        held, left = [], []
        for round_ in range(4):  # rounds of 5,000 sessions, each left to expire unread
            await _create_sessions(store, 5000, ttl=60, prefix=f"r{round_}-")
            held.append(tracemalloc.get_traced_memory()[0] - start)
            clock.now += 61
            while store.sweep():  # what the periodic sweep does, step by step
                pass
            gc.collect()
            left.append(tracemalloc.get_traced_memory()[0] - start)
    finally:
        tracemalloc.stop()
    assert store.key_count() == 0
    assert min(held) > 5_000_000  # 5,000 sessions take megabytes ...
    # ... and give them back: what stays is the key table's capacity (a dict keeps its size,
    # ready for the next keys), the same after every round, not growing with what has gone
    assert max(left) < min(held) / 5, (held, left)
    assert left[-1] - left[0] < min(held) / 50, (held, left)
    await store.close()


@pytest.mark.gen_test
async def test_a_refreshed_key_is_kept_and_freed_only_after_its_new_deadline() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await store.create_session("k", "{}", "{}", 10)
    clock.now += 8
    assert await store.touch("k", 10)  # deadline now 1018
    clock.now += 5  # 1013: past the first deadline, not the second
    assert store.sweep() == 0
    assert store.key_count() == 3
    clock.now += 5
    assert store.sweep() == 3
    await store.close()


@pytest.mark.gen_test
async def test_a_shortened_ttl_is_swept_at_the_shorter_deadline() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await store.create_session("k", "{}", "{}", 100)
    assert await store.touch("k", 5)
    clock.now += 6
    assert store.sweep() == 3
    await store.close()


@pytest.mark.gen_test
async def test_deleted_keys_leave_no_growing_leftovers_in_the_expiry_heap() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await store.create_session("k", "{}", "{}", 86400)
    for n in range(20_000):  # members joining and leaving one by one: the hash is made anew each time
        await store.put_member("k", f"m{n}", "{}", 86400)
        await store.remove_member("k", f"m{n}")
    assert store.keys.filed <= 2 * store.key_count()
    await store.close()


@pytest.mark.gen_test
async def test_a_store_emptied_by_deletions_keeps_no_record_of_the_deleted_keys() -> None:
    store = MemoryStore(clock=FakeClock())
    await _create_sessions(store, 50, ttl=86400)  # deadlines a day away: the sweep never meets them
    for n in range(50):
        await store.delete_session(f"s{n:06d}")
    assert store.key_count() == 0
    assert store.keys.filed == 0
    await store.close()


@pytest.mark.gen_test
async def test_rewriting_a_key_does_not_file_it_again() -> None:
    store = MemoryStore(clock=FakeClock())
    await store.create_session("k", "{}", "{}", 60)
    for n in range(1000):  # the hot path: a state update rewrites the state and refreshes the rest
        assert await store.set_state("k", f'{{"currentTime":{n}}}', 60)
    assert store.keys.filed == 3  # one record per key, each met by the sweep and re-filed
    await store.close()


@pytest.mark.gen_test
async def test_a_sweep_frees_at_most_its_batch_and_the_rest_on_the_next() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    await _create_sessions(store, 100, ttl=5)
    clock.now += 20
    assert store.sweep(limit=250) == 250
    assert store.sweep(limit=250) == 250
    assert store.sweep(limit=250) == 0
    assert store.key_count() == 0
    await store.close()


@pytest.mark.gen_test
async def test_the_store_sweeps_periodically_on_its_own() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock, sweep_interval=0.01)
    await _create_sessions(store, 50, ttl=5)
    clock.now += 20  # everything has expired; nothing will read it
    deadline = time.monotonic() + 5
    while store.key_count():
        assert time.monotonic() < deadline, "the periodic sweep did not run"
        await asyncio.sleep(0.01)
    assert not store.keys.sweeping  # nothing left that can expire: no timer keeps running
    await store.create_session("again", "{}", "{}", 5)
    assert store.keys.sweeping  # a new TTL starts it again
    await store.close()
