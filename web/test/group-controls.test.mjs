import assert from "node:assert/strict";
import { test } from "node:test";

import { mayControl, toggledGrant, waitingText } from "../js/group-controls.js";

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
