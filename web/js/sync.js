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
  coldPlayLatencyMs: 100, // play() to the first advancing frame of an element that never played: its
  // audio output opens too, and its clock stood still for 85–120 ms after play() here (4 ms samples of
  // late joins, scripts/bench/bench_join.py -v); started 40 ms early, it landed ~50 ms behind
  coldParkSeekMs: 50, // a seek of a paused fresh element takes 5–40 ms here (no play() racing it)
  parkMarginMs: 20, // a start from a seek parks this much further ahead: a seek slower than its
  // estimate still lands ahead, where landing behind needs a nudge or a re-seek (but every ms of
  // lead beyond the seek is a ms of waiting on the parked frame)
  maxParks: 2, // seeks of one start that may park; then it seeks and plays in one step as before
  reparkLateMs: 30, // a parked frame this far behind its start point (a slow seek) parks again
  maxLatencyMs: 1000,
  learnRate: 0.5, // weight of a new seek latency measurement
  playLearnRate: 0.25, // ... and of a start's: a start's own latency varies by ±20 ms from one to the
  // next, and learned at 0.5 that noise moved every viewer's next start (gate resumes spread p95
  // 52 ms at 0.5, 42 ms at 0.25: scripts/bench/bench_buffer_gate.py, clock starts)
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
    this.parks = 0; // seeks parked (paused, ahead) for the start in progress
    this.parkLeadMs = 0; // how far ahead (media ms) the last park aimed
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
    this.parks = 0;
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
   * Returns {play, rate, seekTo, drift, target, wakeInMs}; seekTo is null when no seek is wanted,
   * drift (ms) is null while it cannot be measured, and wakeInMs (when set) is when a start that
   * waits on a parked frame is due: step again then.
   */
  step(obs) {
    const s = this.state;
    if (!s) return { play: false, rate: 1, seekTo: null, drift: null, target: null, wakeInMs: null };
    if (s !== this.followed) this.follow(s);
    const base = s.playbackRate;
    const target = this.target(obs.serverNow, obs.duration);
    const atEnd = Number.isFinite(obs.duration) && obs.duration > 0 && target >= obs.duration - this.opts.endMarginS;
    const startsAt = (s.timestamp ?? -Infinity) - this.playLatencyMs;
    const wantPlay = !s.paused && obs.serverNow >= startsAt && !atEnd;
    const out = { play: wantPlay, rate: base, seekTo: null, drift: null, target, wakeInMs: null };
    if (obs.seeking) {
      // a paused element's play() waits for the frame its seek lands on (its `seeked` steps again)
      if (obs.paused) out.play = false;
      return out;
    }
    const driftMs = (obs.currentTime - target) * 1000;

    if (!wantPlay) {
      // Paused, or waiting for a scheduled start: everyone holds the exact same frame. A start due
      // before the next tick is stepped at its instant (`wakeInMs`), not up to a tick late: each
      // viewer's own 0–50 ms lateness would be the spread of a resume.
      if (!s.paused && !atEnd) out.wakeInMs = startsAt - obs.serverNow;
      out.drift = driftMs;
      this.drift = driftMs;
      this.pending = null;
      if (Math.abs(driftMs) > this.opts.pausedToleranceMs && this.lastPausedSeek !== target) {
        out.seekTo = this.clampSeek(target, obs);
        this.lastPausedSeek = target;
      }
      return out;
    }

    if (obs.paused) return this.startFromPause(out, target, obs, driftMs);
    this.parks = 0;
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

  /**
   * A paused element that should be playing (a late joiner, a start after a stall). Far off, it
   * seeks while still paused ("parks") a little ahead of the target — the seek's duration then
   * cannot spoil the landing. Whenever the paused frame is ahead, play() waits until the target is
   * one start latency short of it: `wakeInMs` says when, so the caller can step again then.
   */
  startFromPause(out, target, obs, driftMs) {
    const o = this.opts;
    const rate = this.state.playbackRate;
    const startMs = this.warm ? this.playLatencyMs : Math.max(this.playLatencyMs, o.coldPlayLatencyMs);
    // ahead by no more than the park's own lead is the parked frame waiting, not a miss
    const aheadBound = o.seekThresholdMs + (this.parks > 0 ? this.parkLeadMs : 0);
    if (driftMs < -o.seekThresholdMs || driftMs > aheadBound) {
      if (this.parks >= o.maxParks) {
        // a frame that never gets ready (or a refused play()) cannot hold the start forever
        this.pending = { kind: "start", samples: 0 };
        this.seekAhead(out, target, obs);
        return out;
      }
      return this.park(out, target, obs, this.warm ? this.seekLatencyMs : o.coldParkSeekMs, startMs);
    }
    const waitMs = (driftMs - startMs * rate) / rate;
    if (this.parks > 0 && this.parks < o.maxParks && waitMs < -o.reparkLateMs) {
      // the seek outlasted its estimate (its data was still on the way) and the frame is behind:
      // park again, ahead by as long as that seek took, rather than start behind and nudge for a
      // second (10 % closes 100 ms in 1 s)
      return this.park(out, target, obs, Math.max(o.coldParkSeekMs, obs.serverNow - this.lastSeekAt), startMs);
    }
    if (waitMs > 1) {
      // parked ahead (by this controller, or by the page's early start): hold the frame until the
      // target comes within one start latency of it
      out.play = false;
      out.wakeInMs = waitMs;
      return out;
    }
    // A start of a cold element measures how far off it lands (for the re-seek) but teaches no
    // latency: a warm one starts several times faster.
    this.pending = { kind: this.warm ? "start" : "cold", samples: 0 };
    return out;
  }

  /** Seek while paused, ahead by the seek's expected duration, the start latency and a margin. */
  park(out, target, obs, seekMs, startMs) {
    this.parks += 1;
    this.parkLeadMs = (seekMs + startMs + this.opts.parkMarginMs) * this.state.playbackRate;
    out.seekTo = this.clampSeek(target + this.parkLeadMs / 1000, obs);
    out.play = false;
    this.lastSeekAt = obs.serverNow;
    this.fresh = false;
    this.window = [];
    this.pending = null;
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
    if (p.kind === "cold") return true;
    const key = p.kind === "seek" ? "seekLatencyMs" : "playLatencyMs";
    const corrected = this[key] - driftMs;
    const weight = p.kind === "seek" ? this.opts.learnRate : this.opts.playLearnRate;
    this[key] = clamp(this[key] + weight * (corrected - this[key]), 0, this.opts.maxLatencyMs);
    return true;
  }
}
