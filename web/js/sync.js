// The sync controller: turns the authoritative playback state plus what the local <video> reports
// into what the <video> should do next. Pure: times come in as arguments (server ms, already
// corrected by clock.js), decisions go out as plain objects; player.js applies them.
//
// Why rate control: a seek in Chromium lands ~100 ms behind its target (the seek itself takes
// 60–100 ms), so seeking alone cannot hold viewers within tens of milliseconds of each other.
// Small drift is absorbed by nudging playbackRate; only large drift is worth a seek.

export const SYNC_DEFAULTS = Object.freeze({
  deadBandMs: 2, // |drift| below this: play at exactly the commanded rate
  rateGainPerSec: 2, // nudge = drift(s) × gain: 10 ms behind → 2 % faster, gone in ~0.5 s
  maxRateNudge: 0.1, // never more than ±10 % off the commanded rate (pitch is preserved)
  seekThresholdMs: 300, // beyond this a seek is cheaper than waiting for the nudge
  seekCooldownMs: 1500, // after a drift seek, let the nudge work before seeking again
  retrySeekMs: 150, // a seek (or cold start) that lands further off than this was aimed with a wrong
  // latency guess: seek once more at once with the measured one (the nudge would need ~1.5 s per 150 ms)
  maxSeekRetries: 1,
  initialSeekLatencyMs: 80, // what a seek costs in Chromium before we have measured it
  initialPlayLatencyMs: 20, // from play() to the first advancing frame
  coldSeekLatencyMs: 120, // a fresh element (a late joiner) also starts its audio clock: 75–150 ms here
  maxLatencyMs: 1000,
  learnRate: 0.5, // weight of a new latency measurement
  pausedToleranceMs: 1, // paused: anything further from the paused position is re-seeked
  driftWindow: 3, // median of this many samples (one odd reading cannot trigger a seek)
  settleSamples: 2, // samples after a seek/start before its landing error is measured
  endMarginS: 0.05, // the target is clamped this far before the end of the media
});

/** Where the media should be at server time `serverNow` (ms). Never before `timestamp`. */
export function positionAt(state, serverNow) {
  if (state.paused) return state.currentTime;
  const ts = Number.isFinite(state.timestamp) ? state.timestamp : serverNow;
  const elapsed = Math.max(0, serverNow - ts) / 1000;
  return state.currentTime + elapsed * (state.playbackRate ?? 1);
}

/**
 * Whether `incoming` should replace `current`. Versions only grow, so anything not newer is an
 * echo or arrived out of order. A state without a version (a Go server) is always taken.
 */
export function isNewer(incoming, current) {
  if (!current) return true;
  if (!Number.isFinite(incoming.version) || !Number.isFinite(current.version)) return true;
  return incoming.version > current.version;
}

