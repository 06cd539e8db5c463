// The small pure pieces of the client: link parsing, socket URL and backoff, media source choice,
// and how the session store reads server messages.
import { test } from "node:test";
import assert from "node:assert/strict";

import { parseSessionKey, playerLink } from "../js/api.js";
import { sourcesFor } from "../js/media-source.js";
import { BACKOFF, FINAL_CLOSE_CODES, backoffDelay, socketUrl } from "../js/socket.js";
import { SessionStore } from "../js/store.js";

const KEY = "01a20089-3623-7989-9cee-df77a38146ef";

test("a pasted player link, a bare key or a key with spaces all give the key", () => {
  assert.equal(parseSessionKey(`http://localhost:8080/pages/player.html?sessionKey=${KEY}`), KEY);
  assert.equal(parseSessionKey(`  ${KEY}\n`), KEY);
  assert.equal(parseSessionKey(KEY.toUpperCase()), KEY);
  assert.equal(parseSessionKey(""), null);
  assert.equal(parseSessionKey("not-a-key"), "not-a-key", "the server decides; the page says it plainly");
});

test("the share link is the Go frontend's player path", () => {
  assert.equal(playerLink(KEY, "https://watch.example"), `https://watch.example/pages/player.html?sessionKey=${KEY}`);
});

test("the socket scheme follows the page: wss behind https, ws otherwise", () => {
  const params = { sessionKey: KEY, hostToken: null, resume: "r 1" };
  assert.equal(socketUrl(params, { protocol: "https:", host: "watch.example" }), `wss://watch.example/ws?sessionKey=${KEY}&resume=r+1`);
  assert.equal(socketUrl(params, { protocol: "http:", host: "localhost:8080" }), `ws://localhost:8080/ws?sessionKey=${KEY}&resume=r+1`);
});

test("reconnect delays grow exponentially to a cap, jittered both ways", () => {
  const mid = () => 0.5;
  assert.equal(backoffDelay(0, mid), BACKOFF.firstMs);
  assert.equal(backoffDelay(1, mid), BACKOFF.firstMs * 2);
  assert.equal(backoffDelay(20, mid), BACKOFF.maxMs);
  assert.equal(backoffDelay(0, () => 0), Math.round(BACKOFF.firstMs * (1 - BACKOFF.jitter)));
  assert.equal(backoffDelay(0, () => 1), Math.round(BACKOFF.firstMs * (1 + BACKOFF.jitter)));
});

test("an unknown or ended session stops the reconnecting; a server restart does not", () => {
  assert.ok(FINAL_CLOSE_CODES.has(4001));
  assert.ok(FINAL_CLOSE_CODES.has(4004));
  for (const code of [1001, 1006, 1011, 1013]) assert.equal(FINAL_CLOSE_CODES.has(code), false);
});

test("the default video is Go's /api/video; a library video prefers its HLS playlist", () => {
  assert.deepEqual(sourcesFor(null), { mp4: "/api/video", hls: null, live: false });
  const packaging = { id: "clip", file: "/api/videos/clip/file", hls: { status: "packaging", playlist: "/media/hls/clip/1/index.m3u8" } };
  assert.deepEqual(sourcesFor(packaging), { mp4: "/api/videos/clip/file", hls: "/media/hls/clip/1/index.m3u8", live: true });
  const ready = { ...packaging, hls: { status: "ready", playlist: "/media/hls/clip/1/index.m3u8" } };
  assert.equal(sourcesFor(ready).live, false);
  const unpackaged = { id: "a b", hls: { status: "none", playlist: null } };
  assert.deepEqual(sourcesFor(unpackaged), { mp4: "/api/videos/a%20b/file", hls: null, live: false });
});

function storeAfterInit(extra = {}) {
  const store = new SessionStore(KEY);
  const state = store.handle({
    type: "init", isHost: false, timestamp: 5000, memberId: "m2", hostId: "m1",
    state: { paused: false, currentTime: 3, playbackRate: 1, timestamp: 4000, version: 7 },
    members: [{ id: "m1", name: "Ann", role: "host" }, { id: "m2", name: "", role: "participant" }],
    ...extra,
  });
  return { store, state };
}

test("init gives the role, the members and the state to follow", () => {
  const { store, state } = storeAfterInit();
  assert.equal(store.isHost, false);
  assert.equal(store.host.name, "Ann");
  assert.equal(store.members.size, 2);
  assert.equal(state.version, 7);
  assert.equal(state.timestamp, 4000);
});

test("a Go-style init without a state timestamp takes the message's timestamp", () => {
  const store = new SessionStore(KEY);
  const state = store.handle({ type: "init", isHost: true, timestamp: 5000, state: { paused: true, currentTime: 0, playbackRate: 1 } });
  assert.equal(state.timestamp, 5000);
  assert.equal(store.isHost, true);
});

test("a hand-over to this member makes it host and updates everyone's role", () => {
  const { store } = storeAfterInit();
  const seen = [];
  store.addEventListener("change", (e) => seen.push(e.detail));
  store.handle({ type: "hostChanged", hostId: "m2", reason: "transferred" });
  assert.equal(store.isHost, true);
  assert.equal(store.members.get("m2").role, "host");
  assert.equal(store.members.get("m1").role, "participant");
  assert.deepEqual(seen, ["host"]);
});

test("members join, update and leave", () => {
  const { store } = storeAfterInit();
  store.handle({ type: "memberJoined", member: { id: "m3", name: "Cy" } });
  store.handle({ type: "memberUpdated", member: { id: "m3", name: "Cy", drift: 4, rtt: 2, buffering: true } });
  assert.equal(store.members.get("m3").buffering, true);
  store.handle({ type: "memberLeft", memberId: "m3" });
  assert.equal(store.members.has("m3"), false);
});

test("stateUpdate in both spellings yields a state; unknown types are ignored", () => {
  const { store } = storeAfterInit();
  assert.equal(store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 1, version: 8 }, timestamp: 1 }).version, 8);
  assert.equal(store.handle({ type: "state_update", state: { paused: true, currentTime: 1 }, timestamp: 9 }).timestamp, 9);
  assert.equal(store.handle({ type: "somethingNew" }), null);
});

test("an ended session is reported as an error", () => {
  const { store } = storeAfterInit();
  store.handle({ type: "ended", reason: "expired" });
  assert.match(store.error, /expired/);
});
