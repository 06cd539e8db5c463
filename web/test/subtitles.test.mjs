// The per-viewer subtitle choice: what is remembered, which track a remembered choice picks, and
// how the CC button cycles.
import { test } from "node:test";
import assert from "node:assert/strict";

import { OFF, SUBTITLES_KEY, loadChoice, nextTrack, pickTrack, saveChoice, usableTracks } from "../js/subtitles.js";

function memoryStorage(initial = {}) {
  const data = { ...initial };
  return { getItem: (k) => (k in data ? data[k] : null), setItem: (k, v) => { data[k] = String(v); }, data };
}

const TRACKS = [
  { id: "en-srt", lang: "en", label: "English", url: "/api/videos/m/subtitles/en-srt.vtt" },
  { id: "pt-br-vtt", lang: "pt-BR", label: "Português (Brasil)", url: "/api/videos/m/subtitles/pt-br-vtt.vtt" },
  { id: "s2", lang: "fr", label: "Français", url: "/api/videos/m/subtitles/s2.vtt" },
];

test("subtitles are off until a viewer chooses, and the choice is kept", () => {
  const storage = memoryStorage();
  assert.equal(loadChoice(storage), OFF);
  saveChoice(storage, "pt-BR");
  assert.equal(storage.data[SUBTITLES_KEY], "pt-BR");
  assert.equal(loadChoice(storage), "pt-BR");
  assert.equal(loadChoice(null), OFF);
  const broken = { getItem() { throw new Error("disabled"); }, setItem() { throw new Error("full"); } };
  assert.equal(loadChoice(broken), OFF);
  assert.doesNotThrow(() => saveChoice(broken, "en"));
});

test("a remembered language picks the same language, then the same primary language, never another", () => {
  assert.equal(pickTrack(TRACKS, OFF), -1);
  assert.equal(pickTrack(TRACKS, "fr"), 2);
  assert.equal(pickTrack(TRACKS, "pt-br"), 1);
  assert.equal(pickTrack(TRACKS, "pt-PT"), 1);
  assert.equal(pickTrack(TRACKS, "en-US"), 0);
  assert.equal(pickTrack(TRACKS, "de"), -1);
  assert.equal(pickTrack([], "en"), -1);
});

test("the CC button cycles off, each track, off", () => {
  const seen = [];
  let current = -1;
  for (let i = 0; i < 5; i++) {
    current = nextTrack(TRACKS.length, current);
    seen.push(current);
  }
  assert.deepEqual(seen, [0, 1, 2, -1, 0]);
  assert.equal(nextTrack(1, -1), 0);
  assert.equal(nextTrack(1, 0), -1); // one track: a toggle
  assert.equal(nextTrack(0, -1), -1);
});

test("only same-origin track URLs from the API are used", () => {
  const list = [...TRACKS, { url: "//evil.example/x.vtt" }, { url: "https://evil.example/x.vtt" }, null, { lang: "en" }];
  assert.deepEqual(usableTracks(list), TRACKS);
  assert.deepEqual(usableTracks(undefined), []);
  assert.deepEqual(usableTracks({}), []);
});
