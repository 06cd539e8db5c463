"""Who may change a session's playback: the control mode and its grants. Pure; kept in the meta.

`host` (the default, Go's behaviour): only the host. `everyone`: any member. `delegated`: the host
and the members it granted control to. Grants name member ids, which survive reconnects (a resume
token gives the same id back), so a grant outlives a reload. The policy lives in the session's
meta (`session:K:meta`, field `control`), which a Go instance never reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_CONTROLLERS = 64


class ControlMode(StrEnum):
    HOST = "host"
    EVERYONE = "everyone"
    DELEGATED = "delegated"


@dataclass(frozen=True)
class ControlPolicy:
    mode: ControlMode = ControlMode.HOST
    controllers: tuple[str, ...] = ()  # members granted control (mode `delegated`)

    def allows(self, member_id: str, host_id: str | None) -> bool:
        if member_id == host_id or self.mode == ControlMode.EVERYONE:
            return True
        return self.mode == ControlMode.DELEGATED and member_id in self.controllers

    def changed(self, mode: ControlMode | None, controllers: tuple[str, ...] | None) -> ControlPolicy:
        return ControlPolicy(
            self.mode if mode is None else mode,
            self.controllers if controllers is None else tuple(dict.fromkeys(controllers)),
        )

    def public(self) -> dict[str, Any]:
        """The `control` object of PROTOCOL.md §5.2."""
        return {"mode": self.mode.value, "controllers": list(self.controllers)}

    @classmethod
    def from_public(cls, value: Any) -> ControlPolicy:
        """From the meta's `control` field (or an event); anything unreadable is the default."""
        if not isinstance(value, dict):
            return cls()
        try:
            mode = ControlMode(value.get("mode", "host"))
        except ValueError:
            return cls()
        ids = value.get("controllers")
        controllers = tuple(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else ()
        return cls(mode, controllers[:MAX_CONTROLLERS])
