// The small pure pieces of the client: link parsing, socket URL and backoff, media source choice,
// and how the session store reads server messages.
import { test } from "node:test";
import assert from "node:assert/strict";

import { authHeaders, parseSessionKey, playerLink } from "../js/api.js";
import { lockReason } from "../js/controls.js";
import { videoChoices } from "../js/dom.js";
import { shortcutFor } from "../js/keys.js";
import { hostTokenFor, rememberHostToken, rememberStartVideo, takeStartVideo } from "../js/tokens.js";
import { DEFAULT_VOLUME, VOLUME_KEY, loadVolume, saveVolume } from "../js/prefs.js";
import { packagingText, sourcesFor, withStatus } from "../js/media-source.js";
import { BACKOFF, FINAL_CLOSE_CODES, backoffDelay, socketUrl } from "../js/socket.js";
import { GONE, SessionStore, goneForClose, goneMessage } from "../js/store.js";

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
  assert.equal(socketUrl(params, { protocol: "https:", host: "watch.example" }), `wss://watch.example/ws?sessionKey=${KEY}&resume=r+1&presence=batch`);
  assert.equal(socketUrl(params, { protocol: "http:", host: "localhost:8080" }), `ws://localhost:8080/ws?sessionKey=${KEY}&resume=r+1&presence=batch`);
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
  store.handle({
    type: "init", isHost: false, timestamp: 5000, memberId: "m2", hostId: "m1",
    state: { paused: false, currentTime: 3, playbackRate: 1, timestamp: 4000, version: 7 },
    members: [{ id: "m1", name: "Ann", role: "host" }, { id: "m2", name: "", role: "participant" }],
    ...extra,
  });
  return { store, state: store.playback };
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
  store.handle({ type: "init", isHost: true, timestamp: 5000, state: { paused: true, currentTime: 0, playbackRate: 1 } });
  assert.equal(store.playback.timestamp, 5000);
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

test("stateUpdate in both spellings updates the one playback state; unknown types are ignored", () => {
  const { store } = storeAfterInit();
  const seen = [];
  store.addEventListener("change", (e) => seen.push(e.detail));
  store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 1, version: 8 }, timestamp: 1 });
  assert.equal(store.playback.version, 8);
  store.handle({ type: "state_update", state: { paused: true, currentTime: 1 }, timestamp: 9 });
  assert.equal(store.playback.timestamp, 9);
  store.handle({ type: "somethingNew" });
  assert.deepEqual(seen, ["playback", "playback"]);
});

test("an echo or a stale state changes nothing and announces nothing", () => {
  const { store } = storeAfterInit();
  const seen = [];
  store.addEventListener("change", (e) => seen.push(e.detail));
  store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 99, version: 7 }, timestamp: 1 });
  store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 99, version: 6 }, timestamp: 1 });
  assert.equal(store.playback.currentTime, 3);
  assert.deepEqual(seen, []);
});

test("a new init is the new authority: its state is taken whatever its version", () => {
  const { store } = storeAfterInit();
  store.handle({ type: "init", isHost: false, memberId: "m2", state: { paused: true, currentTime: 1, version: 1 }, timestamp: 1 });
  assert.equal(store.playback.version, 1);
});

test("a state without a rate plays at 1x", () => {
  const store = new SessionStore(KEY);
  store.offerPlayback({ paused: false, currentTime: 0 });
  assert.equal(store.playback.playbackRate, 1);
});

test("an ended or expired session is gone: members, host and role are cleared, once", () => {
  const { store } = storeAfterInit();
  const seen = [];
  store.addEventListener("change", (e) => seen.push(e.detail));
  store.handle({ type: "ended", reason: "expired" });
  assert.equal(store.gone, GONE.EXPIRED);
  assert.equal(store.members.size, 0);
  assert.equal(store.host, null);
  assert.equal(store.isHost, false);
  store.end(GONE.MISSING);
  assert.equal(store.gone, GONE.EXPIRED, "the first reason stands");
  assert.deepEqual(seen, ["gone"]);
  const other = storeAfterInit().store;
  other.handle({ type: "ended", reason: "closed" });
  assert.equal(other.gone, GONE.ENDED);
});

test("mediaStatus keeps the latest packaging status per video", () => {
  const store = new SessionStore(KEY);
  store.handle({ type: "mediaStatus", video: "clip", status: { status: "packaging", progress: 0.25 } });
  store.handle({ type: "mediaStatus", video: "clip", status: { status: "ready", progress: 1 } });
  store.handle({ type: "mediaStatus", video: 7, status: { status: "ready" } });
  assert.equal(store.mediaStatus("clip").status, "ready");
  assert.equal(store.mediaStatus("other"), null);
  assert.equal(store.media.size, 1, "a malformed message is ignored");
});

test("video pickers label by title, then file name, then id; the default entry comes first", () => {
  const videos = [{ id: "a", title: "Holiday" }, { id: "b", name: "b.mkv" }, { id: "c" }];
  assert.deepEqual(videoChoices(videos), [
    { value: "a", label: "Holiday" }, { value: "b", label: "b.mkv" }, { value: "c", label: "c" },
  ]);
  assert.deepEqual(videoChoices(videos, { withDefault: true })[0], { value: "", label: "(default video)" });
});

