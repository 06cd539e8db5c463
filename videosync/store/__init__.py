"""Session storage backends, chosen by URL: sqlite:///path (embedded, on disk), memory:// (embedded,
nothing kept) or redis:// (shared)."""

from __future__ import annotations

from .base import StateChanged, Store, StoreError, StoreUnavailable


def open_store(url: str) -> Store:
    """A store for `url`; Redis is imported only when asked for."""
    if url.startswith("memory://"):
        from .memory import MemoryStore

        return MemoryStore(url)
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        return SqliteStore(url)
    if url.split("://", 1)[0] in {"redis", "rediss", "unix", "redis+sentinel"}:
        from .redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path, memory:// or redis://")


__all__ = ["StateChanged", "Store", "StoreError", "StoreUnavailable", "open_store"]
