/**
 * LagTracker: lag is the age of the oldest heartbeat marker written but not yet applied, and 0
 * when nothing is pending. Pure: times are passed in, no clock and no server.
 *
 * HeartbeatWriters, on a real master: the links of one master login share one writer and one row
 * (a row per link made 32 links write 128 commits a second), every link's tracker gets every
 * marker, and the writer outlives a lost connection.
 */
import * as assert from "node:assert/strict";
import { type ServerAddress, parseServerUrl } from "../../src/core/connection-url";
import { HEARTBEAT_TABLE, HeartbeatWriters, LagTracker, heartbeatKey } from "../../src/stream/heartbeat";
import { sleep, sql, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

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

describeEachBackend("heartbeat: writers shared per master login", (getPair) => {
  const DAEMON = "hb0test00000";
  const OWNER = "host test pid 1";
  let master: TestServer;
  let address: ServerAddress;

  before(async () => {
    ({ master } = getPair());
    address = parseServerUrl(master.url);
    await sql(master, "CREATE USER IF NOT EXISTS 'hb_other'@'%' IDENTIFIED BY 'hb-Pa55:@/'; GRANT ALL PRIVILEGES ON *.* TO 'hb_other'@'%'");
  });

  /** The heartbeat rows of this test's daemon identity: key -> ts_ms. */
  async function rows(): Promise<Map<string, number>> {
    const found = await sql(master, `SELECT link, ts_ms FROM ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} WHERE link LIKE ?`, [`${DAEMON}/%`]);
    return new Map(found.map((r) => [String(r.link), Number(r.ts_ms)]));
  }

  /** Whether markers were written to `tracker` (none is applied here, so every one is pending). */
  function hasMarkers(tracker: LagTracker): boolean {
    return tracker.lagMs(Date.now() + 1) > 0;
  }

  it("gives the links of one login one writer and one row, stamps every link's tracker, and stops with the last release", async () => {
    const writers = new HeartbeatWriters(DAEMON, OWNER);
    const [a, b] = [new LagTracker(), new LagTracker()];
    const leaseA = await writers.acquire(address, a);
    const leaseB = await writers.acquire(address, b);
    assert.equal(leaseA.key, heartbeatKey(DAEMON, address.user));
    assert.equal(leaseB.key, leaseA.key);
    assert.equal(leaseA.source, "heartbeat");
    await sleep(600);
    assert.ok(hasMarkers(a) && hasMarkers(b), "both links' trackers got markers");
    assert.deepEqual([...(await rows()).keys()], [leaseA.key]);

    // The other login on the same master: a writer and a row of its own.
    const other = new LagTracker();
    const leaseOther = await writers.acquire({ ...address, user: "hb_other", password: "hb-Pa55:@/" }, other);
    assert.notEqual(leaseOther.key, leaseA.key);
    assert.deepEqual([...(await rows()).keys()].sort(), [leaseA.key, leaseOther.key].sort());
    await leaseOther.release();

    // One link gone: the writer goes on for the other.
    await leaseA.release();
    const before = (await rows()).get(leaseA.key)!;
    await waitFor("the writer to stamp the row for the link left", async () => (await rows()).get(leaseA.key)! > before, 5_000, 50);
    // The last link gone: the row is no longer stamped.
    await leaseB.release();
    await sleep(300);
    const last = (await rows()).get(leaseA.key)!;
    await sleep(700);
    assert.equal((await rows()).get(leaseA.key), last, "the writer stopped with its last link");
  });

  it("gives links whose sessions differ (here the ssl-mode) writers of their own, so each link's settings hold", async () => {
    const writers = new HeartbeatWriters(DAEMON, OWNER);
    const login = { ...address, user: "hb_other", password: "hb-Pa55:@/" };
    const leases = [await writers.acquire(login, new LagTracker()), await writers.acquire({ ...login, tls: { mode: "DISABLED" } }, new LagTracker())];
    try {
      const sessions = await sql(master, "SELECT id FROM information_schema.PROCESSLIST WHERE user = 'hb_other'");
      assert.equal(sessions.length, 2, "one writer's session per connection setting");
      assert.equal(leases[1].key, leases[0].key, "one user's writers stamp one row");
    } finally {
      for (const lease of leases) await lease.release();
    }
  });

  it("does not share a writer that fell back to event timestamps: a link started after the grant gets the heartbeat", async () => {
    await sql(master, "DROP USER IF EXISTS 'hb_ro'@'%'; CREATE USER 'hb_ro'@'%' IDENTIFIED BY 'ro-Pa55'; GRANT SELECT ON *.* TO 'hb_ro'@'%'");
    const writers = new HeartbeatWriters(DAEMON, OWNER);
    const readOnly = { ...address, user: "hb_ro", password: "ro-Pa55" };
    const before = await writers.acquire(readOnly, new LagTracker());
    assert.equal(before.source, "event-timestamps");
    await sql(master, "GRANT ALL PRIVILEGES ON mysql_dr.* TO 'hb_ro'@'%'");
    const after = await writers.acquire(readOnly, new LagTracker());
    try {
      assert.equal(after.source, "heartbeat");
    } finally {
      await before.release();
      await after.release();
    }
  });

  it("opens another connection when the master ends its own, and goes on stamping", async () => {
    const writers = new HeartbeatWriters(DAEMON, OWNER);
    // A login of its own, so its only session on the master is the writer's.
    const login = { ...address, user: "hb_other", password: "hb-Pa55:@/" };
    const lease = await writers.acquire(login, new LagTracker());
    try {
      const sessions = async () => (await sql(master, "SELECT id FROM information_schema.PROCESSLIST WHERE user = 'hb_other'")).map((r) => Number(r.id));
      const [killed, ...others] = await sessions();
      assert.deepEqual(others, [], "the writer holds one session");
      await sql(master, `KILL ${killed}`);
      const after = Date.now();
      await waitFor("the row to be stamped again after the kill", async () => (await rows()).get(lease.key)! > after + 250, 10_000, 100);
      const now = await sessions();
      assert.equal(now.length, 1);
      assert.notEqual(now[0], killed, "the writer stamps on a new session");
    } finally {
      await lease.release();
    }
  });
});
