/**
 * Promotion guardrails through the real dynamic-provider host, every one of them: each case makes
 * its guardrail fail on real servers, then the preview of `role: primary` (examples/failover) fails
 * on `role` with that guardrail's sentence alone, `up` refuses with the same sentence and nothing
 * is promoted; then the blocker is removed and the preview plans the promotion (payments-dr
 * update, payments-sync same). One stack and one daemon serve all cases, in order; each leaves
 * every guardrail passing, except the last (an errant transaction cannot be taken back), so no
 * case here ends in a promotion (`up` promoting is covered in provider.test.ts).
 * The guardrails' verdicts in detail are covered in promote/guardrails.test.ts. A drill recorded
 * with `mysql-dr drill --record` shows as the DrInstance's lastDrill on refresh, and leaves it
 * promotable.
 */
import * as assert from "node:assert/strict";
import type * as mysql from "mysql2/promise";
import { DaemonClient } from "../../src/cli/daemon-client";
import { pickFreePort } from "../../src/sandbox/sandbox";
import type { DrillReport } from "../../src/drill/drill";
import { connect, runCli, sleep, sql, stopDaemonIn, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { CheckFailedError, type DynamicProviderHost, type Step, type TestEngine, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = "guard-Pa55";
const LINK = "payments-sync";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));
/** A sentence with its measured figures (seconds, counts, connection ids) blanked: preview and up measure at different instants. */
const figuresOut = (s: string) => s.replace(/\d+(?:\.\d+)?/g, "#");
const PROMOTION_PLANNED = { "payments-dr": "update", "payments-sync": "same" };

