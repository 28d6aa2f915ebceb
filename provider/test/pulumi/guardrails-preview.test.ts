/**
 * Promotion guardrails through the real dynamic-provider host: a write transaction left open on
 * the master makes the preview of `role: primary` fail on `role` with the guardrail's sentence,
 * `up` refuses with the same sentence and changes nothing; once it ends, the promotion goes ahead.
 * (The other guardrails' verdicts are covered against real servers in promote/guardrails.test.ts;
 * they reach the preview through the same check.) A drill recorded with `mysql-dr drill --record`
 * shows as the DrInstance's lastDrill on refresh, and leaves it promotable.
 */
import * as assert from "node:assert/strict";
import { DaemonClient } from "../../src/cli/daemon-client";
import { pickFreePort } from "../../src/sandbox/sandbox";
import type { DrillReport } from "../../src/drill/drill";
import { connect, runCli, sleep, sql, stopDaemonIn, tempStateDir, waitFor } from "../support/daemon-process";
import { CheckFailedError, type DynamicProviderHost, type Step, type TestEngine } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = "guard-Pa55";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

describeEachBackend("promotion guardrails in preview and up", (getPair) => {
  let master: TestServer;
  let stateDir: string;
  let host: DynamicProviderHost;
  let engine: TestEngine;

  before(async () => {
    ({ master } = getPair());
    await sql(master, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%'", [PASSWORD]);
    await sql(master, "CREATE DATABASE payments; CREATE TABLE payments.t (id INT PRIMARY KEY); INSERT INTO payments.t VALUES (1)");
    stateDir = tempStateDir("guard-preview");
  });
  after(async () => {
    if (engine?.resources().length) await engine.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  it("an open write on the master: preview names `role` and why, up refuses the same; ended, up promotes", async function () {
    this.timeout(300_000);
    const drPort = await pickFreePort();
    const capture = (extra: Record<string, string> = {}) => captureExample("failover", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drPort: String(drPort), maxOpenTransactionSeconds: "1", ...extra }, { masterPassword: PASSWORD });
    ({ host, engine } = await startHost(programFolder("guard-preview"), { MYSQL_DR_STATE_DIR: stateDir }));
    assert.deepEqual(ops(await engine.up(await capture())), { "payments-dr": "create", "payments-sync": "create" });
    await waitFor("payments in sync", async () => {
      const s = await new DaemonClient({ stateDir }).getLink("payments-sync");
      return s.phase === "syncing" && s.state === "running";
    }, 120_000);

    const drOutputs = () => engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs;
    assert.equal(drOutputs().lastDrill, undefined, "no drill recorded yet");
    // A drill recorded by the daemon reaches the DrInstance on refresh; its record is the link's own write on the DR server, so readiness holds.
    const drilled = runCli(["drill", "--link", "payments-sync", "--record", "--json", "--state-dir", stateDir]);
    assert.equal(drilled.code, 0, drilled.stderr);
    const kept = (await new DaemonClient({ stateDir }).getLink("payments-sync")).lastDrill;
    assert.equal(kept?.gtid, (JSON.parse(drilled.stdout) as DrillReport).gtid);
    await engine.refresh();
    assert.deepEqual(drOutputs().lastDrill, kept);
    assert.equal(drOutputs().promotionReady, true, JSON.stringify(drOutputs().promotionBlockers));
    assert.deepEqual(drOutputs().promotionBlockers, []);
    assert.equal(drOutputs().unappliedTransactions, 0);

    const session = await connect(master);
    try {
      await session.query("BEGIN");
      await session.query("INSERT INTO payments.t VALUES (2)");
      await sleep(2200);
      // Refresh shows the same blocker the preview will name.
      await engine.refresh();
      assert.equal(drOutputs().promotionReady, false);
      assert.match(String((drOutputs().promotionBlockers as string[])[0]), /^1 write transaction has been open on the master longer than promotion\.maxOpenTransactionSeconds \(1\)/);
      const promote = await capture({ role: "primary" });
      const previewed = await engine.preview(promote).then(() => undefined, (e: unknown) => e);
      assert.ok(previewed instanceof CheckFailedError, String(previewed));
      assert.deepEqual(previewed.failures.map((f) => f.property), ["role"]);
      const sentence = previewed.failures[0].reason;
      console.log(`      preview check failure on ${previewed.failures[0].property}: ${sentence}`);
      assert.match(sentence, /^1 write transaction has been open on the master longer than promotion\.maxOpenTransactionSeconds \(1\)/);
      await assert.rejects(engine.up(promote), (err: Error) => err.message.includes(sentence));
      assert.equal(engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs.role, "replica", "nothing was promoted");
      assert.equal(Number((await sql(master, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 0, "the master was not touched");
      await session.query("ROLLBACK");
    } finally {
      session.destroy();
    }
    await sleep(200);
    const promote = await capture({ role: "primary" });
    assert.deepEqual(ops(await engine.preview(promote)), { "payments-dr": "update", "payments-sync": "same" });
    assert.deepEqual(ops(await engine.up(promote)), { "payments-dr": "update", "payments-sync": "same" });
    assert.equal(engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs.role, "primary");
  });
});
