import { test } from "node:test";
import assert from "node:assert/strict";

import { SessionStore } from "../js/store.js";
import { SyncController, SYNC_DEFAULTS, isNewer, positionAt, rateFor } from "../js/sync.js";

const playing = (over = {}) => ({ paused: false, currentTime: 10, playbackRate: 1, timestamp: 100_000, version: 1, ...over });
const paused = (over = {}) => ({ ...playing(), paused: true, ...over });
// The controller follows the store's playback state; tests offer states to the store.
function setup(options) {
  const store = new SessionStore("k");
  return { store, sync: new SyncController(store, options) };
}
// What a healthy, playing <video> reports.
const obs = (serverNow, currentTime, over = {}) => ({ serverNow, currentTime, paused: false, seeking: false, ready: true, duration: 600, ...over });

test("a playing state extrapolates to server-now at its rate", () => {
  assert.equal(positionAt(playing(), 102_000), 12);
  assert.equal(positionAt(playing({ playbackRate: 1.5 }), 102_000), 13);
});

test("a paused state stays where it was paused", () => {
  assert.equal(positionAt(paused(), 999_999), 10);
});

test("a play scheduled in the future holds at currentTime until its timestamp", () => {
  assert.equal(positionAt(playing(), 99_950), 10);
  const { store, sync } = setup();
  store.offerPlayback(playing());
  const before = sync.step(obs(99_900, 10, { paused: true }));
  assert.equal(before.play, false);
  assert.equal(before.seekTo, null);
  const after = sync.step(obs(100_000, 10, { paused: true }));
  assert.equal(after.play, true);
});

test("the scheduled start is brought forward by the learned play latency", () => {
  const { store, sync } = setup({ initialPlayLatencyMs: 30 });
  store.offerPlayback(playing());
  assert.equal(sync.step(obs(99_969, 10, { paused: true })).play, false);
  assert.equal(sync.step(obs(99_970, 10, { paused: true })).play, true);
});

test("states are taken only when their version is newer: echoes and stale copies are dropped", () => {
  const { store, sync } = setup();
  assert.equal(store.offerPlayback(playing({ version: 5 })), true);
  assert.equal(store.offerPlayback(playing({ version: 5, currentTime: 99 })), false);
  assert.equal(store.offerPlayback(playing({ version: 4, currentTime: 99 })), false);
  assert.equal(sync.state.currentTime, 10);
  assert.equal(store.offerPlayback(playing({ version: 6, currentTime: 20 })), true);
  assert.equal(sync.state.currentTime, 20);
});

test("a state without a version (the Go server) is always taken", () => {
  assert.equal(isNewer({ paused: true }, { paused: false, version: 3 }), true);
  assert.equal(isNewer({ version: 1 }, null), true);
});

test("after reset a new server may number versions from the start again", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing({ version: 40 }));
  store.resetPlayback();
  assert.equal(store.offerPlayback(playing({ version: 1 })), true);
});

test("inside the dead band the commanded rate is used unchanged", () => {
  const band = SYNC_DEFAULTS.deadBandMs;
  assert.equal(rateFor(band - 0.1, 1), 1);
  assert.equal(rateFor(-(band - 0.1), 1.25), 1.25);
  assert.notEqual(rateFor(band + 0.1, 1), 1);
  const { store, sync } = setup();
  store.offerPlayback(playing());
  const out = sync.step(obs(101_000, 11 + (band - 0.5) / 1000));
  assert.equal(out.rate, 1);
  assert.equal(out.seekTo, null);
});

test("small drift nudges the rate in proportion, towards the target", () => {
  const behind = rateFor(-20, 1);
  const further = rateFor(-40, 1);
  assert.ok(behind > 1 && further > behind);
  assert.ok(Math.abs(further - 1 - 2 * (behind - 1)) < 1e-12);
  assert.ok(rateFor(20, 1) < 1);
  assert.ok(Math.abs(rateFor(20, 2) - 2 * rateFor(20, 1)) < 1e-12, "nudge is relative to the commanded rate");
});

test("the rate nudge is capped", () => {
  const cap = SYNC_DEFAULTS.maxRateNudge;
  assert.equal(rateFor(-299, 1), 1 + cap);
  assert.equal(rateFor(299, 1), 1 - cap);
});

test("drift below the seek threshold never seeks, however long it lasts", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing());
  for (let i = 0; i < 50; i++) {
    const now = 101_000 + i * 100;
    const out = sync.step(obs(now, positionAt(sync.state, now) - 0.25));
    assert.equal(out.seekTo, null);
    assert.ok(out.rate > 1);
  }
});

