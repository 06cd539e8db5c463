// Applies the sync controller's decisions to the <video> element on a fixed tick, and sends the
// periodic status reports. The only module that both reads and drives the media element.

import { seekableEnd } from "./media-source.js";

export const TICK_MS = 50;
export const REPORT_MS = 1500;
const HAVE_METADATA = 1;
const HAVE_FUTURE_DATA = 3;
const STEP_ON = ["loadedmetadata", "canplay", "seeked"];

export class Playback extends EventTarget {
  constructor(video, controller, clock, { now, report }) {
    super();
    this.video = video;
    this.controller = controller;
    this.clock = clock;
    this.now = now;
    this.report = report;
    this.playRequest = null;
    this.blocked = false; // autoplay with sound refused: wait for a click
    this.timers = [];
    this.wake = null; // the timer of a start due between two ticks
    this.onReady = null;
  }

  start() {
    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.sendReport(), REPORT_MS));
    // A paused element that just got its metadata, a frame or a landed seek may have a start due
    // now (a late joiner): step at once rather than at the next tick, up to 50 ms later.
    this.onReady = () => { if (this.video.paused) this.tick(); };
    for (const type of STEP_ON) this.video.addEventListener(type, this.onReady);
    this.tick();
  }

  stop() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.wake);
    if (this.onReady) for (const type of STEP_ON) this.video.removeEventListener(type, this.onReady);
  }

  get buffering() {
    const v = this.video;
    return !v.paused && v.readyState < HAVE_FUTURE_DATA;
  }

  observe() {
    const v = this.video;
    return {
      serverNow: this.clock.serverNow(this.now()),
      currentTime: v.currentTime,
      paused: v.paused,
      seeking: v.seeking,
      ready: v.readyState >= HAVE_FUTURE_DATA,
      duration: v.duration,
      seekableEnd: seekableEnd(v),
    };
  }

  tick() {
    const v = this.video;
    if (v.readyState < HAVE_METADATA || v.error) return;
    const out = this.controller.step(this.observe());
    // Chromium time-stretches (WSOLA) to preserve pitch, and every switch in or out of it shifts
    // the media clock by ~20 ms (measured), more than the skew we aim for. Resampling shifts it by
    // ~1 ms. So the small correction nudges around 1× resample (a brief pitch change of a few
    // percent); a speed the host chose keeps its pitch.
    const keepPitch = Math.abs((this.controller.state?.playbackRate ?? 1) - 1) > 1e-9;
    if (v.preservesPitch !== keepPitch) v.preservesPitch = keepPitch;
    if (out.seekTo !== null) v.currentTime = out.seekTo;
    if (Math.abs(v.playbackRate - out.rate) > 1e-4) v.playbackRate = out.rate;
    if (out.play && v.paused) this.play();
    else if (!out.play && !v.paused) v.pause();
    // a start waiting on a parked frame is due between two ticks: step again at that instant
    clearTimeout(this.wake);
    if (out.wakeInMs !== null && out.wakeInMs !== undefined && out.wakeInMs < TICK_MS) {
      this.wake = setTimeout(() => this.tick(), out.wakeInMs);
    }
    this.dispatchEvent(new CustomEvent("tick", { detail: out }));
  }

  play() {
    if (this.playRequest || this.blocked) return;
    this.playRequest = this.video.play().then(
      () => { this.playRequest = null; },
      (err) => {
        this.playRequest = null;
        if (err?.name === "NotAllowedError") {
          this.blocked = true;
          this.dispatchEvent(new Event("autoplayblocked"));
        }
      },
    );
  }

  /** Called from the overlay's click: a user gesture, so play() is allowed now. */
  unlock() {
    this.blocked = false;
    this.video.play().catch(() => {});
    this.tick();
  }

  sendReport() {
    const drift = this.controller.drift;
    this.report({
      type: "report",
      rtt: this.clock.rtt === null ? null : Math.round(this.clock.rtt * 10) / 10,
      drift: Number.isFinite(drift) ? Math.round(drift * 10) / 10 : null,
      buffering: this.buffering,
    });
  }
}
