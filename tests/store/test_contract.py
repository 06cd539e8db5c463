"""The store contract: every backend behaves the same, with Go-A's keys and values."""

from __future__ import annotations

import asyncio

import pytest

from videosync.store import StateChanged, Store
from videosync.store.base import consume, session_channel


async def _create(store: Store, key: str = "k1", ttl: int = 60) -> None:
    await store.create_session(key, '{"paused":true}', '{"hostToken":"t"}', ttl)


@pytest.mark.gen_test
async def test_created_session_exists_with_its_state_and_meta(store: Store) -> None:
    await _create(store)
    assert await store.session_exists("k1")
    assert await store.get_state("k1") == '{"paused":true}'
    assert await store.get_meta("k1") == '{"hostToken":"t"}'
    assert not await store.session_exists("k2")


@pytest.mark.gen_test
async def test_session_expires_after_its_ttl(store: Store) -> None:
    await _create(store, ttl=1)
    await asyncio.sleep(1.2)
    assert not await store.session_exists("k1")
    assert await store.get_state("k1") is None


@pytest.mark.gen_test
async def test_touch_refreshes_a_live_session_and_refuses_a_dead_one(store: Store) -> None:
    await _create(store, ttl=1)
    await asyncio.sleep(0.6)
    assert await store.touch("k1", 2)
    await asyncio.sleep(0.8)
    assert await store.session_exists("k1")
    assert not await store.touch("nobody", 2)
    assert not await store.session_exists("nobody")


@pytest.mark.gen_test
async def test_set_state_never_resurrects_a_deleted_session(store: Store) -> None:
    await _create(store)
    assert await store.set_state("k1", '{"paused":false}', 60)
    assert await store.get_state("k1") == '{"paused":false}'
    await store.delete_session("k1")
    assert not await store.set_state("k1", '{"paused":true}', 60)
    assert not await store.session_exists("k1")
    assert await store.get_state("k1") is None


@pytest.mark.gen_test
async def test_host_lease_has_one_holder_who_alone_renews_and_releases_it(store: Store) -> None:
    await _create(store)
    assert await store.acquire_host("k1", "alice", 5000)
    assert not await store.acquire_host("k1", "bob", 5000)
    assert await store.get_host("k1") == "alice"
    assert not await store.renew_host("k1", "bob", 5000)
    assert not await store.release_host("k1", "bob")
    assert await store.renew_host("k1", "alice", 5000)
    assert await store.release_host("k1", "alice")
    assert await store.get_host("k1") is None
    assert await store.acquire_host("k1", "bob", 5000)


@pytest.mark.gen_test
async def test_host_lease_expires_unless_renewed(store: Store) -> None:
    await _create(store)
    assert await store.acquire_host("k1", "alice", 300)
    await asyncio.sleep(0.45)
    assert await store.get_host("k1") is None
    assert not await store.renew_host("k1", "alice", 300)


@pytest.mark.gen_test
async def test_members_are_kept_per_session(store: Store) -> None:
    await _create(store)
    await store.put_member("k1", "m1", '{"name":"a"}', 60)
    await store.put_member("k1", "m2", '{"name":"b"}', 60)
    await store.put_member("k1", "m1", '{"name":"a2"}', 60)
    assert await store.get_members("k1") == {"m1": '{"name":"a2"}', "m2": '{"name":"b"}'}
    await store.remove_member("k1", "m1")
    assert await store.get_members("k1") == {"m2": '{"name":"b"}'}
    assert await store.get_members("other") == {}


@pytest.mark.gen_test
async def test_delete_session_removes_every_key(store: Store) -> None:
    await _create(store)
    await store.acquire_host("k1", "alice", 5000)
    await store.put_member("k1", "m1", "{}", 60)
    await store.delete_session("k1")
    assert not await store.session_exists("k1")
    assert await store.get_host("k1") is None
    assert await store.get_members("k1") == {}
    assert await store.get_meta("k1") is None


