import { test } from "node:test";
import assert from "node:assert/strict";

import { ClockEstimator, sampleFromRoundTrip } from "../js/clock.js";

// A server whose clock is `skew` ms ahead of ours, reached over a path with the given one-way delays.
function roundTrip(sendAt, skew, up, down, serverBusy = 0.2) {
  const t1 = sendAt + up + skew;
  const t2 = t1 + serverBusy;
  return { reply: { t0: sendAt, t1, t2 }, t3: sendAt + up + serverBusy + down };
}

test("a symmetric round trip recovers the exact offset and excludes server time from the rtt", () => {
  const { reply, t3 } = roundTrip(1000, 250, 5, 5, 3);
  const sample = sampleFromRoundTrip(reply, t3);
  assert.equal(sample.offset, 250);
  assert.equal(sample.rtt, 10);
});

test("an asymmetric path errs by half the asymmetry, never more than rtt/2", () => {
  const { reply, t3 } = roundTrip(1000, -40, 30, 10);
  const sample = sampleFromRoundTrip(reply, t3);
  assert.equal(sample.offset, -40 + (30 - 10) / 2);
  assert.ok(Math.abs(sample.offset - -40) <= sample.rtt / 2);
});

test("replies with missing or impossible times are rejected", () => {
  assert.equal(sampleFromRoundTrip({ t0: 1, t1: 2 }, 3), null);
  assert.equal(sampleFromRoundTrip({ t0: 10, t1: 0, t2: 50 }, 12), null); // negative rtt
});

test("the sample with the least round trip wins, whatever its order in the burst", () => {
  const clock = new ClockEstimator();
  const delays = [[40, 45], [2, 2], [15, 60], [9, 3]];
  delays.forEach(([up, down], i) => {
    const { reply, t3 } = roundTrip(1000 + i * 50, 500, up, down);
    clock.addReply(reply, t3);
  });
  assert.equal(clock.best.rtt, 4);
  assert.equal(clock.offset, 500);
  assert.equal(clock.serverNow(2000), 2500);
});

test("before any reply the offset is zero, as the Go frontend assumes", () => {
  const clock = new ClockEstimator();
  assert.equal(clock.synced, false);
  assert.equal(clock.offset, 0);
  assert.equal(clock.rtt, null);
});

test("rtt reports the latest round trip, not the best one", () => {
  const clock = new ClockEstimator();
  clock.addReply(...Object.values(roundTrip(0, 0, 1, 1)));
  clock.addReply(...Object.values(roundTrip(100, 0, 20, 20)));
  assert.ok(Math.abs(clock.rtt - 40) < 1e-9);
  assert.ok(Math.abs(clock.best.rtt - 2) < 1e-9);
});

test("old samples are forgotten, so a changed offset is picked up by the next burst", () => {
  const clock = new ClockEstimator({ keepMs: 60_000 });
  clock.addReply(...Object.values(roundTrip(0, 100, 1, 1))); // excellent but old
  const later = roundTrip(90_000, 130, 10, 10);
  clock.addReply(later.reply, later.t3);
  assert.equal(clock.samples.length, 1);
  assert.equal(clock.offset, 130);
});

test("a burst is due at start and again after the refresh interval", () => {
  const clock = new ClockEstimator({ refreshMs: 30_000 });
  assert.equal(clock.burstDue(0), true);
  clock.burstSent(0);
  assert.equal(clock.burstDue(29_999), false);
  assert.equal(clock.burstDue(30_000), true);
});

test("between bursts a single ping trickles out, so a quiet moment is found after a busy join", () => {
  const clock = new ClockEstimator({ refreshMs: 30_000, trickleMs: 1_000 });
  assert.equal(clock.pingDue(0), false, "the join burst comes first");
  clock.burstSent(0);
  assert.equal(clock.pingDue(999), false);
  assert.equal(clock.pingDue(1_000), true);
  clock.pingSent(1_000);
  assert.equal(clock.pingDue(1_500), false);
  assert.equal(clock.pingDue(30_000), false, "a burst is due instead");
  assert.equal(clock.burstDue(30_000), true);
});

test("restart makes a burst due at once on a new connection", () => {
  const clock = new ClockEstimator();
  clock.burstSent(1_000);
  clock.restart();
  assert.equal(clock.burstDue(1_001), true);
});

test("for a few seconds after connecting the trickle runs faster", () => {
  const clock = new ClockEstimator({ trickleMs: 1_000, warmupMs: 5_000, warmupTrickleMs: 150 });
  clock.restart(0);
  clock.burstSent(0);
  assert.equal(clock.pingDue(150), true);
  clock.pingSent(150);
  assert.equal(clock.pingDue(299), false);
  clock.pingSent(4_900);
  assert.equal(clock.pingDue(5_100), false, "warm-up over: back to one a second");
  assert.equal(clock.pingDue(5_900), true);
});