test("participants are told who controls; the host, a page not yet joined and a gone session are not", () => {
  const { store } = storeAfterInit();
  assert.match(lockReason(store), /Ann is the host/);
  store.handle({ type: "memberLeft", memberId: "m1" });
  store.handle({ type: "hostChanged", hostId: null });
  assert.match(lockReason(store), /Nobody is host right now/);
  store.end(GONE.ENDED);
  assert.equal(lockReason(store), null, "no contradictory host message once the session is gone");
  assert.equal(lockReason(new SessionStore(KEY)), null);
  assert.equal(lockReason(storeAfterInit({ isHost: true, memberId: "m1" }).store), null);
});

const key = (k, target = { tagName: "BODY" }, mods = {}) => shortcutFor({ key: k, target, ...mods });

test("player shortcuts: space/k play-pause, arrows seek, f/m/c; letters in either case", () => {
  assert.equal(key(" "), "togglePlay");
  assert.equal(key("K"), "togglePlay");
  assert.equal(key("ArrowLeft"), "seekBack");
  assert.equal(key("ArrowRight"), "seekForward");
  assert.equal(key("f"), "fullscreen");
  assert.equal(key("m"), "mute");
  assert.equal(key("c"), "subtitles");
  assert.equal(key("x"), null);
});

test("shortcuts leave typing, browser shortcuts, buttons and sliders alone", () => {
  assert.equal(key("k", { tagName: "INPUT", type: "text" }), null, "typing a name");
  assert.equal(key("m", { tagName: "TEXTAREA" }), null);
  assert.equal(key("f", { tagName: "DIV", isContentEditable: true }), null);
  assert.equal(key("ArrowLeft", { tagName: "SELECT" }), null);
  assert.equal(key("f", {}, { ctrlKey: true }), null);
  assert.equal(key("ArrowRight", {}, { altKey: true }), null);
  assert.equal(key(" ", { tagName: "BUTTON" }), null, "a focused button's Space is its own click");
  assert.equal(key("k", { tagName: "BUTTON" }), "togglePlay");
  assert.equal(key("ArrowLeft", { tagName: "INPUT", type: "range" }), null, "a focused slider moves itself");
  assert.equal(key(" ", { tagName: "INPUT", type: "range" }), "togglePlay");
});

function memoryStorage(initial = {}) {
  const data = new Map(Object.entries(initial));
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, String(v)), data };
}

test("volume and mute are remembered per browser, and odd saved values fall back to defaults", () => {
  const storage = memoryStorage();
  assert.deepEqual(loadVolume(storage), DEFAULT_VOLUME);
  saveVolume(storage, { volume: 0.3, muted: true });
  assert.deepEqual(loadVolume(storage), { volume: 0.3, muted: true });
  assert.deepEqual(loadVolume(memoryStorage({ [VOLUME_KEY]: "{not json" })), DEFAULT_VOLUME);
  assert.deepEqual(loadVolume(memoryStorage({ [VOLUME_KEY]: '{"volume": 7, "muted": "yes"}' })), { volume: 1, muted: false });
  assert.deepEqual(loadVolume(memoryStorage({ [VOLUME_KEY]: '{"volume": -1}' })), { volume: 0, muted: false });
  assert.deepEqual(loadVolume(null), DEFAULT_VOLUME);
});

test("an unknown key and an ended session close the socket for good, each with its own words", () => {
  assert.equal(goneForClose(4001), GONE.MISSING);
  assert.equal(goneForClose(4004), GONE.ENDED);
  for (const code of [1000, 1001, 1006, 1008, 1011]) assert.equal(goneForClose(code), null);
  assert.match(goneMessage(GONE.MISSING).title, /does not exist/);
  assert.match(goneMessage(GONE.ENDED).title, /has ended/);
  assert.match(goneMessage(GONE.EXPIRED).detail, /expired/);
});

test("a pushed mediaStatus replaces the packaging status the page fetched once", () => {
  const fetched = { id: "clip", file: "/api/videos/clip/file", hls: { status: "queued", playlist: null } };
  const pushed = { status: "packaging", progress: 0.1, playlist: "/media/hls/clip/1/index.m3u8" };
  assert.deepEqual(sourcesFor(withStatus(fetched, pushed)), { mp4: "/api/videos/clip/file", hls: pushed.playlist, live: true });
  assert.equal(withStatus(fetched, null), fetched);
});

test("viewers are told how packaging goes, and nothing once it is done", () => {
  assert.equal(packagingText({ status: "packaging", progress: 0.424 }), "Preparing for streaming 42 %");
  assert.equal(packagingText({ status: "packaging" }), "Preparing for streaming");
  assert.match(packagingText({ status: "queued" }), /Waiting/);
  assert.match(packagingText({ status: "failed", message: "no video stream" }), /no video stream/);
  for (const status of [{ status: "ready", progress: 1 }, { status: "none" }, null]) assert.equal(packagingText(status), null);
});

