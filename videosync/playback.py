"""Applying a host's command to the playback state: pure, with the server time passed in."""

from __future__ import annotations

from .protocol import StateCommand
from .state import PlaybackState


def apply_command(
    current: PlaybackState, command: StateCommand, now_ms: int, play_lead_ms: int
) -> PlaybackState:
    """The next state (same version; the session service numbers it).

    Missing fields keep their current value; a missing position while playing is the position
    extrapolated to `now_ms`, so a rate change does not jump back. A paused→playing transition is
    scheduled `play_lead_ms` in the future so that every member starts at the same server instant
    (PROTOCOL.md §2.1); until then the position holds at `currentTime`.
    """
    video = command.video if command.video is not None else current.video
    paused = current.paused if command.paused is None else command.paused
    rate = current.playback_rate if command.playback_rate is None else command.playback_rate
    if command.current_time is not None:
        position = command.current_time
    elif video != current.video:
        position = 0.0
    else:
        position = current.position_at(now_ms)
    starts = not paused and (current.paused or video != current.video)
    timestamp = now_ms + play_lead_ms if starts else now_ms
    return PlaybackState(
        paused=paused,
        current_time=position,
        playback_rate=rate,
        timestamp=timestamp,
        version=current.version,
        video=video,
    )


def for_joiner(state: PlaybackState, now_ms: int) -> PlaybackState:
    """What a late joiner is told: the position now, unless a scheduled start is still ahead."""
    if state.paused or state.timestamp is None or state.timestamp >= now_ms:
        return state
    return state.at(now_ms)
