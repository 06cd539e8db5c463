// The player page's early start (the inline <script data-early> of pages/player.html) run in a
// sandbox with stand-ins for the browser's globals, and socket.js taking its socket over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

import { ClockEstimator } from "../js/clock.js";
import { SyncSocket, adoptable, socketUrl } from "../js/socket.js";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");
const KEY = "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b";

function earlySource() {
  const html = readFileSync(join(WEB, "pages", "player.html"), "utf8");
  const m = html.match(/<script data-early>([\s\S]*?)<\/script>/);
  assert.ok(m, "player.html has its early start");
  return m[1];
}

class FakeSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static made = [];
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    FakeSocket.made.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code) { this.closedWith = code; this.readyState = 3; }
  open() { this.readyState = 1; this.dispatchEvent(new Event("open")); }
  receive(msg) {
    const event = new Event("message");
    event.data = JSON.stringify(msg);
    this.dispatchEvent(event);
  }
}

const storage = (entries) => {
  const map = new Map(Object.entries(entries));
  return { getItem: (k) => map.get(k) ?? null };
};

/** Runs the early start as a page at `search` would; returns its window and its <video>. */
function runEarly({ search = `?sessionKey=${KEY}`, session = {}, local = {}, clock = () => 1000 } = {}) {
  FakeSocket.made = [];
  const video = new EventTarget();
  Object.assign(video, { duration: 120, src: "", seekedTo: null });
  Object.defineProperty(video, "currentTime", { set(t) { this.seekedTo = t; }, get() { return this.seekedTo ?? 0; } });
  const fetched = [];
  const window = {
    location: { search, protocol: "http:", host: "localhost:8080" },
    URLSearchParams,
    WebSocket: FakeSocket,
    sessionStorage: storage(session),
    localStorage: storage(local),
    performance: { timeOrigin: 0, now: clock },
    fetch: (url, init) => { fetched.push([url, init]); return Promise.resolve({ url }); },
    document: { querySelector: (s) => (s === "video[data-video]" ? video : null) },
    JSON, Math, Number, Event, encodeURIComponent,
  };
  window.window = window;
  vm.runInNewContext(earlySource(), window);
  return { window, video, fetched, ws: FakeSocket.made[0] };
}

test("the early socket's address is exactly the one socket.js builds for the page's params", () => {
  const session = { [`videosync:hostToken:${KEY}`]: "tok", [`videosync:resume:${KEY}`]: "r 1", [`videosync:password:${KEY}`]: "pw" };
  const { window, ws } = runEarly({ session, local: { "videosync:name": "Ana" } });
  // player.js's params() in its order
  const params = { sessionKey: KEY, hostToken: "tok", resume: "r 1", name: "Ana", password: "pw" };
  const expected = socketUrl(params, { protocol: "http:", host: "localhost:8080" });
  assert.equal(window.videosyncEarly.url, expected);
  assert.equal(ws.url, expected);
  const bare = runEarly();
  assert.equal(bare.ws.url, socketUrl({ sessionKey: KEY, hostToken: null, resume: null, name: null, password: null },
    { protocol: "http:", host: "localhost:8080" }));
});

test("the early start asks for the session's description at once", () => {
  const { fetched, window } = runEarly();
  assert.equal(fetched.length, 1);
  assert.equal(fetched[0][0], `/api/sessions/${KEY}`);
  assert.ok(window.videosyncEarly.session instanceof Promise);
});

test("no session key, no early start", () => {
  const { window, ws, fetched } = runEarly({ search: "" });
  assert.equal(window.videosyncEarly, undefined);
  assert.equal(ws, undefined);
  assert.equal(fetched.length, 0);
});

