// The session WebSocket: connects, reconnects with backoff, keeps the clock estimate fresh with
// timeSync bursts, and hands every other message on as a "message" event.

import { ClockEstimator } from "./clock.js";

/** Close codes after which reconnecting cannot help (PROTOCOL.md §2.3). */
export const FINAL_CLOSE_CODES = new Map([
  [4001, "This session does not exist."],
  [4004, "This session has ended."],
  [4003, "You cannot join this session."], // kicked, banned, locked, or a password is needed
  [1008, "The server refused this connection (policy)."],
]);

export const BACKOFF = Object.freeze({ firstMs: 500, maxMs: 8000, factor: 2, jitter: 0.2 });

/**
 * A socket that has heard nothing for this long is given up and replaced. Our timeSync trickle
 * gets an answer every second, so silence means a dead path (a network drop sends no FIN, and
 * the browser would otherwise wait for TCP to time out, minutes later).
 */
export const SILENCE_LIMIT_MS = 5000;

/** Delay before reconnect attempt n (0-based): exponential, capped, jittered so a crowd spreads. */
export function backoffDelay(attempt, random = Math.random, b = BACKOFF) {
  const base = Math.min(b.maxMs, b.firstMs * b.factor ** attempt);
  return Math.round(base * (1 + b.jitter * (2 * random() - 1)));
}

/**
 * Same host and port as the page; wss when the page came over https (never a hard-coded ws://).
 * Asks for presence news as batched `presence` messages (one per tick instead of one per member).
 */
export function socketUrl(params, loc = globalThis.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
  query.set("presence", "batch");
  return `${scheme}//${loc.host}/ws?${query}`;
}

export const localNow = () => performance.timeOrigin + performance.now();

const CONNECTING = 0;
const OPEN = 1;

/**
 * The page's early socket (player.html) if a connect to `url` may take it over: opened with the
 * same query, not taken yet, and still connecting or open (one that closed is replaced by a new
 * connect, which meets the same refusal or finds the server back).
 */
export function adoptable(early, url) {
  if (!early?.ws || early.adopted || early.url !== url) return null;
  return early.ws.readyState === CONNECTING || early.ws.readyState === OPEN ? early : null;
}

export class SyncSocket extends EventTarget {
  /**
   * params(): the query for the next connect (resume token and host token may change). `early`:
   * the page's early start (player.html), whose socket the first connect takes over when it was
   * opened with the same query and is still alive, replaying what it heard meanwhile.
   */
  constructor({ params, clock = new ClockEstimator(), now = localNow, early = null }) {
    super();
    this.params = params;
    this.early = early;
    this.clock = clock;
    this.now = now;
    this.ws = null;
    this.attempt = 0;
    this.status = "connecting";
    this.retryAt = null;
    this.stopped = false;
    this.timers = new Set();
    this.clockTimer = null;
    this.lastHeardAt = 0;
  }

  connect() {
    this.stopped = false;
    this.setStatus("connecting");
    const url = socketUrl(this.params());
    const early = adoptable(this.early, url);
    if (!early) this.early?.ws?.close(1000); // not ours after all: no second member from this tab
    this.early = null; // only the first connect may take it over
    const ws = early ? early.ws : new WebSocket(url);
    this.ws = ws;
    const opened = (at) => {
      if (ws !== this.ws) return;
      this.lastHeardAt = at;
      this.setStatus("open");
      this.clock.restart(at); // a new path (maybe a new server): measure again
      this.maybeBurst();
      this.clockTimer = setInterval(() => this.maybeBurst(), 50);
    };
    const heard = (data, received) => {
      if (ws !== this.ws) return;
      this.lastHeardAt = received;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch {
        return;
      }
      if (msg?.type === "timeSync") {
        this.clock.addReply(msg, received);
        this.dispatchEvent(new CustomEvent("clock", { detail: this.clock }));
        return;
      }
      if (msg?.type === "init") this.attempt = 0; // joined: the next drop starts the backoff over
      this.dispatchEvent(new CustomEvent("message", { detail: msg }));
    };
    ws.addEventListener("open", () => opened(this.now()));
    ws.addEventListener("message", (event) => heard(event.data, this.now()));
    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      clearInterval(this.clockTimer);
      this.onClosed(event.code, event.reason);
    });
    if (early) {
      // what the early socket heard before this page was ready, in order, with its receive times
      early.adopted = true;
      if (ws.readyState === WebSocket.OPEN) opened(early.openedAt ?? this.now());
      for (const [data, received] of early.messages) heard(data, received);
      early.messages = [];
    }
  }

  onClosed(code, reason) {
    const final = FINAL_CLOSE_CODES.get(code);
    this.dispatchEvent(new CustomEvent("closed", { detail: { code, reason, final: final ?? null } }));
    if (final || this.stopped) {
      this.setStatus("closed");
      return;
    }
    const delay = backoffDelay(this.attempt++);
    this.retryAt = this.now() + delay;
    this.setStatus("reconnecting");
    this.later(() => this.connect(), delay);
  }

  later(fn, ms) {
    const id = setTimeout(() => {
      this.timers.delete(id);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(id);
  }

  maybeBurst() {
    const now = this.now();
    if (now - this.lastHeardAt > SILENCE_LIMIT_MS) {
      this.abandon();
      return;
    }
    if (this.clock.pingDue(now)) {
      this.clock.pingSent(now);
      this.send({ type: "timeSync", t0: now });
      return;
    }
    if (!this.clock.burstDue(now)) return;
    this.clock.burstSent(now);
    const { burstSize, burstSpacingMs } = this.clock.options;
    for (let i = 0; i < burstSize; i++) {
      this.later(() => this.send({ type: "timeSync", t0: this.now() }), i * burstSpacingMs);
    }
  }

  /** Give up a silent socket at once: its close handshake could never complete. */
  abandon() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.clockTimer);
    try {
      ws?.close(4000, "silent");
    } catch {
      // already closing
    }
    this.onClosed(1006, "no answer from the server");
  }

  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  setStatus(status) {
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  close() {
    this.stopped = true;
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear(); // nothing is pending any more (a join burst cut short included)
    clearInterval(this.clockTimer);
    this.ws?.close(1000);
  }
}
