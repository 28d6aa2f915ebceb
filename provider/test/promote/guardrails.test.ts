/**
 * Promotion guardrails against real servers and a running link: each one passes on a healthy link
 * and blocks, with its figure and a sentence naming the setting, when its condition is made true.
 * Link status carries the same figures; the last verification survives a daemon restart.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { type GuardrailName, type GuardrailOptions, type GuardrailReport, evaluateGuardrails } from "../../src/promote/guardrails";
import { DaemonProcess, connect, serverAddress, sleep, sql, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("promotion guardrails", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("guardrails"));
    client = daemon.client();
    await sql(master, "CREATE DATABASE guard; CREATE TABLE guard.t (id INT PRIMARY KEY); INSERT INTO guard.t VALUES (1), (2)");
    await client.createLink({ name: "guarded", source: master.url, target: replica.url, include: ["guard"], initial: "full" });
    await waitCaughtUp(client, "guarded", master);
  });
  after(async () => {
    await daemon?.stop();
  });

  const evaluate = (o: GuardrailOptions & { links?: string[] } = {}) => evaluateGuardrails({ master: serverAddress(master), target: serverAddress(replica), ...o });
  const result = (r: GuardrailReport, name: GuardrailName) => r.results.find((x) => x.name === name)!;

  it("a link in sync passes every guardrail; link status shows it ready, with nothing unapplied", async () => {
    await waitCaughtUp(client, "guarded", master);
    const report = await evaluate();
    assert.deepEqual(report.links, ["guarded"]);
    assert.deepEqual(report.results.filter((r) => !r.pass), []);
    assert.ok(report.lagSeconds! <= 5);
    const status = await waitFor("status ready", async () => {
      const s = await client.getLink("guarded");
      return s.promotionReady === true && s.unappliedTransactions === 0 ? s : undefined;
    });
    assert.deepEqual(status.promotionBlockers, []);
    if (master.flavor === "mariadb") assert.deepEqual(status.errantGtids, []);
  });

  it("link-running and lag: a paused link with a write on the master blocks; resumed, it passes", async () => {
    await client.pauseLink("guarded");
    try {
      await sql(master, "INSERT INTO guard.t VALUES (3)");
      await sleep(1500);
      const report = await evaluate({ maxLagSeconds: 1 });
      assert.equal(result(report, "link-running").pass, false);
      assert.match(result(report, "link-running").sentence, /^Link guarded is not running .*resume it/);
      assert.equal(result(report, "lag").pass, false);
      assert.ok(Number(result(report, "lag").figure) > 1);
      assert.match(result(report, "lag").sentence, /above promotion\.maxLagSeconds \(1\); let the link catch up, or raise promotion\.maxLagSeconds\./);
      assert.ok(report.unappliedTransactions! >= 1);
    } finally {
      await client.resumeLink("guarded");
    }
    await waitCaughtUp(client, "guarded", master);
    const report = await evaluate({ maxLagSeconds: 1 });
    assert.equal(result(report, "link-running").pass, true);
    assert.equal(result(report, "lag").pass, true, result(report, "lag").sentence);
  });

  it("open-transactions: a write left open on the master blocks past the limit; ended, it passes", async () => {
    const session = await connect(master);
    try {
      await session.query("BEGIN");
      await session.query("INSERT INTO guard.t VALUES (10)");
      await sleep(2200);
      const open = result(await evaluate({ maxOpenTransactionSeconds: 1 }), "open-transactions");
      assert.equal(open.pass, false);
      assert.ok(Number(open.figure) >= 2);
      assert.match(open.sentence, /^1 write transaction has been open on the master longer than promotion\.maxOpenTransactionSeconds \(1\)/);
      await session.query("ROLLBACK");
      await sleep(200); // InnoDB refreshes what information_schema.INNODB_TRX shows every 0.1 s
      const ended = result(await evaluate({ maxOpenTransactionSeconds: 1 }), "open-transactions");
      assert.equal(ended.pass, true, ended.sentence);
    } finally {
      session.destroy();
    }
  });

  it("ddl-in-flight: an ALTER running on the master (waiting for a metadata lock) blocks; finished, it passes", async () => {
    const reader = await connect(master);
    const alterer = await connect(master);
    try {
      await reader.query("BEGIN");
      await reader.query("SELECT * FROM guard.t");
      const altering = alterer.query("ALTER TABLE guard.t ADD COLUMN note VARCHAR(10) NULL");
      await waitFor("the ALTER to wait", async () => Number((await sql(master, "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE guard.t%'"))[0].n) === 1);
      const ddl = result(await evaluate(), "ddl-in-flight");
      assert.equal(ddl.pass, false);
      assert.match(ddl.sentence, /^DDL is in flight \(running on the master: connection \d+: ALTER TABLE\); wait until it finishes before promoting\.$/);
      await reader.query("COMMIT");
      await altering;
    } finally {
      reader.destroy();
      alterer.destroy();
    }
    await waitCaughtUp(client, "guarded", master);
    assert.equal(result(await evaluate(), "ddl-in-flight").pass, true);
  });

  it("ddl-in-flight, evaluation only: a crafted checkpoint row with a DDL pending on the DR server blocks", async () => {
    // Out of the binlog: a crafted row must not itself count as an errant transaction later on.
    await sql(replica, "SET SESSION sql_log_bin = 0; INSERT INTO mysql_dr.checkpoint (link, source_gtid, pending_ddl_gtid, pending_ddl_state) VALUES ('crafted', '', '0-1-77', '{\"gtid\":\"0-1-77\",\"before\":\"x\"}')");
    try {
      const ddl = result(await evaluate({ links: ["crafted"] }), "ddl-in-flight");
      assert.equal(ddl.pass, false);
      assert.match(ddl.sentence, /being applied on the DR server: GTID 0-1-77/);
    } finally {
      await sql(replica, "SET SESSION sql_log_bin = 0; DELETE FROM mysql_dr.checkpoint WHERE link = 'crafted'");
    }
  });

  it("verification: required and missing blocks; a verification without differences passes, and survives a daemon restart", async () => {
    const missing = result(await evaluate({ requireVerifiedWithinMinutes: 5 }), "verification");
    assert.equal(missing.pass, false);
    assert.match(missing.sentence, /^No verification was recorded for this link, and promotion\.requireVerifiedWithinMinutes is 5; run mysql-dr verify/);
    await waitCaughtUp(client, "guarded", master);
    const report = await client.verifyLink("guarded", false);
    assert.equal(report.identical, true);
    assert.equal(result(await evaluate({ requireVerifiedWithinMinutes: 5 }), "verification").pass, true);

    const before = (await client.getLink("guarded")).lastVerification;
    assert.equal(before?.result, "identical");
    await daemon.stop();
    daemon = await DaemonProcess.start(daemon.stateDir);
    client = daemon.client();
    assert.deepEqual((await client.getLink("guarded")).lastVerification, before);
  });

  it("errant-transactions: a write made directly on the DR server blocks, by GTID; the link's own writes never do", async function () {
    if (replica.flavor !== "mariadb") this.skip();
    await waitCaughtUp(client, "guarded", master);
    const clean = result(await evaluate(), "errant-transactions");
    assert.equal(clean.pass, true, clean.sentence);
    // root writes through read_only; the write is the DR server's own, not the master's.
    await sql(replica, "INSERT INTO guard.t (id) VALUES (999)");
    const serverId = Number((await sql(replica, "SELECT @@server_id AS id"))[0].id);
    const errant = result(await evaluate(), "errant-transactions");
    assert.equal(errant.pass, false);
    assert.match(String(errant.figure), new RegExp(`^\\d+-${serverId}-\\d+$`));
    assert.match(errant.sentence, /^The DR server has transactions that did not come from the master .*before promoting\.$/);
    await sql(master, "INSERT INTO guard.t (id) VALUES (20)");
    await waitCaughtUp(client, "guarded", master);
    const status = await waitFor("status to show the errant GTID", async () => {
      const s = await client.getLink("guarded");
      return s.errantGtids?.length ? s : undefined;
    });
    assert.equal(status.promotionReady, false);
    assert.ok(status.promotionBlockers.some((b) => b.startsWith("The DR server has transactions that did not come from the master")));
  });
});
