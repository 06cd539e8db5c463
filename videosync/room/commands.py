"""What a room does with each client command: a table keyed by the parsed command's type.

A feature that adds a message (chat, kick, control mode...) adds its parsed type in `protocol` and
its handler here (or passes its own table to the registry); the room looks handlers up, it never
names them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..protocol import (
    NOT_HOST,
    UNKNOWN_VIDEO,
    Chat,
    Ignored,
    Kick,
    Lock,
    ProtocolError,
    Report,
    SetControl,
    SetName,
    StateCommand,
    TimeSyncRequest,
    TransferHost,
    WaitPreference,
)
from ..server_messages import encode_time_sync
from .chat import send_chat
from .context import CommandHandler, Peer, precise_ms
from .control import may_control, set_control
from .gate import gate_of, wait_preference
from .moderation import kick, lock

if TYPE_CHECKING:
    from .room import Room


async def change_playback(room: Room, peer: Peer, command: StateCommand, _received_ms: float) -> None:
    if not may_control(room, peer.member_id):
        raise ProtocolError(NOT_HOST, "only the host can change playback")
    sessions = room.ctx.sessions
    if command.video is not None and not sessions.video_exists(command.video):
        raise ProtocolError(UNKNOWN_VIDEO, "no such video")
    # Written by the room's writer (room/playback_writer.py): the socket goes on reading the
    # host's next frames meanwhile, and those that queue during a write go into the next one.
    room.playback.submit(peer, command)


async def time_sync(room: Room, peer: Peer, command: TimeSyncRequest, received_ms: float) -> None:
    room.send(peer, encode_time_sync(command.t0, received_ms, precise_ms()))


async def report(room: Room, peer: Peer, command: Report, _received_ms: float) -> None:
    room.updates.report(peer.member_id, command)
    gate = gate_of(room)
    if gate is not None:
        await gate.report(peer.member_id, command)


async def set_name(room: Room, peer: Peer, command: SetName, _received_ms: float) -> None:
    room.updates.rename(peer.member_id, command.name)


async def transfer_host(room: Room, peer: Peer, command: TransferHost, _received_ms: float) -> None:
    await room.host.transfer(peer, command.member_id)


async def ignore(_room: Room, _peer: Peer, _command: Ignored, _received_ms: float) -> None:
    """heartbeatAck: the Go frontend's answer to pings it never got from us."""


def command_table() -> dict[type, CommandHandler]:
    return {
        StateCommand: change_playback,
        TimeSyncRequest: time_sync,
        Report: report,
        SetName: set_name,
        TransferHost: transfer_host,
        SetControl: set_control,
        WaitPreference: wait_preference,
        Ignored: ignore,
        Chat: send_chat,
        Kick: kick,
        Lock: lock,
    }
