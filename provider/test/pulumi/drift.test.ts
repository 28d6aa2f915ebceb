/**
 * A link changed outside Pulumi, through the real dynamic-provider host: its selection and
 * onMissingRow changed with `mysql-dr link update`, paused with `mysql-dr link pause`, deleted with
 * `mysql-dr link delete`. Refresh reads back what it really is, and the next `up` puts back what
 * the program declares: an update (a deleted link: created again, from its checkpoint on the DR
 * server, nothing copied twice). Along the way, the outputs CI gates on (state, lagSeconds,
 * unappliedTransactions) stay plain values, and examples/ci's gate passes a running link and fails
 * a paused one.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { DaemonClient } from "../../src/cli/daemon-client";
import { runCli, sql, stopDaemonIn, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type DynamicProviderHost, type Step, type TestEngine, type WireMap, isSecret } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const GATE = path.resolve(__dirname, "../../../../examples/ci/dr-gate.sh");
const LINK = "billing-sync";

const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));
const keysOf = (steps: Step[], name: string) => steps.find((s) => s.urn.endsWith(`::${name}`))?.keys;

/** examples/ci/dr-gate.sh over what `pulumi stack output --json` would print for these outputs. */
function gate(outputs: WireMap): { code: number; out: string } {
  const exported = { state: outputs.state, lagSeconds: outputs.lagSeconds, unappliedTransactions: outputs.unappliedTransactions };
  const r = spawnSync("sh", [GATE], { input: JSON.stringify(exported), encoding: "utf8", env: { ...process.env, MAX_LAG_SECONDS: "30" } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describeEachBackend("a link changed outside Pulumi: refresh reads it back, up puts the program back", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;
  let host: DynamicProviderHost;
  let engine: TestEngine;

  before(async () => {
    ({ master, replica } = getPair());
    await sql(master, `CREATE DATABASE billing; CREATE TABLE billing.invoices (id INT PRIMARY KEY); CREATE TABLE billing.tmp_x (id INT PRIMARY KEY); INSERT INTO billing.invoices VALUES (1);
      CREATE DATABASE crm; CREATE TABLE crm.accounts (id INT PRIMARY KEY); INSERT INTO crm.accounts VALUES (1)`);
    stateDir = tempStateDir("drift");
    ({ host, engine } = await startHost(programFolder("drift"), { MYSQL_DR_STATE_DIR: stateDir }));
    const program = await programOf();
    assert.deepEqual(ops(await engine.up(program)), { "billing-dr": "create", "billing-sync": "create" });
    await waitCaughtUp(daemon(), LINK, master);
  });
  after(async () => {
    if (engine?.resources().length) await engine.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  function programOf() {
    return captureExample("existing-servers", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: master.user, drHost: "127.0.0.1", drPort: String(replica.port), drUser: replica.user }, { masterPassword: master.password, drPassword: replica.password });
  }

  function daemon(): DaemonClient {
    return new DaemonClient({ stateDir });
  }

  function cli(args: string[]): void {
    const r = runCli([...args, "--state-dir", stateDir]);
    assert.equal(r.code, 0, r.stderr);
  }

  const link = () => engine.resources().find((r) => r.urn.endsWith(`::${LINK}`))!;

  it("outputs CI gates on are plain values, and the ci gate passes a running link", async () => {
    await engine.refresh();
    const outputs = link().outputs;
    assert.equal(outputs.state, "running");
    for (const key of ["state", "lagSeconds", "unappliedTransactions"]) assert.ok(!isSecret(outputs[key]), `${key} is not a secret`);
    assert.equal(typeof outputs.lagSeconds, "number");
    assert.equal(typeof outputs.unappliedTransactions, "number");
    const passed = gate(outputs);
    assert.equal(passed.code, 0, passed.out);
  });

  it("selection and onMissingRow changed with the CLI: read back on refresh, put back by up as an update", async () => {
    cli(["link", "update", LINK, "--include", "billing", "--include", "crm", "--on-missing-row", "skip-and-count"]);
    const refreshed = await engine.refresh();
    assert.deepEqual(keysOf(refreshed, LINK), ["objects", "onMissingRow"]);
    assert.deepEqual(link().inputs.objects, { include: ["billing", "crm"], exclude: ["billing.tmp_*"] }, "the state now says what the link really selects");
    assert.equal(link().inputs.onMissingRow, "skip-and-count");

    const program = await programOf();
    const preview = await engine.preview(program);
    assert.deepEqual(ops(preview), { "billing-dr": "same", "billing-sync": "update" });
    assert.deepEqual(keysOf(preview, LINK), ["objects", "onMissingRow"]);
    assert.deepEqual(ops(await engine.up(program)), { "billing-dr": "same", "billing-sync": "update" });
    const status = await daemon().getLink(LINK);
    assert.deepEqual({ include: status.include, exclude: status.exclude, onMissingRow: status.onMissingRow }, { include: ["billing"], exclude: ["billing.tmp_*"], onMissingRow: "error" });
    assert.deepEqual(ops(await engine.preview(program)), { "billing-dr": "same", "billing-sync": "same" });
  });

  it("paused with the CLI: read back as paused (the ci gate fails), resumed by up as an update", async () => {
    cli(["link", "pause", LINK]);
    const refreshed = await engine.refresh();
    assert.deepEqual(keysOf(refreshed, LINK), ["paused"]);
    assert.equal(link().outputs.state, "paused");
    assert.equal(link().inputs.paused, true);
    const failed = gate(link().outputs);
    assert.equal(failed.code, 1);
    assert.match(failed.out, /the DR link is not running \(state paused\)/);

    const program = await programOf();
    const preview = await engine.preview(program);
    assert.deepEqual(ops(preview), { "billing-dr": "same", "billing-sync": "update" });
    assert.deepEqual(keysOf(preview, LINK), ["paused"]);
    assert.deepEqual(ops(await engine.up(program)), { "billing-dr": "same", "billing-sync": "update" });
    await sql(master, "INSERT INTO billing.invoices VALUES (2)");
    await waitFor("the resumed link to apply a new row", async () => (await tableContents(replica, "billing", "invoices")).length === 2);
    assert.equal((await daemon().getLink(LINK)).state, "running");
  });

  it("deleted with the CLI: gone on refresh; up creates it again from its checkpoint, nothing copied twice", async () => {
    cli(["link", "delete", LINK]);
    // Written while no link runs: the new one must go on from the checkpoint to apply it.
    await sql(master, "INSERT INTO billing.invoices VALUES (3)");
    await engine.refresh();
    assert.ok(!engine.resources().some((r) => r.urn.endsWith(`::${LINK}`)), "the deleted link is gone from the state");

    const program = await programOf();
    assert.deepEqual(ops(await engine.preview(program)), { "billing-dr": "same", "billing-sync": "create" });
    // initialSync "full" would refuse the DR tables that hold rows: the checkpoint says where to go on from.
    assert.deepEqual(ops(await engine.up(program)), { "billing-dr": "same", "billing-sync": "create" });
    await waitFor("the row written while the link was gone", async () => (await tableContents(replica, "billing", "invoices")).length === 3);
    const status = await daemon().getLink(LINK);
    assert.equal(status.state, "running", String(status.lastError));
    assert.equal(status.copy, null, "no initial copy: it went on from its checkpoint");
    assert.deepEqual(await tableContents(replica, "billing", "invoices"), await tableContents(master, "billing", "invoices"));
    assert.deepEqual(ops(await engine.preview(program)), { "billing-dr": "same", "billing-sync": "same" });
  });
});