test("drift beyond the threshold seeks ahead by the seek latency", () => {
  const { store, sync } = setup({ initialSeekLatencyMs: 80 });
  store.offerPlayback(playing());
  sync.step(obs(104_900, 14.9)); // on target, playing: warm
  const out = sync.step(obs(105_000, 14));
  assert.ok(Math.abs(out.drift - -1000) < 1e-6);
  assert.ok(Math.abs(out.seekTo - 15.08) < 1e-9);
});

test("at 2x the seek aims twice as far ahead", () => {
  const { store, sync } = setup({ initialSeekLatencyMs: 80 });
  store.offerPlayback(playing({ playbackRate: 2 }));
  sync.step(obs(104_900, 19.8)); // on target, playing: warm
  const out = sync.step(obs(105_000, 10));
  assert.ok(Math.abs(out.seekTo - (20 + 0.16)) < 1e-9);
});

test("after a drift seek the cooldown lets the nudge work instead of seeking again", () => {
  const { store, sync } = setup({ seekCooldownMs: 1500, maxSeekRetries: 0 });
  store.offerPlayback(playing());
  assert.notEqual(sync.step(obs(105_000, 14)).seekTo, null);
  for (const now of [105_500, 106_000, 106_400]) {
    const out = sync.step(obs(now, positionAt(sync.state, now) - 0.5));
    assert.equal(out.seekTo, null, `no seek at ${now}`);
    assert.ok(out.rate > 1);
  }
  assert.notEqual(sync.step(obs(106_600, positionAt(sync.state, 106_600) - 0.5)).seekTo, null);
});

test("a seek that lands far off is retried once at once, with the latency it measured", () => {
  const { store, sync } = setup({ initialSeekLatencyMs: 80, retrySeekMs: 150, maxSeekRetries: 1, settleSamples: 2 });
  store.offerPlayback(playing());
  sync.step(obs(104_900, 14.9)); // on target, playing: warm
  assert.notEqual(sync.step(obs(105_000, 14)).seekTo, null); // 1 s behind: seek
  const off = (now, d) => obs(now, positionAt(sync.state, now) + d);
  assert.equal(sync.step(off(105_100, -0.2)).seekTo, null); // first sample after landing: settling
  const retry = sync.step(off(105_200, -0.2)); // landed 200 ms behind: the latency was 200 ms short
  assert.notEqual(retry.seekTo, null, "retried at once, cooldown or not");
  assert.ok(sync.seekLatencyMs > 80, `learned ${sync.seekLatencyMs}`);
  assert.ok(Math.abs(retry.seekTo - (positionAt(sync.state, 105_200) + sync.seekLatencyMs / 1000)) < 1e-9);
  sync.step(off(105_300, -0.2));
  const after = sync.step(off(105_400, -0.2)); // missed again: no more retries, the cooldown rules
  assert.equal(after.seekTo, null);
  assert.ok(after.rate > 1, "the nudge takes over");
});

test("a landing within the retry bound is left to the nudge", () => {
  const { store, sync } = setup({ retrySeekMs: 150, settleSamples: 2 });
  store.offerPlayback(playing());
  sync.step(obs(104_900, 14.9));
  sync.step(obs(105_000, 14));
  const off = (now, d) => obs(now, positionAt(sync.state, now) + d);
  sync.step(off(105_100, -0.1));
  const out = sync.step(off(105_200, -0.1));
  assert.equal(out.seekTo, null);
  assert.ok(out.rate > 1);
});

test("a new host command is followed at once, cooldown or not", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing());
  sync.step(obs(105_000, 14));
  store.offerPlayback(playing({ version: 2, currentTime: 300, timestamp: 105_100 }));
  const out = sync.step(obs(105_200, 15.2));
  assert.ok(out.seekTo > 300);
});

test("one wild reading in steady play does not trigger a seek", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing());
  const at = (now, off) => obs(now, positionAt(sync.state, now) + off);
  sync.step(at(101_000, 0));
  sync.step(at(101_100, 0.001));
  assert.equal(sync.step(at(101_200, 5)).seekTo, null);
  assert.equal(sync.step(at(101_300, 0)).seekTo, null);
});

test("a measured late landing raises the seek latency used next time", () => {
  const { store, sync } = setup({ initialSeekLatencyMs: 80, learnRate: 0.5, settleSamples: 2 });
  store.offerPlayback(playing());
  sync.step(obs(105_000, 14)); // seek
  sync.step(obs(105_100, 0, { seeking: true }));
  sync.step(obs(105_200, positionAt(sync.state, 105_200) - 0.04));
  sync.step(obs(105_300, positionAt(sync.state, 105_300) - 0.04)); // landed 40 ms behind
  assert.ok(Math.abs(sync.seekLatencyMs - 100) < 1e-6, `learned ${sync.seekLatencyMs}`);
});

