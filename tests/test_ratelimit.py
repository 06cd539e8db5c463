"""The per-socket token bucket: a burst at once, then a sustained rate, with time passed in."""

from __future__ import annotations

from videosync.ratelimit import TokenBucket


def test_token_bucket() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.1) is True
    assert bucket.take(0.1) is False
    assert all(bucket.take(10.0) for _ in range(3))


def test_a_long_idle_refills_no_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(100.0) for _ in range(4)] == [True, True, True, False]


def test_fractions_of_a_token_add_up() -> None:
    bucket = TokenBucket(rate=10, burst=1, now=0.0)
    assert bucket.take(0.0) is True
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True  # the second half makes one


def test_a_clock_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket(rate=10, burst=1, now=5.0)
    assert bucket.take(5.0) is True
    assert bucket.take(1.0) is False
    assert bucket.take(1.1) is True  # time counts again from the earlier reading