describeEachBackend("promotion guardrails in preview and up", (getPair) => {
  let master: TestServer;
  /** The local DR server, as root (its generated password from the DrInstance's outputs). */
  let dr: TestServer;
  let stateDir: string;
  let host: DynamicProviderHost;
  let engine: TestEngine;
  let drPort: number;
  /** Settings the stack was last brought up with (each case's extra settings go on top). */
  const settings: Record<string, string> = {};
  let broken = false;

  const capture = (extra: Record<string, string> = {}) =>
    captureExample("failover", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drPort: String(drPort), ...settings, ...extra }, { masterPassword: PASSWORD });
  const drOutputs = () => engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs;
  const daemon = () => new DaemonClient({ stateDir });
  const readOnly = async (server: TestServer) => Number((await sql(server, "SELECT @@GLOBAL.read_only AS ro"))[0].ro);

  /**
   * The preview of the promotion fails on `role` with exactly one reason, `up` refuses with the
   * same sentence, and nothing was promoted. Returns the sentence.
   */
  async function promotionRefused(extra: Record<string, string> = {}): Promise<string> {
    const masterReadOnly = await readOnly(master);
    const promote = await capture({ role: "primary", ...extra });
    const previewed = await engine.preview(promote).then(() => undefined, (e: unknown) => e);
    assert.ok(previewed instanceof CheckFailedError, `the preview should fail: ${String(previewed)}`);
    assert.deepEqual(previewed.failures.map((f) => f.property), ["role"], JSON.stringify(previewed.failures));
    const sentence = previewed.failures[0].reason;
    console.log(`      preview check failure on ${previewed.failures[0].property}: ${sentence}`);
    await assert.rejects(engine.up(promote), (err: unknown) => {
      assert.ok(err instanceof CheckFailedError, String(err));
      assert.deepEqual(err.failures.map((f) => [f.property, figuresOut(f.reason)]), [["role", figuresOut(sentence)]]);
      return true;
    });
    assert.equal(drOutputs().role, "replica", "nothing was promoted");
    assert.equal(await readOnly(dr), 1, "the DR server is still read-only");
    assert.equal(await readOnly(master), masterReadOnly, "the master was not touched");
    return sentence;
  }

  async function promotionPlanned(extra: Record<string, string> = {}): Promise<void> {
    assert.deepEqual(ops(await engine.preview(await capture({ role: "primary", ...extra }))), PROMOTION_PLANNED);
  }

  /** Refresh, then the DrInstance's blockers as `pulumi refresh` shows them. */
  async function refreshedBlockers(): Promise<string[]> {
    await engine.refresh();
    return drOutputs().promotionBlockers as string[];
  }

  before(async function () {
    this.timeout(300_000);
    ({ master } = getPair());
    await sql(master, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%'", [PASSWORD]);
    await sql(master, "CREATE DATABASE payments; CREATE TABLE payments.t (id INT PRIMARY KEY); INSERT INTO payments.t VALUES (1)");
    stateDir = tempStateDir("guard-preview");
    drPort = await pickFreePort();
    ({ host, engine } = await startHost(programFolder("guard-preview"), { MYSQL_DR_STATE_DIR: stateDir }));
    assert.deepEqual(ops(await engine.up(await capture())), { "payments-dr": "create", "payments-sync": "create" });
    const { user, password } = stripSecrets(drOutputs().connection) as { user: string; password: string };
    dr = { ...master, port: drPort, user, password, url: `mysql://${user}@127.0.0.1:${drPort}` };
    await waitFor("payments in sync", async () => {
      const s = await daemon().getLink(LINK);
      return s.phase === "syncing" && s.state === "running";
    }, 120_000);
    await waitCaughtUp(daemon(), LINK, master);
    assert.deepEqual(await refreshedBlockers(), []);
    assert.equal(drOutputs().promotionReady, true);
    assert.equal(drOutputs().unappliedTransactions, 0);
  });
  after(async () => {
    if (engine?.resources().length) await engine.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    if (stateDir) await stopDaemonIn(stateDir);
  });
  // The cases share the stack in order: after a failure the state is not what the next one expects.
  beforeEach(function () {
    if (broken) this.skip();
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") broken = true;
  });

  it("link running: a paused link blocks (preview names it, up refuses); resumed, the promotion is planned", async function () {
    this.timeout(120_000);
    await daemon().pauseLink(LINK);
    const expected = `Link ${LINK} is not running (no applier holds its lock on the DR server); resume it (mysql-dr link resume) and let it catch up before promoting.`;
    // Refresh shows the blocker the preview will name, once the paused applier's session has closed.
    await waitFor("the paused link to show as not running", async () => (await refreshedBlockers()).includes(expected));
    assert.equal(await promotionRefused(), expected);
    await daemon().resumeLink(LINK);
    await waitFor("the link running again", async () => (await daemon().getLink(LINK)).state === "running");
    await waitCaughtUp(daemon(), LINK, master);
    // The refresh above recorded the link as paused (drift); this one reads it running again.
    await engine.refresh();
    await promotionPlanned();
  });

  it("lag: an applier held up on the DR server while the master writes blocks above maxLagSeconds; caught up, the promotion is planned", async function () {
    this.timeout(120_000);
    const maxLag = { maxLagSeconds: "2" };
    // A table lock on the DR server holds the applier (the link still runs: it keeps its lock)
    // while the master goes on: the DR copy falls behind as it would under a slow disk.
    const holder = await connect(dr);
    try {
      await holder.query("LOCK TABLES payments.t READ");
      await sql(master, "INSERT INTO payments.t (id) VALUES (10)");
      await waitFor("the applier to wait for the DR table", async () => Number((await sql(dr, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table%lock'"))[0].n) === 1);
      // Lag is measured from the newest change applied, which is older than the insert: after
      // this it is above 2 s whatever the timing.
      await sleep(2500);
      const sentence = await promotionRefused(maxLag);
      const m = /^Lag is (\d+\.\d{3}) s \((\d+) master transactions not applied\), above promotion\.maxLagSeconds \(2\); let the link catch up, or raise promotion\.maxLagSeconds\.$/.exec(sentence);
      assert.ok(m, sentence);
      assert.ok(Number(m[1]) > 2 && Number(m[2]) >= 1, sentence);
      await holder.query("UNLOCK TABLES");
    } finally {
      holder.destroy();
    }
    await waitCaughtUp(daemon(), LINK, master);
    await promotionPlanned(maxLag);
  });

  it("DDL in flight: an ALTER running on the master, then the same ALTER being applied on the DR server, block; done, the promotion is planned", async function () {
    this.timeout(120_000);
    // An open read on the master holds the table's metadata lock: the ALTER waits, running.
    const reader = await connect(master);
    const alter = await connect(master);
    const drHolder = await connect(dr);
    let altering: Promise<unknown> | undefined;
    try {
      await reader.query("START TRANSACTION");
      await reader.query("SELECT * FROM payments.t");
      altering = alter.query("ALTER TABLE payments.t ADD COLUMN note INT NULL");
      await waitFor("the ALTER to wait on the master", async () => Number((await sql(master, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ? AND STATE LIKE 'Waiting for table metadata lock'", [alter.threadId]))[0].n) === 1);
      assert.equal(await promotionRefused(), `DDL is in flight (running on the master: connection ${alter.threadId}: ALTER TABLE); wait until it finishes before promoting.`);

      // The DR side: the applier marks the DDL in flight on the DR server, then waits for a lock held there.
      await drHolder.query("LOCK TABLES payments.t READ");
      await reader.query("COMMIT");
      await altering;
      const ddlGtid = await waitFor("the DDL marked in flight on the DR server", async () => {
        const g = (await sql(dr, "SELECT pending_ddl_gtid AS g FROM mysql_dr.checkpoint WHERE link = ?", [LINK]))[0].g;
        return g === null ? undefined : String(g);
      });
      if (master.flavor === "mariadb") assert.equal(ddlGtid, String(((await alter.query("SELECT @@last_gtid AS g")) as [mysql.RowDataPacket[], unknown])[0][0].g), "the ALTER's own GTID");
      // The held-up applier lets the lag grow too: the lag guardrail is set aside here so that
      // the preview names this guardrail alone.
      assert.equal(await promotionRefused({ maxLagSeconds: "3600" }), `DDL is in flight (being applied on the DR server: GTID ${ddlGtid}); wait until it finishes before promoting.`);
      await drHolder.query("UNLOCK TABLES");
    } finally {
      await reader.query("ROLLBACK").catch(() => undefined);
      await altering?.catch(() => undefined);
      for (const c of [reader, alter, drHolder]) c.destroy();
    }
    await waitCaughtUp(daemon(), LINK, master);
    assert.equal(Number((await sql(dr, "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'payments' AND TABLE_NAME = 't' AND COLUMN_NAME = 'note'"))[0].n), 1, "the ALTER reached the DR copy");
    await promotionPlanned();
  });

  it("verification: required and never run, or the last one finding a difference, blocks; repaired (identical on its recheck), the promotion is planned", async function () {
    this.timeout(180_000);
    settings.requireVerifiedWithinMinutes = "60";
    assert.deepEqual(ops(await engine.up(await capture())), { "payments-dr": "update", "payments-sync": "same" });
    const never = "No verification was recorded for this link, and promotion.requireVerifiedWithinMinutes is 60; run mysql-dr verify --link NAME, or raise the setting.";
    assert.deepEqual(await refreshedBlockers(), [never]);
    assert.equal(await promotionRefused(), never);

    const verify = (...more: string[]) => {
      const r = runCli(["verify", "--link", LINK, "--json", ...more], { MYSQL_DR_STATE_DIR: stateDir });
      return { code: r.code, report: JSON.parse(r.stdout || "{}") as { identical?: boolean; tables?: { rowsRepaired: number }[] }, stderr: r.stderr };
    };
    // A row only the DR copy has, written unlogged: a difference, and no errant transaction.
    await sql(dr, "SET SESSION sql_log_bin = 0; INSERT INTO payments.t (id) VALUES (900)");
    const different = verify();
    assert.equal(different.code, 1, different.stderr);
    assert.match(await promotionRefused(), /^The last verification \(\S+\) found 1 difference \(different\), and promotion\.requireVerifiedWithinMinutes is 60; /);
    // The repair rewrites the row from the master and compares again: identical, recorded as "repaired".
    const repaired = verify("--repair");
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.equal(repaired.report.identical, true);
    assert.equal(repaired.report.tables?.[0]?.rowsRepaired, 1);
    // The repair's writes on the DR server are the link's, not errant transactions.
    assert.deepEqual(await refreshedBlockers(), []);
    assert.equal((drOutputs().lastVerification as { result: string }).result, "repaired");
    await promotionPlanned();
  });

  it("open write transaction: one open on the master longer than maxOpenTransactionSeconds blocks; ended, the promotion is planned", async function () {
    this.timeout(120_000);
    settings.maxOpenTransactionSeconds = "1";
    assert.deepEqual(ops(await engine.up(await capture())), { "payments-dr": "update", "payments-sync": "same" });
    const session = await connect(master);
    try {
      await session.query("BEGIN");
      await session.query("INSERT INTO payments.t (id) VALUES (2)");
      await sleep(2200);
      const blockers = await refreshedBlockers();
      assert.equal(blockers.length, 1, JSON.stringify(blockers));
      assert.match(blockers[0], /^1 write transaction has been open on the master longer than promotion\.maxOpenTransactionSeconds \(1\)/);
      const sentence = await promotionRefused();
      assert.match(sentence, new RegExp(`^1 write transaction has been open on the master longer than promotion\\.maxOpenTransactionSeconds \\(1\\): the oldest for \\d+ s \\(connection ${session.threadId}\\)`));
      await session.query("ROLLBACK");
    } finally {
      session.destroy();
    }
    // InnoDB refreshes its transaction list for information_schema at most every 100 ms.
    await waitFor("the ended transaction gone from the refresh", async () => (await refreshedBlockers()).length === 0);
    await promotionPlanned();
  });

  it("a drill recorded with `mysql-dr drill --record` shows as lastDrill on refresh, and leaves the instance promotable", async function () {
    this.timeout(120_000);
    assert.equal(drOutputs().lastDrill, undefined, "no drill recorded yet");
    // Its record is the link's own write on the DR server, so readiness holds.
    const drilled = runCli(["drill", "--link", LINK, "--record", "--json", "--state-dir", stateDir]);
    assert.equal(drilled.code, 0, drilled.stderr);
    const kept = (await daemon().getLink(LINK)).lastDrill;
    assert.equal(kept?.gtid, (JSON.parse(drilled.stdout) as DrillReport).gtid);
    assert.deepEqual(await refreshedBlockers(), []);
    assert.deepEqual(drOutputs().lastDrill, kept);
    await promotionPlanned();
  });

  it("errant transactions: none while only the link writes (promotion planned); a write on the DR server itself then blocks, for good", async function () {
    this.timeout(120_000);
    await engine.refresh();
    if (drOutputs().flavor !== "mariadb") {
      // MySQL has no per-session GTID source: errant transactions are reported unknown, never none.
      assert.equal(drOutputs().errantGtids, undefined);
      this.skip();
    }
    assert.deepEqual(drOutputs().errantGtids, []);
    assert.deepEqual(drOutputs().promotionBlockers, []);
    await promotionPlanned();

    // An operator's write on the DR server (root may write while it is read-only), binlogged as the DR server's own.
    const operator = await connect(dr);
    let errant: string;
    try {
      await operator.query("INSERT INTO payments.t (id) VALUES (901)");
      errant = String(((await operator.query("SELECT @@last_gtid AS g")) as [mysql.RowDataPacket[], unknown])[0][0].g);
    } finally {
      operator.destroy();
    }
    const expected = `The DR server has transactions that did not come from the master (newest per domain and server: ${errant}); they stay recorded even when undone, so re-create the DR server from the master before promoting.`;
    assert.deepEqual(await refreshedBlockers(), [expected]);
    assert.deepEqual(drOutputs().errantGtids, [errant]);
    assert.equal(await promotionRefused(), expected);
    // Undoing the row (unlogged, so as to add nothing) leaves its GTID in the DR server's binlog state: still refused.
    await sql(dr, "SET SESSION sql_log_bin = 0; DELETE FROM payments.t WHERE id = 901");
    assert.equal(await promotionRefused(), expected);
  });
});