/** playbackRate for a given drift (ms, positive = ahead of the target). */
export function rateFor(driftMs, baseRate, opts = SYNC_DEFAULTS) {
  if (Math.abs(driftMs) < opts.deadBandMs) return baseRate;
  const nudge = Math.max(-opts.maxRateNudge, Math.min(opts.maxRateNudge, (-driftMs / 1000) * opts.rateGainPerSec));
  return baseRate * (1 + nudge);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const clamp = (x, lo, hi) => Math.max(lo, Math.min(hi, x));

export class SyncController {
  /**
   * `source` holds the authoritative state as `source.playback` (the SessionStore; it keeps the
   * version order). The controller never copies it: it only notices when a new one arrives.
   */
  constructor(source, options = {}) {
    this.source = source;
    this.opts = { ...SYNC_DEFAULTS, ...options };
    this.followed = null; // the state object the per-command fields below belong to
    this.seekLatencyMs = this.opts.initialSeekLatencyMs;
    this.playLatencyMs = this.opts.initialPlayLatencyMs;
    this.window = [];
    this.lastSeekAt = -Infinity;
    this.fresh = false; // a new command arrived: follow it now, whatever the cooldown says
    this.pending = null; // {kind: "seek"|"start", samples} awaiting its landing error
    this.lastPausedSeek = null;
    this.drift = null;
    this.warm = false; // the element has played since the page loaded
    this.retries = 0; // immediate re-seeks since the last command or good landing
  }

  /** The state being followed: the store's, read through. */
  get state() {
    return this.source.playback ?? null;
  }

  /** A new command: follow it at once, with a fresh drift window and seek budget. */
  follow(state) {
    this.followed = state;
    this.fresh = true;
    this.window = [];
    this.lastPausedSeek = null;
    this.retries = 0;
  }

  /** A new connection: forget what was in flight; keep the learned latencies. */
  reset() {
    this.followed = null;
    this.window = [];
    this.pending = null;
    this.drift = null;
  }

  /** The target position at serverNow, clamped to the media; null before any state. */
  target(serverNow, duration = NaN) {
    if (!this.state) return null;
    let t = Math.max(0, positionAt(this.state, serverNow));
    if (Number.isFinite(duration) && duration > 0) t = Math.min(t, Math.max(0, duration - this.opts.endMarginS));
    return t;
  }

  /**
   * One control step. `obs`: {serverNow, currentTime, paused, seeking, ready, duration?,
   * seekableEnd?} where `ready` means the element can play (readyState ≥ HAVE_FUTURE_DATA).
   * Returns {play, rate, seekTo, drift, target}; seekTo is null when no seek is wanted and
   * drift (ms) is null while it cannot be measured.
   */
  step(obs) {
    const s = this.state;
    if (!s) return { play: false, rate: 1, seekTo: null, drift: null, target: null };
    if (s !== this.followed) this.follow(s);
    const base = s.playbackRate;
    const target = this.target(obs.serverNow, obs.duration);
    const atEnd = Number.isFinite(obs.duration) && obs.duration > 0 && target >= obs.duration - this.opts.endMarginS;
    const startsAt = (s.timestamp ?? -Infinity) - this.playLatencyMs;
    const wantPlay = !s.paused && obs.serverNow >= startsAt && !atEnd;
    const out = { play: wantPlay, rate: base, seekTo: null, drift: null, target };
    if (obs.seeking) return out;
    const driftMs = (obs.currentTime - target) * 1000;

    if (!wantPlay) {
      // Paused, or waiting for a scheduled start: everyone holds the exact same frame.
      out.drift = driftMs;
      this.drift = driftMs;
      this.pending = null;
      if (Math.abs(driftMs) > this.opts.pausedToleranceMs && this.lastPausedSeek !== target) {
        out.seekTo = this.clampSeek(target, obs);
        this.lastPausedSeek = target;
      }
      return out;
    }

    if (obs.paused) {
      // About to (re)start: jump first if we are far off, then let play() run.
      this.pending = { kind: "start", samples: 0 };
      if (Math.abs(driftMs) > this.opts.seekThresholdMs) this.seekAhead(out, target, obs);
      return out;
    }
    if (!obs.ready) return out; // buffering: the position is frozen, a nudge would do nothing

    out.drift = driftMs;
    this.drift = driftMs;
    this.warm = true;
    if (this.learn(driftMs)) {
      if (Math.abs(driftMs) <= this.opts.retrySeekMs) this.retries = 0;
      else if (this.retries < this.opts.maxSeekRetries) {
        this.retries += 1;
        this.seekAhead(out, target, obs);
        return out;
      }
    }
    this.window.push(driftMs);
    if (this.window.length > this.opts.driftWindow) this.window.shift();
    // After a new command the first sample decides; otherwise a median, so noise cannot seek.
    const smoothed = this.fresh ? driftMs : median(this.window);
    const coolingDown = obs.serverNow - this.lastSeekAt < this.opts.seekCooldownMs;
    if (Math.abs(smoothed) > this.opts.seekThresholdMs && (this.fresh || !coolingDown)) {
      this.seekAhead(out, target, obs);
      return out;
    }
    this.fresh = false;
    out.rate = rateFor(smoothed, base, this.opts);
    return out;
  }

  seekAhead(out, target, obs) {
    // The media keeps moving while the seek runs: aim where the target will be when it lands.
    const latency = this.warm ? this.seekLatencyMs : Math.max(this.seekLatencyMs, this.opts.coldSeekLatencyMs);
    const aim = target + (latency / 1000) * this.state.playbackRate;
    out.seekTo = this.clampSeek(aim, obs);
    out.rate = this.state.playbackRate;
    this.lastSeekAt = obs.serverNow;
    this.fresh = false;
    this.window = [];
    this.pending = { kind: "seek", samples: 0 };
  }

  /** Seeks never go past the packaged edge of a video still being packaged, nor past the end. */
  clampSeek(t, obs) {
    let hi = Infinity;
    if (Number.isFinite(obs.seekableEnd)) hi = Math.max(0, obs.seekableEnd - 0.1);
    if (Number.isFinite(obs.duration) && obs.duration > 0) hi = Math.min(hi, Math.max(0, obs.duration - this.opts.endMarginS));
    return clamp(t, 0, hi);
  }

  /**
   * A landed seek (or start) that is d ms behind means its latency was underestimated by d.
   * Returns true on the sample that measures a landing.
   */
  learn(driftMs) {
    const p = this.pending;
    if (!p) return false;
    p.samples += 1;
    if (p.samples < this.opts.settleSamples) return false;
    this.pending = null;
    // A start that waited on a user gesture or a stall says nothing about latency.
    if (Math.abs(driftMs) > this.opts.seekThresholdMs) return true;
    const key = p.kind === "seek" ? "seekLatencyMs" : "playLatencyMs";
    const corrected = this[key] - driftMs;
    this[key] = clamp(this[key] + this.opts.learnRate * (corrected - this[key]), 0, this.opts.maxLatencyMs);
    return true;
  }
}
