/**
 * The whole DR cycle by one property, through the real dynamic-provider host (examples/failback),
 * under a steady write workload that follows the primary: `role: "primary"` promotes the DR server
 * and the SyncLink runs back to the old master; a verification makes the switch back ready;
 * `role: "replica"` switches back and the link runs forward again. Three planned cycles in a row,
 * then a forced one where the old master committed transactions the DR server never received: they
 * are reported exactly (divergence, errantGtids), the link refuses to run back over them, and
 * `onDivergence: "resync"` repairs the old master so the cycle completes. Every write the workload
 * saw committed is on both servers at the end.
 */
import * as assert from "node:assert/strict";
import * as mysql from "mysql2/promise";
import { DaemonClient } from "../../src/cli/daemon-client";
import { gtidCovers } from "../../src/core/gtid";
import { pickFreePort } from "../../src/sandbox/sandbox";
import { masterPosition, sleep, sql, stopDaemonIn, tableContents, tempStateDir, waitFor } from "../support/daemon-process";
import { type DynamicProviderHost, type Step, type TestEngine, type WireMap, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = "cycle-Pa55";
/** The application's account: no SUPER or READ ONLY ADMIN, so read_only stops it as it stops applications. */
const APP = { user: "app", password: "app-Pa55" };
const APP_ACCOUNT = "CREATE USER 'app'@'%' IDENTIFIED BY 'app-Pa55'; GRANT SELECT, INSERT, UPDATE, DELETE ON orders.* TO 'app'@'%'";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Inserts numbered rows into orders.t on whichever server is the primary; remembers every commit it saw. */
class Workload {
  readonly committed: number[] = [];
  /** Where each commit went (port), for the failure message. */
  readonly log: string[] = [];
  refused = 0;
  private next = 1;
  private conn?: mysql.Connection;
  private running = true;
  /** Each write waits for this; quiet() closes it meanwhile. */
  private gate: Promise<void> = Promise.resolve();
  private inFlight: Promise<void> = Promise.resolve();
  private readonly loop: Promise<void>;

  constructor(private primary: Endpoint) {
    this.loop = this.run();
  }

  /** The application moves to the new primary. */
  async moveTo(primary: Endpoint): Promise<void> {
    this.primary = primary;
    this.conn?.destroy();
    this.conn = undefined;
  }

  /** Runs `check` with no write in flight or started meanwhile. */
  async quiet<T>(check: () => Promise<T>): Promise<T> {
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    await this.inFlight;
    try {
      return await check();
    } finally {
      open();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.conn?.destroy();
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.gate;
      this.inFlight = this.writeOne();
      await this.inFlight;
      await sleep(15);
    }
  }

  private async writeOne(): Promise<void> {
    const id = this.next++;
    try {
      this.conn ??= await mysql.createConnection({ ...this.primary });
      await this.conn.query("INSERT INTO orders.t (id, note) VALUES (?, 'w')", [id]);
      this.committed.push(id);
      this.log.push(`${id}@${this.primary.port}`);
    } catch {
      // Read-only during a switchover, or a server that is down: the application retries.
      this.refused++;
      this.conn?.destroy();
      this.conn = undefined;
    }
  }
}

describeEachBackend("the DR cycle by role, through the dynamic-provider host", (getPair) => {
  let a: TestServer;
  let stateDir: string;
  let host: DynamicProviderHost;
  let engine: TestEngine;
  let drPort: number;
  let client: DaemonClient;

  before(async () => {
    ({ master: a } = getPair());
    await sql(a, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%' WITH GRANT OPTION", [PASSWORD]);
    await sql(a, "CREATE DATABASE orders; CREATE TABLE orders.t (id INT PRIMARY KEY, note VARCHAR(20)); CREATE TABLE orders.totals (k VARCHAR(10), n INT); INSERT INTO orders.totals VALUES ('all', 0)");
    await sql(a, APP_ACCOUNT);
    stateDir = tempStateDir("failback-cycle");
    drPort = await pickFreePort();
    ({ host, engine } = await startHost(programFolder("failback-cycle"), { MYSQL_DR_STATE_DIR: stateDir }));
  });
  after(async () => {
    if (engine?.resources().length) await engine.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  const program = (extra: Record<string, string> = {}) => captureExample("failback", { masterHost: "127.0.0.1", masterPort: String(a.port), masterUser: "dr", drPort: String(drPort), ...extra }, { masterPassword: PASSWORD });
  const outputs = (name: string) => engine.resources().find((r) => r.urn.endsWith(`::${name}`))!.outputs as WireMap;
  const endpointA = (): Endpoint => ({ host: "127.0.0.1", port: a.port, user: "dr", password: PASSWORD });
  const endpointB = (): Endpoint => stripSecrets(outputs("orders-dr").connection) as unknown as Endpoint;
  const appOn = (e: Endpoint): Endpoint => ({ ...e, ...APP });
  const asServer = (e: Endpoint): TestServer => ({ ...a, host: e.host, port: e.port, user: e.user, password: e.password, url: `mysql://${encodeURIComponent(e.user)}:${encodeURIComponent(e.password)}@${e.host}:${e.port}` });
  async function direction(want: "forward" | "reverse"): Promise<void> {
    let last = "";
    await waitFor(`the link to run ${want}`, async () => {
      const s = await client.getLink("orders-sync");
      last = `${s.direction} ${s.state} ${s.phase}: ${s.lastError}`;
      return s.direction === want && s.state === "running" && s.phase === "syncing";
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message} (the link: ${last})`);
    });
  }
  async function caughtUp(primary: TestServer): Promise<void> {
    const position = await masterPosition(primary);
    await waitFor("the link to apply the primary's position", async () => {
      const s = await client.getLink("orders-sync");
      return s.appliedGtid !== null && gtidCovers(primary.flavor, s.appliedGtid, position);
    }, 90_000);
  }
  async function identical(workload: Workload): Promise<void> {
    await workload.quiet(async () => {
      await caughtUp(a);
      await compare(workload);
    });
  }
  async function compare(workload: Workload): Promise<void> {
    const b = asServer(endpointB());
    const onA = await tableContents(a, "orders", "t");
    assert.deepEqual(await tableContents(b, "orders", "t"), onA, `A and B hold the same rows (commits: ${workload.log.join(" ")})`);
    const ids = new Set(onA.map((r) => (JSON.parse(r) as { id: number }).id));
    const lost = workload.committed.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], `every write the application saw committed is there (of ${workload.committed.length}; A has ${onA.length} rows: ${[...ids].sort((x, y) => x - y).join(",")})`);
  }

  it("three planned cycles, then a forced one with divergence refused and resynced: identical, nothing lost", async function () {
    this.timeout(600_000);
    assert.deepEqual(ops(await engine.up(await program())), { "orders-dr": "create", "orders-sync": "create" });
    client = new DaemonClient({ stateDir });
    await direction("forward");
    // The link selects one database, so accounts are not copied: the application's is created on B
    // too, outside the binlog (else it would be an errant transaction the promotion guardrail refuses).
    await sql(asServer(endpointB()), `SET SESSION sql_log_bin = 0; ${APP_ACCOUNT}`);
    const workload = new Workload(appOn(endpointA()));
    try {
      for (let cycle = 1; cycle <= 3; cycle++) {
        const promote = await program({ role: "primary" });
        assert.deepEqual(ops(await engine.preview(promote)), { "orders-dr": "update", "orders-sync": "same" }, `cycle ${cycle}: preview of the promotion`);
        assert.deepEqual(ops(await engine.up(promote)), { "orders-dr": "update", "orders-sync": "same" });
        await workload.moveTo(appOn(endpointB()));
        await direction("reverse");
        await engine.refresh();
        assert.equal(outputs("orders-sync").direction, "reverse");
        assert.ok(["reverse-syncing", "ready-to-switch-back"].includes(String(outputs("orders-dr").cyclePhase)), String(outputs("orders-dr").cyclePhase));
        assert.deepEqual((outputs("orders-dr").divergence as { gtids: string[] }).gtids, [], "a planned promotion leaves nothing behind");
        await caughtUp(asServer(endpointB()));
        await engine.refresh();
        assert.equal(outputs("orders-dr").failbackReady, false, "not ready before a verification at a barrier");
        const verified = await client.verifyLink("orders-sync", { atBarrier: true });
        assert.equal(verified.identical, true);
        await engine.refresh();
        assert.equal(outputs("orders-dr").failbackReady, true, JSON.stringify(outputs("orders-dr").promotionBlockers));
        assert.equal(outputs("orders-dr").cyclePhase, "ready-to-switch-back");

        const back = await program();
        assert.deepEqual(ops(await engine.preview(back)), { "orders-dr": "update", "orders-sync": "same" }, `cycle ${cycle}: preview of the switch back`);
        assert.deepEqual(ops(await engine.up(back)), { "orders-dr": "update", "orders-sync": "same" });
        const rtoMs = (outputs("orders-dr").lastSwitchBack as { rtoMs: number }).rtoMs;
        console.log(`      cycle ${cycle}: switch back RTO ${rtoMs} ms, ${workload.committed.length} writes committed, ${workload.refused} refused so far`);
        await workload.moveTo(appOn(endpointA()));
        await direction("forward");
        await sleep(300);
        await caughtUp(a);
        await identical(workload);
      }

      // Forced: the link is paused, the master commits alone, then goes away.
      // The application is gone with the master's region (its writes fail from now on).
      await workload.quiet(() => workload.moveTo({ ...appOn(endpointA()), port: 1 }));
      await caughtUp(a);
      await client.pauseLink("orders-sync");
      const before = await masterPosition(a);
      await sql(a, "UPDATE orders.totals SET n = n + 1; INSERT INTO orders.t VALUES (-1, 'only on A')");
      const down = a.restart!(20_000);
      await waitFor("the master to be down", async () => (await sql(a, "SELECT 1").then(() => false, () => true)) || undefined, 30_000);
      const forced = await program({ role: "primary", allowDataLoss: "true" });
      assert.equal(ops(await engine.up(forced))["orders-dr"], "update");
      assert.ok(outputs("orders-dr").dataLoss, "a forced promotion reports what may be lost");
      await workload.moveTo(appOn(endpointB()));
      await client.resumeLink("orders-sync");
      await down;
      const refused = await waitFor("the divergence to be found", async () => {
        const s = await client.getLink("orders-sync");
        return s.state === "promoted" && s.divergence && s.divergence.gtids.length ? s : undefined;
      }, 90_000);
      const after = await masterPosition(a);
      assert.equal(refused.divergence!.gtids.length, 2, JSON.stringify(refused.divergence));
      assert.deepEqual(refused.divergence!.tables, { "orders.totals": 1, "orders.t": 1 });
      assert.ok(!before.includes(refused.divergence!.gtids[1]) && after.includes(refused.divergence!.gtids[1]), `${refused.divergence!.gtids} after ${before}, up to ${after}`);
      await engine.refresh();
      assert.equal(outputs("orders-dr").cyclePhase, "promoted");
      assert.deepEqual(outputs("orders-dr").errantGtids, refused.divergence!.gtids);
      assert.deepEqual((outputs("orders-dr").divergence as { tables: Record<string, number> }).tables, { "orders.totals": 1, "orders.t": 1 });
      assert.ok((await tableContents(a, "orders", "t")).some((r) => r.includes("only on A")), "nothing on A was overwritten");

      const resync = await program({ role: "primary", allowDataLoss: "true", onDivergence: "resync" });
      const plan = ops(await engine.up(resync));
      assert.equal(plan["orders-sync"], "update", "the failback setting reaches the link in place");
      await direction("reverse");
      await caughtUp(asServer(endpointB()));
      assert.equal((await client.verifyLink("orders-sync", { atBarrier: true })).identical, true);
      assert.ok(!(await tableContents(a, "orders", "t")).some((r) => r.includes("only on A")), "resync replaced A's version");
      assert.deepEqual(ops(await engine.up(await program({ onDivergence: "resync" })))["orders-dr"], "update");
      await workload.moveTo(appOn(endpointA()));
      await direction("forward");
      await sleep(300);
      await caughtUp(a);
      await identical(workload);
    } finally {
      await workload.stop();
    }
    await caughtUp(a);
    await compare(workload);
    assert.ok(workload.committed.length > 100, `the workload kept writing (${workload.committed.length})`);
  });
});
