// The shared controls read the store and send host commands; here with stand-in elements, since
// what matters is what gets sent and when, not the markup.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Controls } from "../js/controls.js";
import { GONE, SessionStore } from "../js/store.js";

function fakeElement() {
  return {
    disabled: false, hidden: false, textContent: "", value: "", max: "0", dataset: {}, options: [],
    attrs: {}, listeners: {},
    addEventListener(type, fn) { this.listeners[type] = fn; },
    setAttribute(name, value) { this.attrs[name] = value; },
  };
}

function setup({ isHost = true, position = 10 } = {}) {
  const els = { "[data-speed]": { ...fakeElement(), options: [{ value: "1" }] } };
  const root = { querySelector: (sel) => (els[sel] ??= fakeElement()) };
  const store = new SessionStore("k");
  store.handle({
    type: "init", isHost, memberId: "m1", hostId: isHost ? "m1" : "m0", timestamp: 1,
    state: { paused: true, currentTime: position, playbackRate: 1, version: 1 },
    members: [{ id: "m0" }, { id: "m1" }],
  });
  const sent = [];
  const controls = new Controls(root, store, { position: () => store.playback.currentTime, send: (s) => sent.push(s) });
  return { controls, store, sent, els };
}

test("quick seeks add up before the server answers, then count from the new state", () => {
  const { controls, store, sent } = setup();
  controls.seekBy(5);
  controls.seekBy(5);
  assert.deepEqual(sent.map((s) => s.currentTime), [15, 20]);
  store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 20, version: 2 }, timestamp: 2 });
  controls.seekBy(-5);
  assert.equal(sent.at(-1).currentTime, 15);
  controls.seekBy(-5);
  assert.equal(sent.at(-1).currentTime, 10, "the second press counts from the first one's target");
  store.handle({ type: "stateUpdate", state: { paused: true, currentTime: 0, version: 3 }, timestamp: 3 });
  controls.seekBy(-5);
  assert.equal(sent.at(-1).currentTime, 0, "never before the start");
});

test("a participant's play and seek send nothing, and the controls are disabled", () => {
  const { controls, sent, els } = setup({ isHost: false });
  controls.togglePlay();
  controls.seekBy(5);
  assert.deepEqual(sent, []);
  assert.equal(els["[data-play]"].disabled, true);
  assert.equal(els["[data-lock-reason]"].hidden, false);
});

test("the host's play toggles the shared state; a gone session sends nothing and shows play", () => {
  const { controls, store, sent, els } = setup();
  assert.equal(els["[data-play]"].disabled, false);
  controls.togglePlay();
  assert.deepEqual(sent, [{ paused: false, currentTime: 10 }]);
  store.handle({ type: "stateUpdate", state: { paused: false, currentTime: 10, version: 2 }, timestamp: 2 });
  assert.equal(els["[data-play]"].textContent, "❚❚");
  store.end(GONE.ENDED);
  controls.togglePlay();
  controls.seekBy(5);
  assert.equal(sent.length, 1);
  assert.equal(els["[data-play]"].disabled, true);
  assert.equal(els["[data-play]"].textContent, "▶");
  assert.equal(els["[data-lock-reason]"].hidden, true);
});
