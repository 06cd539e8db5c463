"""Per-session rooms (`Room`) and this process's registry of them (`Rooms`)."""

from .context import Peer, RoomContext
from .feature import RoomFeature
from .registry import MEDIA_CHANNEL, Hub, Rooms
from .room import Room

__all__ = ["MEDIA_CHANNEL", "Hub", "Peer", "Room", "RoomContext", "RoomFeature", "Rooms"]
