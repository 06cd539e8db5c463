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

/** Why this page's controls are locked, for the person looking at them; null when not locked. */
export function lockReason(store) {
  if (store.isHost || store.gone || !store.joined) return null; // gone: the page says so itself
  // canControl and controlMode: the session's control mode (group-controls.js), once installed
  if (store.canControl === true) return null;
  const who = store.controlMode === "delegated" ? "Only the host and the members it chooses control playback."
    : "Only the host controls playback.";
  const host = store.host;
  return host
    ? `${who} ${displayName(host)} is the host.`
    : `${who} Nobody is host right now; someone will be promoted shortly.`;
}

export class Controls {
  /**
   * Renders from the store's playback state and role on every store change. `position()` → where
   * playback is now (the synchronised target), `send(partial)` → sends a host command; both
   * supplied by player.js.
   */
  constructor(root, store, { position, send }) {
    this.el = {
      play: root.querySelector("[data-play]"),
      seek: root.querySelector("[data-seek]"),
      time: root.querySelector("[data-time]"),
      speed: root.querySelector("[data-speed]"),
      lock: root.querySelector("[data-lock-reason]"),
    };
    this.store = store;
    this.position = position;
    this.send = send;
    this.dragging = false;
    this.lastSeek = null; // {basis: the state it was sent from, to}

    this.el.play.addEventListener("click", () => this.togglePlay());
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
    store.addEventListener("change", () => this.render());
    this.render();
  }

  /** Whether this page may command playback now. */
  get canControl() {
    // canControl: the session's control mode (group-controls.js), once installed
    const allowed = this.store.canControl ?? this.store.isHost;
    return allowed && !this.store.gone && this.store.playback !== null;
  }

  togglePlay() {
    const state = this.store.playback;
    if (!state || !this.canControl) return;
    this.send({ paused: !state.paused, currentTime: this.position() });
  }

  /**
   * Seek by `delta` seconds from where playback is now (keyboard ←/→). Presses quicker than the
   * server's answer add up: they count from the last seek sent while no newer state has come.
   */
  seekBy(delta) {
    if (!this.canControl) return;
    const last = this.lastSeek;
    const from = last && last.basis === this.store.playback ? last.to : this.position();
    const to = Math.max(0, from + delta);
    this.lastSeek = { basis: this.store.playback, to };
    this.send({ currentTime: to });
  }

  /** Reflect the authoritative state and this page's role. */
  render() {
    const { store } = this;
    const state = store.playback;
    const locked = !this.canControl;
    for (const input of [this.el.play, this.el.seek, this.el.speed]) input.disabled = locked;
    if (store.gone) {
      this.el.play.textContent = "▶"; // nothing plays any more
      this.el.play.setAttribute("aria-label", "Play");
    } else if (state) {
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
    const reason = lockReason(store);
    this.el.lock.hidden = reason === null;
    this.el.lock.textContent = reason ?? "";
  }

  /** Move the seek bar with the media (not while the host is dragging it). */
  tick(currentTime, end) {
    if (this.dragging) return;
    if (Number.isFinite(end) && end > 0) this.el.seek.max = String(end);
    this.el.seek.value = String(currentTime);
    this.el.time.textContent = `${formatTime(currentTime)} / ${formatTime(end)}`;
  }
}