test("the host token travels as a bearer header, and only when there is one", () => {
  assert.deepEqual(authHeaders("tok"), { Authorization: "Bearer tok" });
  assert.deepEqual(authHeaders(null), {});
  assert.deepEqual(authHeaders(""), {});
});

test("a tab remembers its host token and hands the uploaded video to the player once", () => {
  const data = new Map();
  const storage = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v), removeItem: (k) => data.delete(k) };
  rememberHostToken(KEY, "", storage);
  assert.equal(hostTokenFor(KEY, storage), null, "no token, nothing stored");
  rememberHostToken(KEY, "tok", storage);
  assert.equal(hostTokenFor(KEY, storage), "tok");
  assert.equal(data.get(`videosync:hostToken:${KEY}`), "tok", "the key the player has always read");
  rememberStartVideo(KEY, "holiday", storage);
  assert.equal(takeStartVideo(KEY, storage), "holiday");
  assert.equal(takeStartVideo(KEY, storage), null, "a reload does not switch back to it");
});

test("a host's requests name their session beside the token (a token alone names no session)", async () => {
  const { asHost, authHeaders } = await import("../js/api.js");
  const host = { sessionKey: "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", hostToken: "t0k" };
  assert.equal(asHost("/api/videos", host), `/api/videos?session=${host.sessionKey}`);
  assert.equal(asHost("/api/videos?filename=a%20b.mp4", host), `/api/videos?filename=a%20b.mp4&session=${host.sessionKey}`);
  assert.equal(asHost("/api/videos", null), "/api/videos");
  assert.equal(asHost("/api/videos", { sessionKey: host.sessionKey, hostToken: null }), "/api/videos");
  assert.deepEqual(authHeaders("t0k"), { Authorization: "Bearer t0k" });
  assert.deepEqual(authHeaders(null), {});
});

test("the lock text follows the control mode: none for a member allowed to control, the grants named in delegated mode", () => {
  const { store } = storeAfterInit();
  Object.defineProperty(store, "controlMode", { value: "delegated", configurable: true });
  Object.defineProperty(store, "canControl", { value: false, configurable: true });
  assert.match(lockReason(store), /^Only the host and the members it chooses control playback\. Ann is the host\.$/);
  Object.defineProperty(store, "canControl", { value: true, configurable: true });
  assert.equal(lockReason(store), null, "granted: nothing locked");
});

test("a batched presence message inserts or updates the joined, updates the updated and removes the left", () => {
  const store = new SessionStore(KEY);
  store.handle({
    type: "init", isHost: false, memberId: "me", hostId: "h",
    members: [{ id: "h", name: "Hana", role: "host" }, { id: "me", name: "Me" }, { id: "b", name: "Bo" }],
    state: { paused: true, currentTime: 0, version: 1 }, timestamp: 1,
  });
  const changes = [];
  store.addEventListener("change", ({ detail }) => changes.push(detail));
  store.handle({
    type: "presence",
    joined: [{ id: "n", name: "Nia" }, { id: "b", name: "Bo again" }], // "b" already known: an upsert
    updated: [{ id: "h", name: "Hana K", role: "host" }],
    left: ["me-not", "unknown"], // never seen: ignored
  });
  assert.deepEqual(
    [...store.members.values()].map((m) => m.name), ["Hana K", "Me", "Bo again", "Nia"],
  );
  store.handle({ type: "presence", joined: [], updated: [], left: ["b", "n"] });
  assert.deepEqual([...store.members.keys()], ["h", "me"]);
  assert.deepEqual(changes, ["members", "members"]);
  // the single-member messages still work beside it
  store.handle({ type: "memberJoined", member: { id: "z", name: "Zed" } });
  store.handle({ type: "memberUpdated", member: { id: "z", name: "Zee" } });
  assert.equal(store.members.get("z").name, "Zee");
  store.handle({ type: "memberLeft", memberId: "z" });
  assert.equal(store.members.has("z"), false);
});

test("a source the network failed is loaded again after 1, 2, then every 4 s", async () => {
  const { retryDelay } = await import("../js/media-switcher.js");
  assert.deepEqual([0, 1, 2, 3, 9].map(retryDelay), [1000, 2000, 4000, 4000, 4000]);
});

test("attaching the file the page's early start is loading already keeps what it loaded", async () => {
  const { attachSource } = await import("../js/media-source.js");
  const video = {
    attrs: { src: "/api/video" }, error: null, loads: 0,
    getAttribute(name) { return this.attrs[name] ?? null; },
    set src(url) { this.attrs.src = url; },
    load() { this.loads += 1; },
  };
  const handle = await attachSource(video, sourcesFor(null), { prefer: "auto" });
  assert.equal(handle.kind, "mp4");
  assert.equal(video.loads, 0, "not reloaded");
  await attachSource(video, { mp4: "/api/videos/x/file", hls: null, live: false });
  assert.equal(video.loads, 1, "another file is loaded");
  assert.equal(video.getAttribute("src"), "/api/videos/x/file");
});
