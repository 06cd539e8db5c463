"""The old name of this process's room registry; see `videosync.room`."""

from .room import Hub, Rooms

__all__ = ["Hub", "Rooms"]
