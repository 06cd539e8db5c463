"""Who controls a room's playback: the policy as this process knows it, its changes, its enforcement.

The policy (`control_policy.ControlPolicy`) is kept in the session's meta (`session:K:meta`, field
`control`), so it survives a host hand-off, a restart with a persistent store, and is read by every
process from Redis; a change is announced on the session's channel as a `control` event whose wire
text every member gets. A room reads the meta once, when its first local member joins.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ..events import Event, EventKind
from ..protocol import INVALID_MESSAGE, NOT_HOST, ProtocolError, SetControl
from ..server_messages import encode_control
from ..sessions import SessionNotFound, short_key
from .context import Peer
from .control_policy import ControlMode, ControlPolicy
from .feature import RoomFeature

if TYPE_CHECKING:
    from .room import Room

log = logging.getLogger(__name__)

NAME = "control"


class Control(RoomFeature):
    name = NAME
    events = frozenset({EventKind.CONTROL})

    def __init__(self, room: Room) -> None:
        super().__init__(room)
        self.policy = ControlPolicy()
        self.loaded = False

    async def on_join(self, _member_id: str) -> None:
        if not self.loaded:
            # the meta the join has just read (one read per join)
            self.policy = ControlPolicy.from_public(_meta_dict(self.room.meta_text).get(NAME))
            self.loaded = True

    async def init_fields(self, _member_id: str) -> dict[str, Any]:
        return {NAME: self.policy.public()}

    def on_event(self, event: Event) -> None:
        self.policy = ControlPolicy.from_public(event.meta.get(NAME))
        self.loaded = True

    async def change(self, peer: Peer, command: SetControl) -> None:
        room = self.room
        if room.host_id != peer.member_id:
            raise ProtocolError(NOT_HOST, "only the host can choose who controls playback")
        store, ttl = room.ctx.sessions.store, room.ctx.sessions.ttl
        # Read-modify-write of the meta: only the host writes `control`, and the meta's other
        # fields are written once, at creation; unknown fields are kept as they are.
        data = _meta_dict(await store.get_meta(room.key))
        if not data:
            raise SessionNotFound(room.key)
        current = ControlPolicy.from_public(data.get(NAME))
        mode = ControlMode(command.mode) if command.mode is not None else None
        policy = current.changed(mode, command.controllers)
        if len(policy.controllers) > 64:
            raise ProtocolError(INVALID_MESSAGE, "too many controllers")
        data[NAME] = policy.public()
        if not await store.set_meta(room.key, json.dumps(data, separators=(",", ":")), ttl):
            raise SessionNotFound(room.key)
        log.info("session %s: control mode %s (%d granted)", short_key(room.key), policy.mode,
                 len(policy.controllers))
        public = policy.public()
        await room.publish(Event(EventKind.CONTROL, {NAME: public}, encode_control(public)))


def may_control(room: Room, member_id: str) -> bool:
    control = room.feature(Control)
    policy = control.policy if control is not None else ControlPolicy()
    return policy.allows(member_id, room.host_id)


async def set_control(room: Room, peer: Peer, command: SetControl, _received_ms: float) -> None:
    control = room.feature(Control)
    if control is not None:
        await control.change(peer, command)


def _meta_dict(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
