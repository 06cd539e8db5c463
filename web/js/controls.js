// Playback controls. The host's clicks become commands for the server (the host's own player then
// follows the server's answer like everyone else's); participants see the controls locked and why.

import { displayName } from "./members.js";

export function formatTime(s) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60).toString().padStart(2, "0");
  return h ? `${h}:${m.toString().padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export class Controls {
  /**
   * `position()` → where playback is now (the synchronised target), `send(state)` → sends a host
   * command; both supplied by player.js.
   */
  constructor(root, { position, send }) {
    this.el = {
      play: root.querySelector("[data-play]"),
      seek: root.querySelector("[data-seek]"),
      time: root.querySelector("[data-time]"),
      speed: root.querySelector("[data-speed]"),
      lock: root.querySelector("[data-lock-reason]"),
    };
    this.position = position;
    this.send = send;
    this.state = null;
    this.dragging = false;

    this.el.play.addEventListener("click", () => {
      if (!this.state) return;
      this.send({ paused: !this.state.paused, currentTime: this.position() });
    });
    this.el.seek.addEventListener("input", () => {
      this.dragging = true;
      this.el.time.textContent = `${formatTime(Number(this.el.seek.value))} / ${formatTime(Number(this.el.seek.max))}`;
    });
    this.el.seek.addEventListener("change", () => {
      this.dragging = false;
      this.send({ currentTime: Number(this.el.seek.value) });
    });
    this.el.speed.addEventListener("change", () => {
      // The position is rebased at the new rate from "now", so nobody jumps.
      this.send({ playbackRate: Number(this.el.speed.value), currentTime: this.position() });
    });
  }

  /** Reflect the authoritative state and this page's role. */
  render(state, store) {
    this.state = state;
    const locked = !(store.canControl ?? store.isHost); // canControl: group-controls.js
    for (const input of [this.el.play, this.el.seek, this.el.speed]) input.disabled = locked || !state;
    if (state) {
      this.el.play.textContent = state.paused ? "▶" : "❚❚";
      this.el.play.setAttribute("aria-label", state.paused ? "Play" : "Pause");
      this.el.play.dataset.paused = String(state.paused);
      const rate = String(state.playbackRate ?? 1);
      if (![...this.el.speed.options].some((o) => o.value === rate)) {
        const extra = document.createElement("option");
        extra.value = rate;
        extra.textContent = `${rate}×`;
        this.el.speed.append(extra);
      }
      this.el.speed.value = rate;
    }
    this.el.lock.hidden = !locked;
    if (locked) {
      const host = store.host;
      this.el.lock.textContent = host
        ? `Only the host controls playback. ${displayName(host)} is the host.`
        : "Only the host controls playback. Nobody is host right now; someone will be promoted shortly.";
    }
  }

  /** Move the seek bar with the media (not while the host is dragging it). */
  tick(currentTime, end) {
    if (this.dragging) return;
    if (Number.isFinite(end) && end > 0) this.el.seek.max = String(end);
    this.el.seek.value = String(currentTime);
    this.el.time.textContent = `${formatTime(currentTime)} / ${formatTime(end)}`;
  }
}
