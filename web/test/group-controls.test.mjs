import assert from "node:assert/strict";
import { test } from "node:test";

import { bufferedAhead, mayControl, stallDelay, toggledGrant, waitingText } from "../js/group-controls.js";

test("the host always controls; others by the mode and the grants", () => {
  assert.equal(mayControl({ mode: "host", controllers: [] }, "h", "h"), true);
  assert.equal(mayControl({ mode: "host", controllers: ["a"] }, "a", "h"), false);
  assert.equal(mayControl({ mode: "everyone", controllers: [] }, "a", "h"), true);
  assert.equal(mayControl({ mode: "delegated", controllers: ["a"] }, "a", "h"), true);
  assert.equal(mayControl({ mode: "delegated", controllers: ["a"] }, "b", "h"), false);
  assert.equal(mayControl(undefined, "a", "h"), false);
  assert.equal(mayControl({ mode: "everyone" }, null, "h"), false);
});

test("the waiting reason names who the session waits for", () => {
  const names = { a: "Ana", b: "Bo", c: "Cy", d: "Di" };
  const nameOf = (id) => names[id];
  assert.equal(waitingText([], nameOf), "");
  assert.equal(waitingText(["a"], nameOf), "waiting for Ana…");
  assert.equal(waitingText(["a", "b"], nameOf), "waiting for Ana and Bo…");
  assert.equal(waitingText(["a", "b", "c"], nameOf), "waiting for Ana, Bo and Cy…");
  assert.equal(waitingText(["a", "b", "c", "d"], nameOf), "waiting for Ana, Bo and 2 others…");
});

test("a grant toggles one member in or out", () => {
  assert.deepEqual(toggledGrant([], "a"), ["a"]);
  assert.deepEqual(toggledGrant(["a", "b"], "a"), ["b"]);
  assert.deepEqual(toggledGrant(undefined, "a"), ["a"]);
});

const ranges = (...pairs) => ({ length: pairs.length, start: (i) => pairs[i][0], end: (i) => pairs[i][1] });

test("buffered ahead: what the range holding the position has left, nothing outside a range", () => {
  const r = ranges([0, 10], [20, 30]);
  assert.equal(bufferedAhead(r, 4), 6);
  assert.equal(bufferedAhead(r, 20), 10);
  assert.equal(bufferedAhead(r, 15), 0);
  assert.equal(bufferedAhead(r, 10), 0, "at the end of a range: run dry");
  assert.equal(bufferedAhead(ranges(), 3), 0);
  assert.equal(bufferedAhead(undefined, 3), 0);
});

test("a playing player that ran dry reports its stall at once; a hiccup with media in hand waits", () => {
  assert.equal(stallDelay({ seeking: false, paused: false, ahead: 0 }), 0);
  assert.equal(stallDelay({ seeking: false, paused: false, ahead: 0.8 }), 0, "coarse ranges: 0.8 s ahead and dry");
  assert.equal(stallDelay({ seeking: false, paused: false, ahead: 5 }), 200);
  assert.equal(stallDelay({ seeking: true, paused: false, ahead: 0 }), 500, "a seek buffers briefly everywhere");
  assert.equal(stallDelay({ seeking: false, paused: true, ahead: 0 }), 200, "paused: still loading");
});
