/**
 * LagTracker: lag is the age of the oldest heartbeat marker written but not yet applied, and 0
 * when nothing is pending. Pure: times are passed in, no clock and no server.
 */
import * as assert from "node:assert/strict";
import { LagTracker } from "../../src/stream/heartbeat";

describe("heartbeat: LagTracker", () => {
  it("reports 0 when nothing was ever written", () => {
    assert.equal(new LagTracker().lagMs(1_000_000), 0);
  });

  it("reports the age of the oldest unapplied marker", () => {
    const t = new LagTracker();
    t.written(1000);
    t.written(1250);
    t.written(1500);
    assert.equal(t.lagMs(4000), 3000);
  });

  it("reports 0 once every marker is applied, however long ago they were written", () => {
    const t = new LagTracker();
    t.written(1000);
    t.written(1250);
    t.applied(1250);
    assert.equal(t.lagMs(999_999), 0);
  });

  it("applied(x) clears the markers up to and including x, and no later ones", () => {
    const t = new LagTracker();
    for (const m of [1000, 1250, 1500, 1750]) t.written(m);
    t.applied(1250);
    assert.equal(t.lagMs(2000), 500); // oldest left: 1500
  });

  it("applied(x) between markers clears those <= x", () => {
    const t = new LagTracker();
    for (const m of [1000, 1250, 1500]) t.written(m);
    t.applied(1300);
    assert.equal(t.lagMs(2000), 500);
  });

  it("applied() of an older marker than the oldest pending changes nothing", () => {
    const t = new LagTracker();
    t.written(1000);
    t.applied(999);
    assert.equal(t.lagMs(1400), 400);
  });

  it("never reports a negative lag when the clock is behind the marker", () => {
    const t = new LagTracker();
    t.written(5000);
    assert.equal(t.lagMs(4000), 0);
  });

  it("reset() forgets every pending marker", () => {
    const t = new LagTracker();
    t.written(1000);
    t.reset();
    assert.equal(t.lagMs(5000), 0);
  });

  it("keeps the right oldest marker after many have been applied (internal compaction)", () => {
    const t = new LagTracker();
    for (let m = 0; m < 10_000; m++) t.written(m);
    t.applied(8000);
    assert.equal(t.lagMs(10_000), 10_000 - 8001);
    t.applied(9999);
    assert.equal(t.lagMs(20_000), 0);
  });
});