test("while seeking or buffering no correction is attempted", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing());
  const seeking = sync.step(obs(105_000, 3, { seeking: true }));
  assert.equal(seeking.seekTo, null);
  assert.equal(seeking.drift, null);
  const stalled = sync.step(obs(105_000, 3, { ready: false }));
  assert.equal(stalled.seekTo, null);
  assert.equal(stalled.rate, 1);
});

test("pause snaps everyone to exactly the paused position", () => {
  const { store, sync } = setup();
  store.offerPlayback(paused({ currentTime: 42.5 }));
  const out = sync.step(obs(200_000, 42.513));
  assert.equal(out.play, false);
  assert.equal(out.seekTo, 42.5);
  assert.equal(sync.step(obs(200_100, 42.5, { paused: true })).seekTo, null);
});

test("a paused element already on the paused frame is left alone", () => {
  const { store, sync } = setup();
  store.offerPlayback(paused({ currentTime: 7 }));
  const out = sync.step(obs(200_000, 7.0005, { paused: true }));
  assert.equal(out.seekTo, null);
});

test("a late joiner far behind parks: it seeks while paused, ahead by the seek, the start latency and a margin", () => {
  const { store, sync } = setup({ initialSeekLatencyMs: 100, coldParkSeekMs: 150, coldPlayLatencyMs: 40, parkMarginMs: 30 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const out = sync.step(obs(112_000, 0, { paused: true }));
  assert.equal(out.play, false, "no play() while the seek runs");
  assert.ok(Math.abs(out.seekTo - 12.22) < 1e-9, `seekTo ${out.seekTo}`);
  assert.equal(sync.step(obs(112_050, 12.22, { paused: true, seeking: true })).play, false);
});

test("a parked joiner plays when the target is one start latency short of its frame", () => {
  const { store, sync } = setup({ coldParkSeekMs: 150, coldPlayLatencyMs: 40, parkMarginMs: 30 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const parkedAt = sync.step(obs(112_000, 0, { paused: true })).seekTo; // 12.22
  // the seek took 60 ms: the frame is 160 ms ahead of the target, so play() is due in 120 ms
  const held = sync.step(obs(112_060, parkedAt, { paused: true }));
  assert.equal(held.play, false);
  assert.equal(held.seekTo, null);
  assert.ok(Math.abs(held.wakeInMs - 120) < 1e-6, `wake in ${held.wakeInMs}`);
  const due = sync.step(obs(112_180, parkedAt, { paused: true }));
  assert.equal(due.play, true);
  assert.equal(due.seekTo, null);
});

test("a parked start at 2x waits half as long in wall time", () => {
  const { store, sync } = setup({ coldParkSeekMs: 150, coldPlayLatencyMs: 40, parkMarginMs: 30 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000, playbackRate: 2 }));
  const parkedAt = sync.step(obs(112_000, 0, { paused: true })).seekTo;
  assert.ok(Math.abs(parkedAt - (24 + 0.44)) < 1e-9, `seekTo ${parkedAt}`);
  // 40 ms later the target is at 24.08: the frame is 360 media-ms ahead, 80 of them the 40 ms start
  // latency at 2x; the other 280 pass in 140 ms
  const held = sync.step(obs(112_040, parkedAt, { paused: true }));
  assert.equal(held.seekTo, null, "the parked frame is not a miss");
  assert.ok(Math.abs(held.wakeInMs - 140) < 1e-6, `wake in ${held.wakeInMs}`);
});

test("a parked seek that lands a little behind plays at once", () => {
  const { store, sync } = setup({ coldParkSeekMs: 150, coldPlayLatencyMs: 40, parkMarginMs: 30, reparkLateMs: 30 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const parkedAt = sync.step(obs(112_000, 0, { paused: true })).seekTo; // 220 ms ahead
  const late = sync.step(obs(112_205, parkedAt, { paused: true })); // the seek took 205 ms: 25 ms late
  assert.equal(late.play, true);
  assert.equal(late.seekTo, null);
});

test("a parked seek that lands far behind parks again, ahead by as long as it took", () => {
  const { store, sync } = setup({ coldParkSeekMs: 50, coldPlayLatencyMs: 40, parkMarginMs: 20, reparkLateMs: 30 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const parkedAt = sync.step(obs(112_000, 0, { paused: true })).seekTo; // 110 ms ahead
  const again = sync.step(obs(112_200, parkedAt, { paused: true })); // the seek took 200 ms
  assert.equal(again.play, false);
  assert.ok(Math.abs(again.seekTo - (12.2 + 0.26)) < 1e-9, `seekTo ${again.seekTo}`);
  // that one lands behind too: no third park, it starts
  const third = sync.step(obs(112_700, again.seekTo, { paused: true }));
  assert.equal(third.play, true);
  assert.equal(third.seekTo, null);
});

test("a start that cannot hold its parked frame seeks and plays in one step after two parks", () => {
  const { store, sync } = setup({ coldParkSeekMs: 150, coldPlayLatencyMs: 40, parkMarginMs: 30, maxParks: 2 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  assert.equal(sync.step(obs(112_000, 0, { paused: true })).play, false);
  assert.equal(sync.step(obs(113_000, 0, { paused: true })).play, false); // parked again: still far
  const third = sync.step(obs(114_000, 0, { paused: true }));
  assert.equal(third.play, true);
  assert.ok(Math.abs(third.seekTo - 14.12) < 1e-9, `seekTo ${third.seekTo}`);
});

test("a cold start's landing is measured for the re-seek but teaches no play latency", () => {
  const { store, sync } = setup({ initialPlayLatencyMs: 20, coldPlayLatencyMs: 40, settleSamples: 2, retrySeekMs: 150 });
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const parkedAt = sync.step(obs(112_000, 0, { paused: true })).seekTo;
  const wake = sync.step(obs(112_050, parkedAt, { paused: true })).wakeInMs;
  const at = 112_050 + wake;
  assert.equal(sync.step(obs(at, parkedAt, { paused: true })).play, true);
  const off = (now, d) => obs(now, positionAt(sync.state, now) + d);
  sync.step(off(at + 50, -0.03));
  sync.step(off(at + 100, -0.03));
  assert.equal(sync.playLatencyMs, 20);
});

test("a scheduled start from the paused frame plays at once, no park", () => {
  const { store, sync } = setup({ initialPlayLatencyMs: 20 });
  store.offerPlayback(playing());
  sync.step(obs(99_000, 10, { paused: true }));
  const out = sync.step(obs(99_980, 10, { paused: true }));
  assert.equal(out.play, true);
  assert.equal(out.seekTo, null);
  assert.equal(out.wakeInMs, null);
});

test("a scheduled start between two ticks asks to be stepped at its instant", () => {
  // each viewer stepping at its own next tick would start 0–50 ms late, a different amount each
  const { store, sync } = setup({ initialPlayLatencyMs: 20 });
  store.offerPlayback(playing({ currentTime: 10, timestamp: 100_000 }));
  const early = sync.step(obs(99_950, 10, { paused: true }));
  assert.equal(early.play, false);
  assert.equal(early.wakeInMs, 30); // play() is due at 99_980: the instant less the start latency
  assert.equal(sync.step(obs(99_980, 10, { paused: true })).play, true);
  store.offerPlayback(playing({ currentTime: 10, paused: true, version: 9 }));
  assert.equal(sync.step(obs(99_990, 10, { paused: true })).wakeInMs, null, "paused: nothing is due");
});

test("a warm start's landing moves the play latency a quarter of the way", () => {
  const { store, sync } = setup({ initialPlayLatencyMs: 20, settleSamples: 2 });
  sync.warm = true; // an element that has played before: its starts teach the play latency
  store.offerPlayback(playing({ currentTime: 10, timestamp: 100_000 }));
  assert.equal(sync.step(obs(99_980, 10, { paused: true })).play, true);
  sync.step(obs(100_050, 10.03)); // 20 ms behind
  sync.step(obs(100_100, 10.08));
  assert.ok(Math.abs(sync.playLatencyMs - 25) < 1e-6, `learned ${sync.playLatencyMs}`);
});

test("seeks are clamped to the packaged edge of a video still being packaged", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing({ currentTime: 0, timestamp: 100_000 }));
  const out = sync.step(obs(160_000, 0, { paused: true, seekableEnd: 30, duration: NaN }));
  assert.equal(out.seekTo, 29.9);
});

test("the target never runs past the end of the media", () => {
  const { store, sync } = setup();
  store.offerPlayback(playing({ currentTime: 0, timestamp: 0 }));
  const out = sync.step(obs(100_000, 29.96, { duration: 30 }));
  assert.equal(out.play, false);
  assert.ok(out.target <= 30);
});

test("without any state the controller asks for nothing", () => {
  const out = setup().sync.step(obs(0, 0));
  assert.deepEqual(out, { play: false, rate: 1, seekTo: null, drift: null, target: null, wakeInMs: null });
});
