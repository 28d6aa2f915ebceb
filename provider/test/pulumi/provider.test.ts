/**
 * The provider as `pulumi up` runs it: the examples' programs captured through the SDK's runtime
 * mocks (the provider string and inputs a real run produces), replayed through the real
 * dynamic-provider host from @pulumi/pulumi over its gRPC interface, against sandbox servers.
 * Steps: preview, up, up again, change objects, refresh, promote, destroy; plus bad inputs,
 * unreachable servers, a failed create leaving nothing, the daemon outliving the host's process
 * group, and secrets never in plain text in state or logs.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DaemonClient } from "../../src/cli/daemon-client";
import { STATE_FILES } from "../../src/core/state-dir";
import { DaemonProcess, portRefuses, sql, stopDaemonIn, tableContents, tempStateDir, waitFor } from "../support/daemon-process";
import { CheckFailedError, type DynamicProviderHost, type Registration, type Step, type TestEngine, type WireValue, isSecret, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = `p@ss:w0rd'"%`;
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

describeEachBackend("pulumi provider through the dynamic-provider host", (getPair) => {
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
    await sql(master, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2));
      INSERT INTO shop.orders VALUES (1, 10.50), (2, 20.00);
      CREATE DATABASE crm; CREATE TABLE crm.accounts (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO crm.accounts VALUES (7, 'ada');
      CREATE DATABASE billing; CREATE TABLE billing.invoices (id INT PRIMARY KEY); INSERT INTO billing.invoices VALUES (1);
      CREATE DATABASE payments; CREATE TABLE payments.t (id INT PRIMARY KEY); INSERT INTO payments.t VALUES (1), (2)`);
    stateDir = tempStateDir("pulumi");
  });
  after(async () => {
    // A test that failed midway leaves resources (local servers, links): destroy what is still in state.
    for (const e of engines) if (e.resources().length) await e.destroy().catch(() => undefined);
    for (const h of hosts) await h.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  async function host(dir: string, env: NodeJS.ProcessEnv = {}): Promise<{ host: DynamicProviderHost; engine: TestEngine }> {
    const started = await startHost(dir, { MYSQL_DR_STATE_DIR: stateDir, ...env });
    hosts.push(started.host);
    engines.push(started.engine);
    return started;
  }

  function masterConfig(): Record<string, string> {
    return { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr" };
  }

  function daemon(): DaemonClient {
    return new DaemonClient({ stateDir });
  }

  /** The local DrInstance's server, reached as its (secret) connection output says. */
  function localServer(connection: WireValue, port: number): TestServer {
    const { user, password } = stripSecrets(connection) as { user: string; password: string };
    return { ...master, port, user, password, url: `mysql://${user}@127.0.0.1:${port}` };
  }

  it("quickstart: preview, up, up again, change objects, refresh, promote and destroy", async function () {
    this.timeout(300_000);
    const dir = programFolder("quickstart");
    const drPort = await freePort();
    const capture = (extra: Record<string, string> = {}) =>
      captureExample("quickstart", { ...masterConfig(), drPort: String(drPort), ...extra }, { masterPassword: PASSWORD });
    const v1 = await capture();
    const provider = String(v1[0].inputs.__provider);
    assert.ok(provider.length < 4096, `the serialized provider is ${provider.length} bytes`);
    for (const projectCode of ["createLink", "SELECT", "mysql2", "GET_LOCK"]) assert.ok(!provider.includes(projectCode), `the serialized provider carries ${projectCode}`);

    const { host: h, engine } = await host(dir);
    assert.deepEqual(ops(await engine.preview(v1)), { "orders-dr": "create", "orders-sync": "create" });
    assert.ok(!fs.existsSync(path.join(dir, ".dr")), "a preview must not start a server");
    assert.ok(await portRefuses(drPort));

    assert.deepEqual(ops(await engine.up(v1)), { "orders-dr": "create", "orders-sync": "create" });
    const connection = engine.resources().find((r) => r.urn.endsWith("::orders-dr"))!.outputs.connection;
    assert.ok(isSecret(connection), "the local server's connection is a secret output");
    const dr = localServer(connection, drPort);
    assert.ok(dr.password.length >= 20, "the local server's root has a generated password");
    await assert.rejects(sql({ ...dr, password: "" }, "SELECT 1"), /Access denied/, "root without the password is refused");
    assert.equal(Number((await sql(dr, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1, "the DR instance is read-only");
    await waitFor("the link to be in sync", async () => {
      const s = await daemon().getLink("orders-sync");
      return s.phase === "syncing" && s.state === "running" ? s : undefined;
    }, 120_000);
    assert.deepEqual(await tableContents(dr, "shop", "orders"), await tableContents(master, "shop", "orders"));
    const drState = engine.resources().find((r) => r.urn.endsWith("::orders-dr"))!;
    assert.equal(drState.outputs.flavor, master.flavor);
    assert.deepEqual(drState.outputs.endpoint, { host: "127.0.0.1", port: drPort });

    assert.deepEqual(ops(await engine.up(await capture())), { "orders-dr": "same", "orders-sync": "same" }, "nothing changed: no update");

    const v2 = await capture({ include: JSON.stringify(["shop", "crm.accounts"]) });
    assert.deepEqual(ops(await engine.up(v2)), { "orders-dr": "same", "orders-sync": "update" });
    await waitFor("crm.accounts to be copied", async () => (await tableContents(dr, "crm", "accounts").catch(() => [])).length === 1);

    await sql(master, "INSERT INTO shop.orders VALUES (3, 30.00)");
    await waitFor("the new order on the DR", async () => (await tableContents(dr, "shop", "orders")).length === 3);
    const refreshed = await engine.refresh();
    assert.ok(refreshed.every((s) => s.op === "read"));
    const link = engine.resources().find((r) => r.urn.endsWith("::orders-sync"))!;
    assert.equal(link.outputs.state, "running");
    assert.equal(typeof link.outputs.lagSeconds, "number");
    assert.equal(link.outputs.rowsApplied, 1);

    const promoted = await capture({ include: JSON.stringify(["shop", "crm.accounts"]) });
    promoted[0] = withRole(promoted[0], "primary");
    assert.deepEqual(ops(await engine.up(promoted)), { "orders-dr": "update", "orders-sync": "same" });
    const promotedState = engine.resources().find((r) => r.urn.endsWith("::orders-dr"))!;
    assert.equal(promotedState.outputs.role, "primary");
    assert.equal(promotedState.outputs.readOnly, false);
    assert.ok(String(promotedState.outputs.promotedAt).length > 0 && String(promotedState.outputs.promotedGtid).length > 0);
    assert.equal(Number((await sql(dr, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 0, "the promoted instance is writable");
    assert.equal(Number((await sql(master, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1, "a planned switchover leaves the old master read-only");
    // The link runs back to the old master, which is now a replica of the promoted instance.
    await waitFor("the link to run back", async () => {
      const s = await daemon().getLink("orders-sync");
      return s.direction === "reverse" && s.state === "running";
    }, 60_000);

    const stateJson = JSON.stringify(engine.state());
    for (const shown of [stateJson, h.logText()]) {
      assert.ok(!shown.includes(PASSWORD) && !shown.includes(encodeURIComponent(PASSWORD)), "the password must never be in plain text");
    }
    const masterOut = engine.resources().find((r) => r.urn.endsWith("::orders-dr"))!.outputs.master;
    assert.ok(isSecret(masterOut) || isSecret((masterOut as Record<string, unknown>).password), "the master connection stays a secret output");

    assert.deepEqual(ops(await engine.destroy()), { "orders-dr": "delete", "orders-sync": "delete" });
    await assert.rejects(daemon().getLink("orders-sync"), /no link named orders-sync/);
    assert.ok(await portRefuses(drPort), "destroy stops the local server");
    assert.ok(fs.existsSync(path.join(dir, ".dr", "orders")), "and keeps its data");
    // The old master stays the replica the cycle made it; the next test needs it as a master again.
    await sql(master, "SET GLOBAL read_only = OFF");
  });

  it("failover: `role: primary` in config promotes with zero loss; `role: replica` switches back, and the link runs forward again", async function () {
    this.timeout(300_000);
    const dir = programFolder("failover");
    const drPort = await freePort();
    const capture = (extra: Record<string, string> = {}) => captureExample("failover", { ...masterConfig(), drPort: String(drPort), ...extra }, { masterPassword: PASSWORD });
    const { engine } = await host(dir);
    assert.deepEqual(ops(await engine.up(await capture())), { "payments-dr": "create", "payments-sync": "create" });
    await waitFor("payments in sync", async () => {
      const s = await daemon().getLink("payments-sync");
      return s.phase === "syncing" && s.state === "running";
    }, 120_000);
    await sql(master, "INSERT INTO payments.t VALUES (3)");
    assert.deepEqual(ops(await engine.up(await capture({ role: "primary" }))), { "payments-dr": "update", "payments-sync": "same" });
    const dr = localServer(engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs.connection, drPort);
    assert.deepEqual(await tableContents(dr, "payments", "t"), await tableContents(master, "payments", "t"), "nothing lost");
    const promoted = engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs;
    assert.equal(promoted.role, "primary");
    assert.equal(promoted.unappliedGtid, undefined);
    await waitFor("the link to run back", async () => {
      const s = await daemon().getLink("payments-sync");
      return s.direction === "reverse" && s.state === "running" && s.phase === "syncing";
    }, 60_000);
    await sql(dr, "INSERT INTO payments.t VALUES (4)");
    assert.deepEqual(ops(await engine.up(await capture({ role: "replica" }))), { "payments-dr": "update", "payments-sync": "same" });
    const back = engine.resources().find((r) => r.urn.endsWith("::payments-dr"))!.outputs;
    assert.equal(back.role, "replica");
    assert.equal(Number((await sql(master, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 0, "the old master is the master again");
    assert.equal(Number((await sql(dr, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1, "the DR instance is a replica again");
    assert.deepEqual(await tableContents(master, "payments", "t"), await tableContents(dr, "payments", "t"), "the row written on the promoted instance came back");
    await waitFor("the link to run forward", async () => {
      const s = await daemon().getLink("payments-sync");
      return s.direction === "forward" && s.state === "running";
    }, 60_000);
    await engine.destroy();
  });

  it("refuses bad inputs in check, naming the property, before anything runs", async () => {
    const dir = programFolder("bad");
    const regs = await captureExample("quickstart", { ...masterConfig(), drPort: "3999" }, { masterPassword: PASSWORD });
    const { engine } = await host(dir);
    const bad = { ...regs[0], inputs: { ...regs[0].inputs, local: { port: -1, dataDir: 7 }, role: "boss" } };
    const err = await engine.preview([bad]).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CheckFailedError, String(err));
    assert.deepEqual(err.failures.map((f) => f.property).sort(), ["local.dataDir", "local.port", "role"]);
    assert.ok(!JSON.stringify(err.failures).includes(PASSWORD));
  });

  it("a create that fails (unreachable master) leaves nothing behind and says why", async () => {
    const dir = programFolder("unreachable");
    const drPort = await freePort();
    const regs = await captureExample("quickstart", { ...masterConfig(), masterPort: String(await freePort()), drPort: String(drPort) }, { masterPassword: PASSWORD });
    const { engine, host: h } = await host(dir);
    await assert.rejects(engine.up(regs), /Cannot connect to the source server at 127\.0\.0\.1:\d+ \(connection refused\)/);
    assert.deepEqual(engine.resources(), []);
    assert.ok(await portRefuses(drPort), "the local server started for it was stopped");
    assert.ok(!fs.existsSync(path.join(dir, ".dr", "orders")), "and the data directory it created removed");
    assert.ok(!h.logText().includes(PASSWORD));
  });

  it("existing-servers: makes the DR server read-only and keeps it in sync; the daemon outlives the host's process group", async function () {
    this.timeout(300_000);
    const dir = programFolder("existing");
    const config = { ...masterConfig(), drHost: "127.0.0.1", drPort: String(replica.port), drUser: "dr" };
    const regs = await captureExample("existing-servers", config, { masterPassword: PASSWORD, drPassword: PASSWORD });
    const first = await host(dir);
    assert.deepEqual(ops(await first.engine.up(regs)), { "billing-dr": "create", "billing-sync": "create" });
    assert.equal(Number((await sql(replica, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1);
    const daemonPid = Number(fs.readFileSync(path.join(stateDir, STATE_FILES.pid), "utf8"));

    await first.host.stop(); // SIGKILL to the host's whole process group, as Pulumi ends a plugin
    process.kill(daemonPid, 0);
    await sql(master, "INSERT INTO billing.invoices VALUES (2)");
    await waitFor("the daemon to keep replicating", async () => (await tableContents(replica, "billing", "invoices")).length === 2);

    const second = await host(dir);
    second.engine.load(first.engine.resources()); // the next run starts from the recorded state
    const refreshed = await second.engine.refresh();
    assert.ok(refreshed.every((s) => s.op === "read"));
    assert.deepEqual(ops(await second.engine.destroy()), { "billing-dr": "delete", "billing-sync": "delete" });
    await sql(replica, "SET GLOBAL read_only = OFF");
  });

  it("ci: the link runs on a daemon given by URL and token", async function () {
    this.timeout(300_000);
    const elsewhere = await DaemonProcess.start(tempStateDir("ci-daemon"));
    try {
      const token = fs.readFileSync(path.join(elsewhere.stateDir, STATE_FILES.token), "utf8").trim();
      const dir = programFolder("ci");
      const config = { ...masterConfig(), drHost: "127.0.0.1", drPort: String(replica.port), drUser: "dr", daemonUrl: elsewhere.url };
      const regs = await captureExample("ci", config, { masterPassword: PASSWORD, drPassword: PASSWORD, daemonToken: token });
      const { engine, host: h } = await host(dir);
      assert.deepEqual(ops(await engine.up(regs)), { "app-dr": "create", "app-sync": "create" });
      assert.equal((await elsewhere.client().getLink("app-sync")).name, "app-sync");
      assert.ok(!JSON.stringify(engine.state()).includes(token) && !h.logText().includes(token), "the daemon token stays secret");
      await engine.destroy();
      assert.deepEqual(await elsewhere.client().listLinks(), []);
      await sql(replica, "SET GLOBAL read_only = OFF");
    } finally {
      await elsewhere.stop();
    }
  });
});

function withRole(reg: Registration, role: string): Registration {
  return { ...reg, inputs: { ...reg.inputs, role } };
}

async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
