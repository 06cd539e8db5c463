"""The chat history and moderation records, on every backend: bounded, ordered, only for a live
session, refreshed with it and gone with it; and the SQLite store keeps them across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from videosync.store import Store
from videosync.store.sqlite import SqliteStore, url_for_dir


async def _create(store: Store, key: str = "k1", ttl: int = 60) -> None:
    await store.create_session(key, '{"paused":true}', '{"hostToken":"t"}', ttl)


@pytest.mark.gen_test
async def test_chat_history_keeps_the_last_lines_in_order(store: Store) -> None:
    await _create(store)
    assert await store.get_chat("k1") == []
    for i in range(5):
        assert await store.append_chat("k1", f'{{"n":{i}}}', 3, 60)
    assert await store.get_chat("k1") == ['{"n":2}', '{"n":3}', '{"n":4}']


@pytest.mark.gen_test
async def test_chat_and_moderation_need_a_live_session_and_go_with_it(store: Store) -> None:
    assert not await store.append_chat("nobody", "x", 3, 60)
    assert not await store.set_moderation("nobody", "locked", "1", 60)
    assert await store.get_chat("nobody") == [] and await store.get_moderation("nobody") == {}
    await _create(store)
    await store.append_chat("k1", "x", 3, 60)
    await store.set_moderation("k1", "ban:m1", "1", 60)
    await store.delete_session("k1")
    assert await store.get_chat("k1") == [] and await store.get_moderation("k1") == {}


@pytest.mark.gen_test
async def test_moderation_records_are_set_and_cleared_one_by_one(store: Store) -> None:
    await _create(store)
    assert await store.set_moderation("k1", "locked", "1", 60)
    assert await store.set_moderation("k1", "kick:m1", "123", 60)
    assert await store.get_moderation("k1") == {"locked": "1", "kick:m1": "123"}
    assert await store.set_moderation("k1", "locked", None, 60)
    assert await store.get_moderation("k1") == {"kick:m1": "123"}


@pytest.mark.gen_test(timeout=10)
async def test_touch_keeps_them_as_long_as_the_session(store: Store) -> None:
    await _create(store, ttl=1)
    await store.append_chat("k1", "x", 3, 1)
    await store.set_moderation("k1", "locked", "1", 1)
    await asyncio.sleep(0.6)
    assert await store.touch("k1", 2)
    await asyncio.sleep(0.8)  # past their first TTL, within the refreshed one
    assert await store.get_chat("k1") == ["x"]
    assert await store.get_moderation("k1") == {"locked": "1"}
    await asyncio.sleep(1.5)
    assert await store.get_chat("k1") == [] and await store.get_moderation("k1") == {}


@pytest.mark.gen_test
async def test_sqlite_keeps_chat_and_moderation_across_a_restart(tmp_path: Path) -> None:
    url = url_for_dir(str(tmp_path / "data"))
    store = SqliteStore(url)
    await _create(store)
    for i in range(4):
        await store.append_chat("k1", f"line {i}", 3, 60)
    await store.set_moderation("k1", "ban:m1", "1", 60)
    await store.close()
    again = SqliteStore(url)
    try:
        assert await again.get_chat("k1") == ["line 1", "line 2", "line 3"]
        await again.append_chat("k1", "line 4", 3, 60)  # numbering goes on after the reload
        assert await again.get_chat("k1") == ["line 2", "line 3", "line 4"]
        assert await again.get_moderation("k1") == {"ban:m1": "1"}
    finally:
        await again.close()
