// Server clock estimation from timeSync round trips (NTP's offset/delay formulas, RFC 5905 §8).
// Pure: the caller passes every time in; nothing here reads a clock or touches the network.

/**
 * One round trip: t0 = client send, t1 = server receive, t2 = server send, t3 = client receive
 * (client times from the client's clock, server times from the server's, all in ms).
 * offset = how far the server clock is ahead of ours; rtt = time on the wire, server time excluded.
 */
export function sampleFromRoundTrip({ t0, t1, t2 }, t3) {
  const values = [t0, t1, t2, t3];
  if (!values.every(Number.isFinite)) return null;
  const rtt = (t3 - t0) - (t2 - t1);
  if (rtt < 0) return null; // clocks stepped mid-flight: the sample says nothing
  return { offset: ((t1 - t0) + (t2 - t3)) / 2, rtt, at: t3 };
}

export const CLOCK_DEFAULTS = Object.freeze({
  burstSize: 8, // pings sent at join and on every refresh
  burstSpacingMs: 40, // spread so one scheduling hiccup does not spoil the whole burst
  refreshMs: 30_000, // a new burst this often
  trickleMs: 1_000, // and one ping this often between bursts: a page still loading its video
  // answers the join burst late, so its best sample can be 30 ms off; a steady trickle soon finds
  // a quiet moment whose round trip is near the true one
  warmupMs: 5_000, // right after connecting (a late joiner catching up) ...
  warmupTrickleMs: 150, // ... the trickle is faster, so a good sample comes within a second
  keepMs: 95_000, // samples older than ~3 bursts are forgotten (route or clock may have changed)
});

/**
 * Keeps recent samples; the one with the least round trip wins, because its offset has the
 * smallest error bound (±rtt/2). Until the first sample arrives the offset is 0, which is exactly
 * what the Go server's own frontend assumes.
 */
export class ClockEstimator {
  constructor(options = {}) {
    this.options = { ...CLOCK_DEFAULTS, ...options };
    this.samples = [];
    this.lastBurstAt = -Infinity;
    this.lastPingAt = -Infinity;
    this.connectedAt = -Infinity;
  }

  /** Record a reply; returns the sample, or null when it was unusable. */
  addReply(reply, t3) {
    const sample = sampleFromRoundTrip(reply, t3);
    if (sample === null) return null;
    this.samples.push(sample);
    this.prune(t3);
    return sample;
  }

  prune(now) {
    const oldest = now - this.options.keepMs;
    this.samples = this.samples.filter((s) => s.at >= oldest);
  }

  /** The winning sample (least rtt, ties go to the newer one), or null before any reply. */
  get best() {
    let best = null;
    for (const s of this.samples) {
      if (best === null || s.rtt < best.rtt || (s.rtt === best.rtt && s.at > best.at)) best = s;
    }
    return best;
  }

  get offset() {
    return this.best?.offset ?? 0;
  }

  /** The latest measured round trip (what a user feels), not the best one. */
  get rtt() {
    return this.samples.length ? this.samples[this.samples.length - 1].rtt : null;
  }

  get synced() {
    return this.samples.length > 0;
  }

  serverNow(localNow) {
    return localNow + this.offset;
  }

  /** True when a new burst is due; the caller then sends burstSize pings and calls burstSent. */
  burstDue(now) {
    return now - this.lastBurstAt >= this.options.refreshMs;
  }

  burstSent(now) {
    this.lastBurstAt = now;
    this.lastPingAt = now;
  }

  /** True when a single trickle ping is due (no burst is); the caller sends it and calls pingSent. */
  pingDue(now) {
    const o = this.options;
    const every = now - this.connectedAt < o.warmupMs ? o.warmupTrickleMs : o.trickleMs;
    return !this.burstDue(now) && now - this.lastPingAt >= every;
  }

  pingSent(now) {
    this.lastPingAt = now;
  }

  /** Start over on a new connection (maybe to another server): forget the timing history. */
  restart(now = -Infinity) {
    this.lastBurstAt = -Infinity;
    this.lastPingAt = -Infinity;
    this.connectedAt = now;
  }
}
