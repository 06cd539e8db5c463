"""The session service over both stores: keys, host tokens, versions, gone sessions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from videosync.sessions import SessionNotFound, SessionService, UnknownVideo, is_session_key
from videosync.state import PlaybackState
from videosync.store import Store


def service(store: Store, videos: set[str] = frozenset()) -> SessionService:  # type: ignore[assignment]
    return SessionService(store, ttl=60, video_exists=videos.__contains__, clock=lambda: 1_000_000)


@pytest.mark.gen_test
async def test_created_keys_are_canonical_uuids_and_exist(store: Store) -> None:
    sessions = service(store)
    created = await sessions.create()
    assert is_session_key(created.key)
    assert await sessions.exists(created.key)
    assert not await sessions.exists(created.key + ":state")


@pytest.mark.gen_test
async def test_the_host_token_is_checked_in_constant_time_and_trimmed(store: Store) -> None:
    sessions = service(store)
    created = await sessions.create()
    assert await sessions.check_host_token(created.key, created.host_token)
    assert await sessions.check_host_token(created.key, f"  {created.host_token} ")
    assert not await sessions.check_host_token(created.key, "wrong")
    assert not await sessions.check_host_token(created.key, None)


@pytest.mark.gen_test
async def test_a_session_may_name_a_known_video_only(store: Store) -> None:
    sessions = service(store, {"intro"})
    created = await sessions.create("intro")
    assert (await sessions.state(created.key)).video == "intro"
    assert (await sessions.view(created.key)).video == "intro"
    with pytest.raises(UnknownVideo):
        await sessions.create("missing")


@pytest.mark.gen_test
async def test_each_saved_state_is_the_next_version(store: Store) -> None:
    sessions = service(store)
    key = (await sessions.create()).key
    first = await sessions.save_state(key, PlaybackState(paused=False, timestamp=5))
    second = await sessions.save_state(key, PlaybackState(paused=True, current_time=3.0, timestamp=6))
    assert (first.version, second.version) == (1, 2)
    assert await sessions.state(key) == second


@pytest.mark.gen_test
async def test_an_update_built_on_a_stale_copy_is_applied_again_to_the_newer_state(store: Store) -> None:
    sessions = service(store)
    key = (await sessions.create()).key
    stale = await sessions.stored_state(key)  # version 0, then someone else writes version 1
    await sessions.save_state(key, PlaybackState(paused=False, current_time=5.0, timestamp=7))
    based_on: list[int] = []

    def pause(current: PlaybackState) -> PlaybackState:
        based_on.append(current.version)
        return replace(current, paused=True)

    saved = await sessions.update_state(key, pause, cached=stale)
    assert based_on == [0, 1], "the write on the stale copy was refused and redone on the new one"
    assert (saved.state.version, saved.state.paused, saved.state.current_time) == (2, True, 5.0)
    assert await sessions.stored_state(key) == saved


@pytest.mark.gen_test
async def test_an_update_from_a_current_copy_needs_no_read(store: Store) -> None:
    sessions = service(store)
    key = (await sessions.create()).key
    current = await sessions.stored_state(key)
    reads = 0
    get_state = store.get_state

    async def counting_get_state(k: str) -> str | None:
        nonlocal reads
        reads += 1
        return await get_state(k)

    store.get_state = counting_get_state  # type: ignore[method-assign]
    saved = await sessions.update_state(key, lambda s: replace(s, paused=False), cached=current)
    assert reads == 0 and saved.state.version == 1


@pytest.mark.gen_test
async def test_saving_into_a_deleted_session_fails_and_does_not_revive_it(store: Store) -> None:
    sessions = service(store)
    key = (await sessions.create()).key
    await store.delete_session(key)
    with pytest.raises(SessionNotFound):
        await sessions.save_state(key, PlaybackState(paused=False))
    assert not await sessions.exists(key)


@pytest.mark.gen_test
async def test_the_public_view_extrapolates_a_playing_state(store: Store) -> None:
    sessions = service(store)
    key = (await sessions.create()).key
    await sessions.save_state(key, PlaybackState(paused=False, current_time=10.0, timestamp=990_000))
    view = await sessions.view(key)
    assert view.state.current_time == pytest.approx(20.0)
    assert view.state.timestamp == 1_000_000


@pytest.mark.gen_test
async def test_the_public_view_issues_its_reads_together(store: Store) -> None:
    """Each read waits until all four are in flight: read one after another, the view never ends."""
    import asyncio

    sessions = service(store)
    key = (await sessions.create()).key
    in_flight = 0
    all_in = asyncio.Event()

    def gated(read):  # type: ignore[no-untyped-def]
        async def wrapper(*args):  # type: ignore[no-untyped-def]
            nonlocal in_flight
            in_flight += 1
            if in_flight == 4:
                all_in.set()
            await all_in.wait()
            return await read(*args)

        return wrapper

    for name in ("session_exists", "get_state", "get_meta", "get_host"):
        setattr(store, name, gated(getattr(store, name)))
    view = await asyncio.wait_for(sessions.view(key), 2)
    assert view.key == key and not view.has_host
    with pytest.raises(SessionNotFound):
        await sessions.view(key[:-1] + ("0" if key[-1] != "0" else "1"))
