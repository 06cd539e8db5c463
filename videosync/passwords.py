"""Session passwords: stored only as a salted scrypt hash, checked in constant time, off the loop.

Format of the stored hash (in the session's meta, `"password"`):
    scrypt$<n>$<r>$<p>$<salt, base64>$<derived key, base64>
with n = 2**14, r = 8, p = 1, a 16-byte random salt and a 32-byte key (hashlib.scrypt, OpenSSL's
KDF): about 16 MiB and a few tens of milliseconds of one core per check. The parameters travel
with each hash, so raising them later leaves older sessions' hashes checkable.

scrypt is deliberately expensive, so checks run in a small thread pool (`jobs` at once; the event
loop never waits on one), at most `jobs * QUEUE_PER_JOB` wait for it (past that a join is refused
as rate-limited rather than queued without bound), and guesses are limited per client address and
per session by token buckets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .session_limits import AddressRateLimit

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
SCRYPT_MAXMEM = 64 * 1024 * 1024  # above the 128 * n * r bytes scrypt needs; OpenSSL's default is 32 MiB
MAX_PASSWORD_CHARS = 256
QUEUE_PER_JOB = 8


class PasswordError(ValueError):
    """A password a session cannot be created with."""


def check_new_password(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise PasswordError("'password' must be a non-empty string")
    if len(value) > MAX_PASSWORD_CHARS:
        raise PasswordError(f"'password' must be at most {MAX_PASSWORD_CHARS} characters")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    secret = password.encode("utf-8")
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=length)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; a malformed stored hash matches nothing."""
    try:
        scheme, n, r, p, salt_text, key_text = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_text), base64.b64decode(key_text)
        derived = _derive(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(derived, expected)


class PasswordGuard:
    """One per process: the scrypt pool and the guessing limits."""

    def __init__(
        self,
        per_address_per_minute: float,
        per_session_per_minute: float,
        jobs: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = jobs
        self._executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="scrypt")
        self._waiting = 0
        self._by_address = AddressRateLimit(
            per_address_per_minute, max(1, round(per_address_per_minute / 2)), clock
        )
        self._by_session = AddressRateLimit(
            per_session_per_minute, max(1, round(per_session_per_minute / 2)), clock
        )

    def allow_attempt(self, address: str, key: str) -> bool:
        """Spend one guess of `address` and one of session `key`; False when either is spent."""
        if self._by_address.take(address) is not None:
            return False
        return self._by_session.take(key) is None

    async def _run(self, fn: Callable[..., object], *args: str) -> object | None:
        if self._waiting >= self.jobs * QUEUE_PER_JOB:
            return None
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str | None:
        """The stored form of `password`; None if the pool is saturated (retry later)."""
        result = await self._run(hash_password, password)
        return result if isinstance(result, str) else None

    async def verify(self, password: str, stored: str) -> bool | None:
        """Whether it matches; None if the pool is saturated (treated as over the limit)."""
        result = await self._run(verify_password, password, stored)
        return result if isinstance(result, bool) else None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
