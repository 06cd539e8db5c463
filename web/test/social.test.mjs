// Chat and moderation, the parts without a DOM: chat lines and system lines, the history's
// de-duplication and bound, the close-4003 reasons, and the store's `locked`.
import { test } from "node:test";
import assert from "node:assert/strict";

import { ChatLog, chatLine, clockText, systemTextFor } from "../js/chat.js";
import { REFUSALS, refusalFor } from "../js/moderation.js";
import { FINAL_CLOSE_CODES } from "../js/socket.js";
import { GONE, SessionStore, goneMessage } from "../js/store.js";

function joinedStore() {
  const store = new SessionStore("k");
  store.handle({
    type: "init", isHost: false, memberId: "me", hostId: "h",
    members: [{ id: "h", name: "Hana", role: "host" }, { id: "me", name: "Me" }, { id: "b", name: "" }],
    state: { paused: true, currentTime: 0, version: 1 }, timestamp: 1,
  });
  return store;
}

const chat = (id, from, text, extra = {}) => ({ type: "chat", id, from, name: "N", text, at: 1_700_000_000_000, ...extra });

test("a chat message becomes a line; markup stays text and the sender's own lines are marked", () => {
  const line = chatLine(chat("1", "me", "<img src=x onerror=alert(1)>"), "me");
  assert.equal(line.text, "<img src=x onerror=alert(1)>");
  assert.equal(line.mine, true);
  assert.equal(chatLine(chat("2", "x", "hi", { name: "" }), "me").name, "guest x");
  assert.equal(chatLine({ type: "chat", id: "3" }), null, "no text: not a line");
  assert.match(clockText(Date.UTC(2024, 0, 1, 12, 5)), /^\d\d:\d\d$/);
});

test("the history of an init and live lines are kept once each, in order", () => {
  const store = joinedStore();
  const log = new ChatLog();
  log.handle({ type: "init", memberId: "me", chat: [chat("1", "h", "a"), chat("2", "me", "b")] }, store);
  log.handle(chat("2", "me", "b"), store); // heard live as well (sent while the init was built)
  log.handle(chat("3", "h", "c"), store);
  log.handle({ type: "init", memberId: "me", chat: [chat("2", "me", "b"), chat("3", "h", "c")] }, store); // reconnect
  assert.deepEqual(log.lines.map((l) => l.text), ["a", "b", "c"]);
  assert.deepEqual(log.lines.map((l) => l.mine), [false, true, false]);
});

test("the page keeps at most `max` lines and forgets the ids of dropped ones", () => {
  const log = new ChatLog({ max: 2 });
  const store = joinedStore();
  for (const id of ["1", "2", "3"]) log.handle(chat(id, "h", id), store);
  assert.deepEqual(log.lines.map((l) => l.id), ["2", "3"]);
  assert.equal(log.ids.has("1"), false);
});

test("joins, leaves, host changes, removals and the lock give system lines; self-news and no-ops do not", () => {
  const store = joinedStore();
  assert.equal(systemTextFor({ type: "memberJoined", member: { id: "n", name: "Nia" } }, store), "Nia joined");
  assert.equal(systemTextFor({ type: "memberJoined", member: { id: "me" } }, store), null);
  assert.equal(systemTextFor({ type: "memberLeft", memberId: "b" }, store), "guest b left");
  assert.equal(systemTextFor({ type: "memberLeft", memberId: "unknown" }, store), null);
  assert.equal(systemTextFor({ type: "hostChanged", hostId: "b" }, store), "guest b is now the host");
  assert.equal(systemTextFor({ type: "hostChanged", hostId: "me" }, store), "You are now the host");
  assert.equal(systemTextFor({ type: "hostChanged", hostId: "h" }, store), null, "no change");
  assert.equal(systemTextFor({ type: "hostChanged", hostId: null }, store), null);
  assert.equal(systemTextFor({ type: "kicked", memberId: "b", ban: true }, store), "guest b was banned by the host");
  assert.equal(systemTextFor({ type: "kicked", memberId: "b", ban: false }, store), "guest b was removed by the host");
  assert.match(systemTextFor({ type: "locked", locked: true }, store), /locked/);
  const log = new ChatLog();
  log.handle({ type: "presence", joined: [{ id: "p", name: "Pat" }], updated: [], left: ["b"] }, store);
  assert.deepEqual(log.lines.map((l) => l.text), ["Pat joined", "guest b left"]);
  // a batch naming a member already known (its reconnect) is not a join
  log.handle({ type: "presence", joined: [{ id: "h", name: "Hana" }], updated: [], left: [] }, store);
  assert.deepEqual(log.lines.map((l) => l.text), ["Pat joined", "guest b left"]);
});

test("close 4003 reasons: removal, ban and lock end the page; password reasons ask for it", () => {
  assert.deepEqual(refusalFor(4003, "Removed by the host"), { gone: GONE.KICKED });
  assert.deepEqual(refusalFor(4003, "Banned from this session"), { gone: GONE.BANNED });
  assert.deepEqual(refusalFor(4003, "Session is locked"), { gone: GONE.LOCKED });
  for (const reason of ["Password required", "Wrong password", "Too many password attempts; retry later"]) {
    assert.ok(refusalFor(4003, reason).password, reason);
  }
  assert.deepEqual(refusalFor(4003, "something new"), { gone: GONE.KICKED }, "an unknown 4003 still stops");
  assert.equal(refusalFor(4001, "Invalid session key"), null);
  assert.ok(FINAL_CLOSE_CODES.has(4003), "no automatic reconnect after a refusal");
  for (const { gone } of Object.values(REFUSALS).filter((r) => r.gone)) {
    assert.notEqual(goneMessage(gone).title, goneMessage(GONE.ENDED).title, `${gone} says why`);
  }
});

test("the store knows whether the room is locked from init and from `locked` messages", () => {
  const store = joinedStore();
  assert.equal(store.locked, false);
  const seen = [];
  store.addEventListener("change", ({ detail }) => seen.push(detail));
  store.handle({ type: "locked", locked: true, by: "h" });
  assert.equal(store.locked, true);
  assert.deepEqual(seen, ["locked"]);
  store.handle({ type: "init", isHost: false, memberId: "me", locked: false, state: null, timestamp: 2 });
  assert.equal(store.locked, false);
});

test("the buffering gate's waits and resumes give system lines; echoes and other states do not", () => {
  const store = joinedStore();
  const wait = { type: "stateUpdate", state: { paused: true, currentTime: 3, version: 2, waitingFor: ["b", "me"] } };
  assert.equal(systemTextFor(wait, store), "Waiting for guest b and you…");
  store.handle(wait);
  assert.equal(systemTextFor(wait, store), null, "the same state again");
  assert.equal(systemTextFor({ type: "stateUpdate", state: { paused: true, version: 3, waitingFor: ["b"] } }, store), null,
    "the wait narrows: no new line");
  const resume = { type: "stateUpdate", state: { paused: false, currentTime: 3, version: 4 } };
  assert.equal(systemTextFor(resume, store), "Playback resumed");
  store.handle(resume);
  assert.equal(systemTextFor({ type: "stateUpdate", state: { paused: true, version: 5 } }, store), null, "a plain pause");
});
