/**
 * Credentials rotate in place, through the real dynamic-provider host: a new master password, a
 * new daemon token, or another address of the same server update DrInstance and SyncLink (no
 * replace, no delete; the link resumes from its checkpoint); only another server replaces.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DaemonClient } from "../../src/cli/daemon-client";
import { formatServerUrl } from "../../src/core/connection-url";
import { STATE_FILES } from "../../src/core/state-dir";
import { DaemonProcess, serverAddress, sql, stopDaemonIn, tableContents, tempStateDir, waitFor } from "../support/daemon-process";
import { type DynamicProviderHost, type Step, type TestEngine, type WireMap, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend, startExtraSandbox } from "../support/servers";

const PASSWORD = "first-Pa55";
const ROTATED = "second-Pa55:@%";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

describeEachBackend("credential and address changes through the dynamic-provider host", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;
  const hosts: DynamicProviderHost[] = [];
  const engines: TestEngine[] = [];

  before(async () => {
    ({ master, replica } = getPair());
    for (const server of [master, replica]) {
      // WITH GRANT OPTION: the ci example's link covers the whole instance, which replays accounts.
      await sql(server, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%' WITH GRANT OPTION", [PASSWORD]);
    }
    await sql(master, "CREATE DATABASE billing; CREATE TABLE billing.invoices (id INT PRIMARY KEY); INSERT INTO billing.invoices VALUES (1)");
    stateDir = tempStateDir("rotation");
  });
  afterEach(async () => {
    // Whatever happened, the next test logs in with the first password.
    await sql(master, "ALTER USER 'dr'@'%' IDENTIFIED BY ?", [PASSWORD]);
  });
  after(async () => {
    for (const e of engines) if (e.resources().length) await e.destroy().catch(() => undefined);
    for (const h of hosts) await h.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  async function host(dir: string): Promise<{ host: DynamicProviderHost; engine: TestEngine }> {
    const started = await startHost(dir, { MYSQL_DR_STATE_DIR: stateDir });
    hosts.push(started.host);
    engines.push(started.engine);
    return started;
  }

  async function replicated(invoice: number): Promise<boolean> {
    return (await tableContents(replica, "billing", "invoices").catch((): string[] => [])).includes(JSON.stringify({ id: invoice }));
  }

  it("a rotated master password, another address of the same master: updates; another server: replace", async function () {
    this.timeout(300_000);
    const dir = programFolder("rotation");
    const capture = (masterPassword: string, extra: Record<string, string> = {}) =>
      captureExample("existing-servers", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drHost: "127.0.0.1", drPort: String(replica.port), drUser: "dr", ...extra }, { masterPassword, drPassword: PASSWORD });
    const { host: h, engine } = await host(dir);
    assert.deepEqual(ops(await engine.up(await capture(PASSWORD))), { "billing-dr": "create", "billing-sync": "create" });
    await waitFor("the initial copy", () => replicated(1), 120_000);

    // The DBA rotates the password on the server first, then in the program.
    await sql(master, "ALTER USER 'dr'@'%' IDENTIFIED BY ?", [ROTATED]);
    const rotated = await capture(ROTATED);
    const preview = ops(await engine.preview(rotated));
    assert.equal(preview["billing-dr"], "update");
    assert.notEqual(preview["billing-sync"], "replace");
    assert.deepEqual(ops(await engine.up(rotated)), { "billing-dr": "update", "billing-sync": "update" });
    const before = await new DaemonClient({ stateDir }).getLink("billing-sync");
    await sql(master, "INSERT INTO billing.invoices VALUES (2)");
    await waitFor("a row written after the rotation", () => replicated(2), 60_000);
    const after = await new DaemonClient({ stateDir }).getLink("billing-sync");
    assert.equal(after.state, "running", String(after.lastError));
    assert.ok(after.rowsApplied > before.rowsApplied, "the link went on from its checkpoint: no copy again");

    // Another name of the same master: an update of both (the preview says so too); the link now reads from there.
    const sameServer = await capture(ROTATED, { masterHost: "localhost" });
    assert.deepEqual(ops(await engine.preview(sameServer)), { "billing-dr": "update", "billing-sync": "update" });
    assert.deepEqual(ops(await engine.up(sameServer)), { "billing-dr": "update", "billing-sync": "update" });
    assert.match((await new DaemonClient({ stateDir }).getLink("billing-sync")).source, /@localhost:/);
    await sql(master, "INSERT INTO billing.invoices VALUES (3)");
    await waitFor("a row written after the address change", () => replicated(3), 60_000);

    // Another server at the new port: a replacement, decided in the preview.
    const other = await startExtraSandbox("rotation", "other");
    try {
      const otherServer = await capture("", { masterHost: "localhost", masterPort: String(other.port), masterUser: other.user });
      assert.equal(ops(await engine.preview(otherServer))["billing-dr"], "replace");

      // When diff could not tell (the address did not answer then), update refuses another server.
      const dr = engine.resources().find((r) => r.urn.endsWith("::billing-dr"))!;
      const news = { ...stripSecrets(dr.inputs), master: { host: "127.0.0.1", port: other.port, user: other.user, password: other.password } } as WireMap;
      await assert.rejects(h.update(dr.id, dr.urn, stripSecrets(dr.outputs), news), /The master at 127\.0\.0\.1:\d+ is another server than this DrInstance's/);

      // The daemon refuses URLs that reach other servers than the link's, whoever asks.
      const daemon = new DaemonClient({ stateDir });
      await assert.rejects(daemon.updateLink("billing-sync", { source: formatServerUrl(serverAddress(other)) }), /is not the master link billing-sync replicates/);
      await assert.rejects(daemon.updateLink("billing-sync", { target: formatServerUrl(serverAddress(other)) }), /holds no checkpoint of link billing-sync/);
      assert.equal((await daemon.getLink("billing-sync")).state, "running", "and the link runs on as it was");
    } finally {
      await other.stop();
    }

    for (const shown of [JSON.stringify(engine.state()), h.logText()]) {
      assert.ok(!shown.includes(ROTATED) && !shown.includes(encodeURIComponent(ROTATED)), "the new password is never in plain text");
    }
    assert.deepEqual(ops(await engine.destroy()), { "billing-dr": "delete", "billing-sync": "delete" });
    await sql(replica, "SET GLOBAL read_only = OFF");
  });

  it("a new daemon token is an update of the SyncLink, and the link keeps running", async function () {
    this.timeout(300_000);
    const daemonDir = tempStateDir("token-daemon");
    let elsewhere = await DaemonProcess.start(daemonDir);
    try {
      const tokenFile = path.join(daemonDir, STATE_FILES.token);
      const capture = (daemonToken: string) => captureExample("ci", {
        masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drHost: "127.0.0.1", drPort: String(replica.port), drUser: "dr", daemonUrl: elsewhere.url,
      }, { masterPassword: PASSWORD, drPassword: PASSWORD, daemonToken });
      const { engine } = await host(programFolder("token"));
      assert.deepEqual(ops(await engine.up(await capture(fs.readFileSync(tokenFile, "utf8").trim()))), { "app-dr": "create", "app-sync": "create" });

      // The operator rotates the daemon's token and restarts it on the same address.
      const port = new URL(elsewhere.url).port;
      await elsewhere.stop();
      const newToken = "rotated-daemon-token-0123456789";
      fs.writeFileSync(tokenFile, `${newToken}\n`, { mode: 0o600 });
      elsewhere = await DaemonProcess.start(daemonDir, {}, { args: ["--listen", `127.0.0.1:${port}`] });
      const rotated = await capture(newToken);
      assert.deepEqual(ops(await engine.preview(rotated)), { "app-dr": "same", "app-sync": "update" });
      assert.deepEqual(ops(await engine.up(rotated)), { "app-dr": "same", "app-sync": "update" });
      await sql(master, "INSERT INTO billing.invoices VALUES (4)");
      await waitFor("a row written after the token change", () => replicated(4), 60_000);
      assert.ok(!JSON.stringify(engine.state()).includes(newToken), "the token stays secret");
      await engine.destroy();
      assert.deepEqual(await elsewhere.client().listLinks(), []);
      await sql(replica, "SET GLOBAL read_only = OFF");
    } finally {
      await elsewhere.stop();
    }
  });
});
