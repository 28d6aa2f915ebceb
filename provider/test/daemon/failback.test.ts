/**
 * The DR cycle in the daemon, against real servers: after a promotion the link runs back from the
 * promoted server B to the old master A (made a replica: read-only, its triggers kept, its events
 * disabled on the replica side), and forward again after A is promoted back (the switch back), with
 * nothing lost; after a forced promotion, A's own transactions are found by GTID and table and the
 * link refuses to run back over them until failback.onDivergence is "resync", which re-copies those
 * tables from B and then verifies them at a GTID barrier.
 */
import * as assert from "node:assert/strict";
import { DaemonClient } from "../../src/cli/daemon-client";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, masterPosition, runCli, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const TABLES = ["orders", "notes", "audit"];

describeEachBackend("failback: the link runs back after a promotion and forward after the switch back", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    ({ master: a, replica: b } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("failback"));
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  const readOnly = async (s: TestServer) => Number((await sql(s, "SELECT @@GLOBAL.read_only AS ro"))[0].ro) === 1;
  const triggers = async (s: TestServer) => (await sql(s, "SELECT TRIGGER_NAME AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'")).map((r) => r.t);
  const eventStatus = async (s: TestServer) => (await sql(s, "SELECT STATUS AS s FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop'")).map((r) => r.s);
  async function identical(): Promise<void> {
    for (const t of TABLES) assert.deepEqual(await tableContents(b, "shop", t), await tableContents(a, "shop", t), `shop.${t}`);
  }
  async function running(direction: "forward" | "reverse"): Promise<LinkStatus> {
    return waitFor(`the link to run ${direction}`, async () => {
      const s = await client.getLink("cycle");
      return s.direction === direction && s.state === "running" && s.phase === "syncing" ? s : undefined;
    }, 90_000);
  }
  function promote(args: string[]): void {
    const r = runCli(["promote", ...args, "--json"]);
    assert.equal(r.code, 0, r.stderr);
  }

  it("planned: promote B, write on B, back on A, switch back, write on A: identical each time, triggers and events follow the role", async function () {
    this.timeout(300_000);
    await sql(a, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20));
      CREATE TABLE shop.notes (k1 INT, k2 VARCHAR(10), v INT, PRIMARY KEY (k1, k2)); CREATE TABLE shop.audit (order_id INT, at_ms BIGINT);
      CREATE TRIGGER shop.audit_t AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit VALUES (NEW.id, 1);
      CREATE EVENT shop.tick ON SCHEDULE EVERY 1 HOUR DO SELECT 1;
      INSERT INTO shop.orders (v) VALUES ('a1'), ('a2'); INSERT INTO shop.notes VALUES (1, 'x', 1)`);
    await client.createLink({ name: "cycle", source: a.url, target: b.url, include: ["shop"], initial: "full" });
    await running("forward");
    await waitCaughtUp(client, "cycle", a);

    promote(["--source", a.url, "--target", b.url]);
    const back = await running("reverse");
    assert.equal(back.lastError, null);
    assert.deepEqual(back.divergence?.gtids, [], "a planned promotion leaves nothing behind on A");
    assert.equal(await readOnly(a), true, "A is a replica now");
    assert.deepEqual(await triggers(a), [], "A's trigger is kept, not fired on applied rows");
    assert.deepEqual(await eventStatus(a), ["SLAVESIDE_DISABLED"]);
    assert.deepEqual(await triggers(b), ["audit_t"]);

    await sql(b, "INSERT INTO shop.orders (v) VALUES ('b1'), ('b2'); UPDATE shop.notes SET v = 2; INSERT INTO shop.notes VALUES (2, 'y', 3)");
    await waitCaughtUp(client, "cycle", b);
    await identical();
    assert.equal((await tableContents(a, "shop", "audit")).length, 4, "the trigger fired once per order, on B, and its rows arrived on A");

    // The switch back: A promoted from B, planned.
    promote(["--source", b.url, "--target", a.url]);
    await running("forward");
    assert.equal(await readOnly(b), true);
    assert.equal(await readOnly(a), false);
    assert.deepEqual(await triggers(a), ["audit_t"], "A's trigger is back");
    assert.deepEqual(await triggers(b), [], "B is a replica again");
    assert.deepEqual(await eventStatus(a), ["ENABLED"]);
    await sql(a, "INSERT INTO shop.orders (v) VALUES ('a3'); DELETE FROM shop.notes WHERE k1 = 1");
    await waitCaughtUp(client, "cycle", a);
    await identical();
    assert.deepEqual((await tableContents(a, "shop", "orders")).map((r) => JSON.parse(r).v).sort(), ["a1", "a2", "a3", "b1", "b2"], "nothing lost");
  });

  it("forced: A's own transactions are reported by GTID and table and refused; resync replaces them with B's, and the cycle completes", async function () {
    this.timeout(300_000);
    await client.pauseLink("cycle");
    // Committed on A, never seen by B: the loss of a forced promotion.
    const before = await masterPosition(a);
    await sql(a, "INSERT INTO shop.orders (v) VALUES ('lost1')");
    await sql(a, "UPDATE shop.notes SET v = 99");
    const errant = await masterPosition(a);
    const forcedAt = new Date().toISOString();
    promote(["--target", b.url, "--force"]);
    await sql(b, "INSERT INTO shop.orders (v) VALUES ('b3')");
    await client.resumeLink("cycle");
    const refused = await waitFor("the divergence to be reported", async () => {
      const s = await client.getLink("cycle");
      return s.state === "promoted" && s.divergence && s.divergence.checkedAt > forcedAt ? s : undefined;
    }, 90_000);
    const d = refused.divergence!;
    assert.equal(d.gtids.length, 2, JSON.stringify(d));
    assert.deepEqual(d.tables, { "shop.orders": 1, "shop.notes": 1, "shop.audit": 1 });
    assert.ok(d.gtids.every((g) => !before.split(",").includes(g)) && errant.split(",").some((g) => d.gtids.includes(g)), `${d.gtids} after ${before} up to ${errant}`);
    assert.match(String(refused.lastError), /^Link cycle does not run back to the old master at \S+: it holds 2 transactions the new primary never applied \(.*\), touching .*shop\.orders \(1 row\).*; nothing was overwritten/);
    assert.ok((await tableContents(a, "shop", "orders")).some((r) => r.includes("lost1")), "A's own rows are still there");

    await client.updateLink("cycle", { failback: { onDivergence: "resync" } });
    await running("reverse");
    await waitCaughtUp(client, "cycle", b);
    await identical();
    // The re-copied tables are verified by themselves, at a barrier, once they caught up.
    const verified = await waitFor("the resync to be verified", async () => {
      const v = (await client.getLink("cycle")).lastVerification;
      return v && v.at > forcedAt ? v : undefined;
    }, 60_000);
    assert.deepEqual([verified.mode, verified.result], ["barrier", "identical"]);
    assert.ok(!(await tableContents(a, "shop", "orders")).some((r) => r.includes("lost1")), "resync replaced A's version with B's");

    promote(["--source", b.url, "--target", a.url]);
    await running("forward");
    await sql(a, "INSERT INTO shop.orders (v) VALUES ('a4')");
    await waitCaughtUp(client, "cycle", a);
    await identical();
  });
});
