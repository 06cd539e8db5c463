"""The SQLite store keeps every key, value and TTL across a restart, and writes behind the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from videosync.store import StoreError
from videosync.store.sqlite import SqliteStore, path_of, url_for_dir


@dataclass
class Clocks:
    """A monotonic clock and a wall clock that advance together, as real ones do."""

    mono: float = 500.0
    wall: float = 1_800_000_000.0

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def open(self, url: str, **options: float) -> SqliteStore:
        return SqliteStore(url, clock=lambda: self.mono, wall_clock=lambda: self.wall, **options)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return url_for_dir(str(tmp_path / "data"))


def rows(url: str) -> dict[str, tuple[str, str, float | None]]:
    with sqlite3.connect(path_of(url)) as db:
        return {name: (kind, value, exp) for name, kind, value, exp in db.execute("SELECT * FROM keys")}


@pytest.mark.gen_test
async def test_a_restart_keeps_every_key_its_value_and_its_remaining_ttl(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    await store.create_session("k1", '{"paused":true,"currentTime":42}', '{"hostToken":"secret"}', 60)
    await store.put_member("k1", "m1", '{"name":"Ana"}', 60)
    await store.put_member("k1", "m2", '{"name":"Bo"}', 60)
    assert await store.acquire_host("k1", "m1", 10_000)
    await store.close()

    clocks.advance(7)  # down for 7 s; a new process has a monotonic clock of its own
    clocks.mono = 3.0
    again = clocks.open(url)
    assert await again.get_state("k1") == '{"paused":true,"currentTime":42}'
    assert await again.get_meta("k1") == '{"hostToken":"secret"}'
    assert await again.get_members("k1") == {"m1": '{"name":"Ana"}', "m2": '{"name":"Bo"}'}
    assert await again.get_host("k1") == "m1"
    assert again.ttl("session:k1") == pytest.approx(53)
    assert again.ttl("session:k1:host") == pytest.approx(3)
    clocks.advance(4)
    assert await again.get_host("k1") is None  # the lease ran out while we were down and after
    assert await again.session_exists("k1")
    await again.close()


@pytest.mark.gen_test
async def test_keys_that_expired_while_the_server_was_down_are_not_loaded(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    await store.create_session("short", "{}", "{}", 5)
    await store.create_session("long", "{}", "{}", 500)
    await store.close()
    clocks.advance(10)
    again = clocks.open(url)
    assert not await again.session_exists("short")
    assert await again.session_exists("long")
    assert again.key_count() == 3
    assert set(rows(url)) == {"session:long", "session:long:state", "session:long:meta"}  # dropped on disk
    await again.close()


@pytest.mark.gen_test
async def test_deletions_expiries_and_refreshes_reach_the_file(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    await store.create_session("gone", "{}", "{}", 60)
    await store.create_session("swept", "{}", "{}", 5)
    await store.create_session("kept", "{}", "{}", 10)
    await store.flush()
    await store.delete_session("gone")
    clocks.advance(6)
    store.sweep()  # "swept" expired: freed without a read, and from the file too
    assert await store.touch("kept", 100)
    await store.flush()
    on_disk = rows(url)
    assert set(on_disk) == {"session:kept", "session:kept:state", "session:kept:meta"}
    assert on_disk["session:kept"][2] == pytest.approx(clocks.wall + 100)
    await store.close()


@pytest.mark.gen_test
async def test_writes_reach_the_file_within_the_flush_interval_without_being_asked(url: str) -> None:
    store = SqliteStore(url, flush_interval=0.05)
    await store.create_session("k1", '{"v":1}', "{}", 60)
    assert await store.set_state("k1", '{"v":2}', 60)
    deadline = time.monotonic() + 5
    while rows(url).get("session:k1:state", (None, None))[1] != '{"v":2}':
        assert time.monotonic() < deadline, "the journal was not flushed"
        await asyncio.sleep(0.02)
    await store.close()


@pytest.mark.gen_test
async def test_hashes_are_saved_whole_and_an_emptied_one_is_removed(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    await store.create_session("k1", "{}", "{}", 60)
    await store.put_member("k1", "m1", '{"name":"Ana"}', 60)
    await store.flush()
    assert rows(url)["session:k1:members"][:2] == ("h", '{"m1":"{\\"name\\":\\"Ana\\"}"}')
    await store.remove_member("k1", "m1")
    await store.flush()
    assert "session:k1:members" not in rows(url)
    await store.close()


@pytest.mark.gen_test
async def test_a_second_process_cannot_open_the_same_data_dir(url: str) -> None:
    store = SqliteStore(url)
    with pytest.raises(StoreError, match="in use by another videosync process"):
        SqliteStore(url)
    await store.close()
    SqliteStore(url)._db_file.close()  # free again once the first has closed


@pytest.mark.gen_test
async def test_an_unusable_data_dir_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError, match="cannot use data dir"):
        SqliteStore(url_for_dir(str(tmp_path / "file" / "data")))


@pytest.mark.gen_test
async def test_changes_a_failed_write_carried_are_written_with_the_next_flush(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    real_write = store._db_file.write
    failures = []

    def full_disk_once(batch: tuple[str, str]) -> None:
        if not failures:
            failures.append(batch)
            raise sqlite3.OperationalError("database or disk is full")
        real_write(batch)

    store._db_file.write = full_disk_once  # type: ignore[method-assign]
    await store.create_session("k1", '{"v":1}', "{}", 60)
    await store.flush()  # fails: the keys stay in memory and are marked for the next flush
    assert failures and rows(url) == {}
    await store.flush()
    assert rows(url)["session:k1:state"][1] == '{"v":1}'
    await store.close()


@pytest.mark.gen_test
async def test_the_sessions_held_are_those_loaded_and_live_and_only_sessions(url: str) -> None:
    clocks = Clocks()
    store = clocks.open(url)
    await store.create_session("short", "{}", "{}", 5)
    await store.create_session("long", "{}", "{}", 500)
    await store.put_member("long", "m1", '{"name":"Ana"}', 500)
    assert await store.acquire_host("long", "m1", 10_000)
    await store.close()
    clocks.mono = 3.0  # a new process: a monotonic clock of its own
    again = clocks.open(url)
    assert sorted(again.session_keys()) == ["long", "short"]  # members, host, state: no sessions
    clocks.advance(5)
    assert again.session_keys() == ["long"]  # "short" ran out after the load, before any sweep
    await again.close()