@pytest.mark.gen_test
async def test_published_messages_reach_every_subscriber_of_the_channel_only(store: Store) -> None:
    channel, other = session_channel("k1"), session_channel("k2")
    async with store.subscribe(channel) as first, store.subscribe(channel) as second:
        async with store.subscribe(other) as elsewhere:
            for n in range(3):
                await store.publish(channel, f"m{n}")
            got_first = [await asyncio.wait_for(anext(first), 2) for _ in range(3)]
            got_second = [await asyncio.wait_for(anext(second), 2) for _ in range(3)]
            assert got_first == got_second == ["m0", "m1", "m2"]
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(anext(elsewhere), 0.2)


@pytest.mark.gen_test
async def test_a_subscription_hears_what_is_published_right_after_it_returns(store: Store) -> None:
    # "from now on" means from the moment subscribe returns: nothing published after it is lost,
    # however soon (over Redis: only once Redis has confirmed the SUBSCRIBE)
    for n in range(20):
        channel = session_channel(f"fresh{n}")
        async with store.subscribe(channel) as messages:
            await store.publish(channel, f"first{n}")
            assert await asyncio.wait_for(anext(messages), 2) == f"first{n}"
            async with store.subscribe(channel) as second:  # a second subscriber of a live channel
                await store.publish(channel, f"second{n}")
                assert await asyncio.wait_for(anext(second), 2) == f"second{n}"


@pytest.mark.gen_test
async def test_a_state_write_announces_itself_only_when_it_was_stored(store: Store) -> None:
    channel = session_channel("k1")
    await _create(store)
    async with store.subscribe(channel) as messages:
        assert await store.set_state("k1", '{"paused":false}', 60, (channel, "written"))
        assert await asyncio.wait_for(anext(messages), 2) == "written"
        await store.delete_session("k1")
        assert not await store.set_state("k1", '{"paused":true}', 60, (channel, "lost"))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(anext(messages), 0.2)
    assert await store.get_state("k1") is None


@pytest.mark.gen_test
async def test_a_conditional_state_write_happens_only_on_the_state_it_expects(store: Store) -> None:
    channel = session_channel("k1")
    await _create(store)
    async with store.subscribe(channel) as messages:
        with pytest.raises(StateChanged):
            await store.set_state("k1", '{"paused":false}', 60, (channel, "lost"), expect='{"other":1}')
        assert await store.get_state("k1") == '{"paused":true}'
        assert await store.set_state("k1", '{"paused":false}', 60, (channel, "won"), expect='{"paused":true}')
        assert await store.get_state("k1") == '{"paused":false}'
        assert await asyncio.wait_for(anext(messages), 2) == "won"  # the refused write announced nothing
    await store.delete_session("k1")
    assert not await store.set_state("k1", "{}", 60, expect='{"paused":false}')  # gone beats changed


@pytest.mark.gen_test
async def test_ping_answers_on_a_healthy_store(store: Store) -> None:
    await store.ping()


@pytest.mark.gen_test
async def test_a_chain_of_states_is_written_and_announced_in_order_in_one_step(store: Store) -> None:
    channel = session_channel("k1")
    await _create(store)
    chain = [(f'{{"v":{n}}}', (channel, f"state {n}")) for n in range(1, 4)]
    async with store.subscribe(channel) as messages:
        heard: list[str] = []
        listening = asyncio.ensure_future(consume(messages, heard.append))
        written = store.set_states("k1", chain, 60, expect='{"paused":true}')
        # The write left when it was asked for: a read asked for after it already sees it.
        assert await store.get_state("k1") == '{"v":3}'
        assert await written
        while len(heard) < 3:
            await asyncio.sleep(0.01)
        listening.cancel()
    assert heard == ["state 1", "state 2", "state 3"]


@pytest.mark.gen_test
async def test_a_chain_on_a_changed_or_gone_state_writes_and_announces_nothing(store: Store) -> None:
    channel = session_channel("k1")
    await _create(store)
    chain = [('{"v":1}', (channel, "lost 1")), ('{"v":2}', (channel, "lost 2"))]
    async with store.subscribe(channel) as messages:
        with pytest.raises(StateChanged):
            await store.set_states("k1", chain, 60, expect='{"v":0}')
        assert await store.get_state("k1") == '{"paused":true}'
        await store.delete_session("k1")
        assert not await store.set_states("k1", chain, 60, expect='{"paused":true}')
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(anext(messages), 0.2)
    assert await store.get_state("k1") is None
