/**
 * Verification at a GTID barrier against real servers, under a steady write workload on the master
 * (keyed, composite-key and keyless tables, plus transactions on a table the link does not select):
 * ten verifications in a row report no difference, each at its own barrier with a proof; rows
 * changed, removed and added by hand on the DR server are found exactly (tables, kinds, keys,
 * counts); repair rewrites them at a barrier and a new barrier finds none; a paused link, and a
 * link that cannot reach a transaction boundary in time, are refused with one sentence.
 */
import * as assert from "node:assert/strict";
import type * as mysql from "mysql2/promise";
import type { DaemonClient } from "../../src/cli/daemon-client";
import type { BarrierReport } from "../../src/verify/barrier-verifier";
import { DaemonProcess, connect, runCli, sleep, sql, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const LINK = "barrier";
/** Rows the workload never touches (planted differences live there): accounts above HOT_ACCOUNTS, region 'cold', kind 'cold'. */
const HOT_ACCOUNTS = 10_000;
const ACCOUNTS = 20_000;

describeEachBackend("verify at a GTID barrier", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let workload: Workload;

  before(async function () {
    this.timeout(180_000);
    ({ master, replica } = getPair());
    await sql(master, `CREATE DATABASE b; CREATE DATABASE unselected;
      CREATE TABLE b.accounts (id INT PRIMARY KEY, balance DECIMAL(20,2) NOT NULL, note VARCHAR(40), updated DATETIME(6));
      CREATE TABLE b.lines (region VARCHAR(8) NOT NULL, order_id INT NOT NULL, line INT NOT NULL, qty INT, PRIMARY KEY (region, order_id, line));
      CREATE TABLE b.events (kind VARCHAR(10), payload VARCHAR(20));
      CREATE TABLE unselected.t (id INT PRIMARY KEY AUTO_INCREMENT, v INT)`);
    const conn = await connect(master);
    try {
      for (let start = 1; start <= ACCOUNTS; start += 5_000) {
        await conn.query(`INSERT INTO b.accounts VALUES ${Array.from({ length: 5_000 }, (_, k) => `(${start + k}, ${(start + k) * 3}.25, 'n${start + k}', '2024-01-02 03:04:05.${String(k).padStart(6, "0")}')`).join(", ")}`);
      }
      await conn.query(`INSERT INTO b.lines VALUES ${Array.from({ length: 3_000 }, (_, k) => `('${k % 2 ? "cold" : "warm"}', ${Math.floor(k / 2)}, 1, ${k}), ('${k % 2 ? "cold" : "warm"}', ${Math.floor(k / 2)}, 2, NULL)`).join(", ")}`);
      // Duplicate rows on purpose: a keyless table is compared as a multiset.
      await conn.query(`INSERT INTO b.events VALUES ${Array.from({ length: 2_000 }, (_, k) => `('${k % 2 ? "cold" : "hot"}', 'p${k % 50}')`).join(", ")}`);
    } finally {
      await conn.end();
    }
    daemon = await DaemonProcess.start(tempStateDir("barrier"));
    client = daemon.client();
    await client.createLink({ name: LINK, source: master.url, target: replica.url, include: ["b"], initial: "full" });
    await waitFor("the initial copy to finish", async () => (await client.getLink(LINK)).phase === "syncing", 120_000);
    await waitCaughtUp(client, LINK, master);
    workload = new Workload(await connect(master));
  });
  after(async () => {
    await workload?.stop();
    await daemon?.stop();
  });

  it("reports no difference in 10 verifications in a row under a steady write workload, each at its own barrier with a proof", async function () {
    this.timeout(180_000);
    const gtids = new Set<string>();
    let transactions = workload.committed;
    for (let run = 0; run < 10; run++) {
      const report = await client.verifyLink(LINK, { atBarrier: true });
      const differing = report.tables.filter((t) => t.chunksMismatched > 0).map((t) => ({ table: t.table, missing: t.missingOnDr, extra: t.extraOnDr, different: t.different }));
      assert.equal(report.identical, true, `run ${run} at ${report.proof.gtid}: ${JSON.stringify(differing)}`);
      assert.equal(report.mode, "barrier");
      assert.deepEqual(report.proof.tables.map((t) => t.table), ["b.accounts", "b.events", "b.lines"]);
      assert.ok(report.proof.tables.find((t) => t.table === "b.accounts")!.chunks >= 2, JSON.stringify(report.proof.tables));
      assert.match(report.proof.digest, /^[0-9a-f]{64}$/);
      assert.equal(report.tables.find((t) => t.table === "b.accounts")!.rowsCompared, ACCOUNTS);
      gtids.add(report.proof.gtid);
      // The master took writes between two barriers: each run is under load, at a new position.
      await waitFor("the workload to commit more", async () => workload.committed > transactions, 10_000, 20);
      transactions = workload.committed;
    }
    assert.equal(gtids.size, 10, "every verification was at its own barrier");
    assert.equal(workload.error, undefined);
    const status = await client.getLink(LINK);
    assert.equal(status.lastVerification?.mode, "barrier");
    assert.equal(status.lastVerification?.result, "identical");
    assert.ok((status.lastVerification?.rowsChecked ?? 0) > ACCOUNTS, JSON.stringify(status.lastVerification));
    assert.match(status.lastVerification?.proofDigest ?? "", /^[0-9a-f]{64}$/);
  });

  it("mysql-dr verify --link --at-barrier --json prints the report with its proof, exit 0", () => {
    const r = runCli(["verify", "--link", LINK, "--at-barrier", "--json", "--daemon", daemon.url, "--state-dir", daemon.stateDir]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as BarrierReport;
    assert.equal(report.identical, true);
    assert.match(report.proof.digest, /^[0-9a-f]{64}$/);
    assert.ok(report.proof.gtid.length > 0);
  });

  it("runs two verifications of the link requested at once (their holds take turns), both without difference", async function () {
    this.timeout(60_000);
    const [a, b] = await Promise.all([client.verifyLink(LINK, { atBarrier: true }), client.verifyLink(LINK, { atBarrier: true })]);
    assert.equal(a.identical && b.identical, true, JSON.stringify([a.proof, b.proof]));
  });

  it("finds rows changed, removed and added on the DR server exactly, in keyed, composite-key and keyless tables, while the workload runs", async function () {
    this.timeout(120_000);
    await sql(replica, `UPDATE b.accounts SET balance = balance + 0.01 WHERE id = ${HOT_ACCOUNTS + 17};
      DELETE FROM b.accounts WHERE id = ${HOT_ACCOUNTS + 4242};
      INSERT INTO b.accounts VALUES (900000, 1.00, 'planted', NULL);
      UPDATE b.lines SET qty = -1 WHERE region = 'cold' AND order_id = 11 AND line = 1;
      DELETE FROM b.lines WHERE region = 'cold' AND order_id = 21 AND line = 2;
      INSERT INTO b.lines VALUES ('cold', 99999, 1, 5);
      DELETE FROM b.events WHERE kind = 'cold' AND payload = 'p7' LIMIT 1;
      INSERT INTO b.events VALUES ('cold', 'planted'), ('cold', 'planted')`);
    const report = await client.verifyLink(LINK, { atBarrier: true });
    assert.equal(report.identical, false);
    const byName = new Map(report.tables.map((t) => [t.table, t]));
    const accounts = byName.get("b.accounts")!;
    assert.deepEqual([accounts.different, accounts.missingOnDr, accounts.extraOnDr, accounts.moreDifferences], [[[HOT_ACCOUNTS + 17]], [[HOT_ACCOUNTS + 4242]], [[900000]], 0]);
    const lines = byName.get("b.lines")!;
    assert.deepEqual([lines.different, lines.missingOnDr, lines.extraOnDr, lines.moreDifferences], [[["cold", 11, 1]], [["cold", 21, 2]], [["cold", 99999, 1]], 0]);
    const events = byName.get("b.events")!;
    assert.equal(events.keyless, true);
    assert.deepEqual([events.different, events.missingOnDr, events.extraOnDr, events.moreDifferences], [[], [["cold", "p7"]], [["cold", "planted"], ["cold", "planted"]], 0]);
    const status = await client.getLink(LINK);
    assert.equal(status.lastVerification?.result, "different");
    assert.equal(status.lastVerification?.differences, 9);
    const cli = runCli(["verify", "--link", LINK, "--at-barrier", "--daemon", daemon.url, "--state-dir", daemon.stateDir]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stdout, /DIFFERENT: \d+ rows/);
  });

  it("repairs them at a barrier, and the new barrier it checks at finds none", async function () {
    this.timeout(120_000);
    const report = await client.verifyLink(LINK, { atBarrier: true, repair: true });
    assert.equal(report.identical, true, JSON.stringify(report.tables));
    assert.equal(report.repaired, true);
    const repaired = Object.fromEntries(report.tables.map((t) => [t.table, t.rowsRepaired]));
    assert.deepEqual(repaired, { "b.accounts": 3, "b.events": 3, "b.lines": 3 });
    assert.ok(report.repairGtid && report.repairGtid !== report.proof.gtid, `repaired at ${report.repairGtid}, checked at ${report.proof.gtid}`);
    assert.equal((await client.getLink(LINK)).lastVerification?.result, "repaired");
    const again = await client.verifyLink(LINK, { atBarrier: true });
    assert.equal(again.identical, true, JSON.stringify({ again: again.tables.filter((t) => t.chunksMismatched), at: again.proof.gtid, repairedAt: report.repairGtid, checkedAt: report.proof.gtid }));
    const [row] = await sql(replica, "SELECT COUNT(*) AS n FROM b.events WHERE kind = 'cold' AND payload = 'p7'");
    assert.equal(Number(row.n), 40, "the keyless table's duplicate row is back");
    assert.equal(workload.error, undefined);
    assert.equal((await client.getLink(LINK)).state, "running");
  });

  it("refuses a paused link, and a link that cannot reach a transaction boundary in time, in one sentence", async function () {
    this.timeout(120_000);
    await client.pauseLink(LINK);
    await assert.rejects(client.verifyLink(LINK, { atBarrier: true }), /^DrError: Link barrier is paused, so it cannot apply up to a barrier; resume it/);
    await client.resumeLink(LINK);
    await waitFor("the link to run", async () => (await client.getLink(LINK)).state === "running");
    // A DR session locks a table the workload writes to: the applier waits on it in the middle of a batch.
    const blocker = await connect(replica);
    try {
      await blocker.query("LOCK TABLES b.events WRITE");
      await waitFor("the applier to wait on the table", async () => {
        const [rows] = await blocker.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%mysql-dr applier%' AND STATE LIKE 'Waiting for table metadata lock%'");
        return Number((rows as { n: number }[])[0].n) > 0;
      }, 20_000, 50);
      await assert.rejects(client.verifyLink(LINK, { atBarrier: true, barrierTimeoutSeconds: 1 }), /^DrError: Link barrier's applier did not finish its current batch within 1 s/);
    } finally {
      await blocker.query("UNLOCK TABLES");
      await blocker.end();
    }
    const report = await client.verifyLink(LINK, { atBarrier: true });
    assert.equal(report.identical, true);
    assert.equal(workload.error, undefined);
  });
});

/** Transactions on the master, one after another, until stopped. */
class Workload {
  committed = 0;
  error?: Error;
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(private readonly conn: mysql.Connection) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    try {
      for (let i = 1; !this.stopping; i++) {
        const from = 1 + ((i * 7919) % HOT_ACCOUNTS);
        const to = 1 + ((i * 104729) % HOT_ACCOUNTS);
        // Always 'hot' rows, so hand-planted differences on the DR server (cold rows) never meet the link's changes.
        await this.conn.query(`BEGIN;
          UPDATE b.accounts SET balance = balance - 1, note = 'w${i}', updated = NOW(6) WHERE id = ${from};
          UPDATE b.accounts SET balance = balance + 1 WHERE id = ${to};
          INSERT INTO b.lines VALUES ('hot', ${i}, 1, ${i % 7}), ('hot', ${i}, 2, NULL);
          DELETE FROM b.lines WHERE region = 'hot' AND order_id = ${i - 40};
          INSERT INTO b.events VALUES ('hot', 'w${i % 5}');
          ${i % 2 ? `DELETE FROM b.events WHERE kind = 'hot' AND payload = 'w${(i + 2) % 5}' LIMIT 1;` : ""}
          COMMIT`);
        // Transactions the link filters out: a barrier's GTID includes them.
        if (i % 3 === 0) await this.conn.query("INSERT INTO unselected.t (v) VALUES (1)");
        this.committed++;
        if (i % 50 === 0) await sleep(5);
      }
    } catch (err) {
      this.error = err as Error;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.done;
    await this.conn.end();
  }
}