test("a playing session's default video is loaded and sought (paused) 100 ms ahead of where it plays", () => {
  let t = 1000;
  const { window, ws, video } = runEarly({ clock: () => t });
  ws.open();
  assert.deepEqual(ws.sent.map((m) => m.type), ["timeSync"]);
  // the server's clock is 500 ms ahead of ours; the reply comes 10 ms later
  t = 1010;
  ws.receive({ type: "timeSync", t0: 1000, t1: 1505, t2: 1505 });
  assert.equal(window.videosyncEarly.offset, 500);
  ws.receive({ type: "init", state: { video: null, paused: false, currentTime: 10, playbackRate: 1, timestamp: 1010 } });
  assert.equal(video.src, "/api/video");
  t = 1210; // metadata 200 ms later: server time 1710, 700 ms after the state's timestamp
  video.dispatchEvent(new Event("loadedmetadata"));
  assert.ok(Math.abs(video.seekedTo - 10.8) < 1e-9, `sought to ${video.seekedTo}`);
  assert.equal(window.videosyncEarly.messages.length, 2, "what it heard is kept for the page");
});

test("a paused session, another video, or a page taken over already: no early seek", () => {
  for (const [state, adopt] of [
    [{ video: null, paused: true, currentTime: 10, timestamp: 1000 }, false],
    [{ video: "other", paused: false, currentTime: 10, timestamp: 1000 }, false],
    [{ video: null, paused: false, currentTime: 10, timestamp: 1000 }, true],
  ]) {
    const { window, ws, video } = runEarly();
    ws.open();
    ws.receive({ type: "init", state });
    if (adopt) window.videosyncEarly.adopted = true;
    video.dispatchEvent(new Event("loadedmetadata"));
    assert.equal(video.seekedTo, null, JSON.stringify(state));
  }
});

test("socket.js takes the early socket over and replays what it heard, in order, with its receive times", () => {
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  try {
    let t = 1000;
    const { window, ws } = runEarly({ clock: () => t });
    const early = window.videosyncEarly;
    ws.open();
    t = 1004;
    ws.receive({ type: "timeSync", t0: 1000, t1: 1002, t2: 1002 });
    ws.receive({ type: "init", state: { paused: true } });
    const clock = new ClockEstimator();
    const loc = globalThis.location;
    globalThis.location = { protocol: "http:", host: "localhost:8080" };
    const params = () => ({ sessionKey: KEY, hostToken: null, resume: null, name: null, password: null });
    const socket = new SyncSocket({ params, clock, early, now: () => 2000 });
    const heard = [];
    const statuses = [];
    socket.addEventListener("message", ({ detail }) => heard.push(detail.type));
    socket.addEventListener("status", ({ detail }) => statuses.push(detail));
    socket.connect();
    globalThis.location = loc;
    assert.equal(FakeSocket.made.length, 1, "no second socket");
    assert.equal(socket.ws, ws);
    assert.equal(early.adopted, true);
    assert.deepEqual(heard, ["init"]);
    assert.deepEqual(statuses, ["connecting", "open"]);
    assert.equal(clock.samples.length, 1);
    assert.equal(clock.samples[0].rtt, 4, "the reply's own receive time, not the replay's");
    ws.receive({ type: "chat", text: "hi" });
    assert.deepEqual(heard, ["init", "chat"], "live messages follow, once");
    assert.ok(socket.timers.size > 0, "its join burst is under way");
    socket.close();
    assert.equal(socket.timers.size, 0, "closed: nothing pending, the burst cut short included");
  } finally {
    globalThis.WebSocket = saved;
  }
});

test("an early socket opened with another query, or closed, is not taken over", () => {
  const ws = new FakeSocket("ws://h/ws?sessionKey=a");
  assert.equal(adoptable({ ws, url: ws.url, adopted: false }, "ws://h/ws?sessionKey=b"), null);
  assert.equal(adoptable({ ws, url: ws.url, adopted: true }, ws.url), null);
  ws.readyState = 3;
  assert.equal(adoptable({ ws, url: ws.url, adopted: false }, ws.url), null);
  ws.readyState = 1;
  assert.ok(adoptable({ ws, url: ws.url, adopted: false }, ws.url));
});
