/**
 * The preview tells the truth: for every example program's typical edits (objects include and
 * exclude, password rotation, promotion options, a role change), through the real dynamic-provider
 * host, the steps `pulumi preview` shows are exactly the steps `up` then performs (the operation
 * per resource, update versus replace, and the changed inputs), and afterwards nothing is left to
 * do. The harness previews as the engine does for a dynamic provider: a resource it would update
 * shows its dependents its inputs as outputs, so the DrInstance's computed `connection` is unknown
 * to its SyncLink; a diff that took that for a change, or for another server, would preview an
 * update or a replacement of the link that `up` never makes.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DaemonClient } from "../../src/cli/daemon-client";
import { STATE_FILES } from "../../src/core/state-dir";
import { pickFreePort } from "../../src/sandbox/sandbox";
import { DaemonProcess, sql, stopDaemonIn, tempStateDir, waitCaughtUp } from "../support/daemon-process";
import type { DynamicProviderHost, Registration, Step, TestEngine, WireMap } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend, startExtraSandbox } from "../support/servers";

/** One line per resource: what the step does to it, and which inputs it changes. */
type Plan = Record<string, string>;

function plan(steps: Step[]): Plan {
  return Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op === "update" || s.op === "replace" ? `${s.op} ${[...(s.keys ?? [])].sort().join(",")}` : s.op]));
}

/** The program after an edit of a literal in it: the registration of `name` with `patch` applied to its inputs. */
function edited(regs: Registration[], name: string, patch: WireMap): Registration[] {
  return regs.map((r) => (r.name === name ? { ...r, inputs: { ...r.inputs, ...patch } } : r));
}

describeEachBackend("the preview shows exactly what up does, for each example's typical edits", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;
  const hosts: DynamicProviderHost[] = [];
  const engines: TestEngine[] = [];

  before(async () => {
    ({ master, replica } = getPair());
    // A login per example, so that rotating one's password leaves the others alone.
    for (const user of ["dr_qs", "dr_fo", "dr_es", "dr_ci"]) {
      await sql(master, `CREATE USER '${user}'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%' WITH GRANT OPTION`, [`${user}-Pa55`]);
    }
    await sql(replica, "CREATE USER 'dr_es'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr_es'@'%' WITH GRANT OPTION", ["dr_es-Pa55"]);
    await sql(master, `CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY); CREATE TABLE shop.tmp_cart (id INT PRIMARY KEY); INSERT INTO shop.orders VALUES (1);
      CREATE DATABASE crm; CREATE TABLE crm.accounts (id INT PRIMARY KEY); INSERT INTO crm.accounts VALUES (1);
      CREATE DATABASE billing; CREATE TABLE billing.invoices (id INT PRIMARY KEY); CREATE TABLE billing.tmp_x (id INT PRIMARY KEY); INSERT INTO billing.invoices VALUES (1);
      CREATE DATABASE payments; CREATE TABLE payments.t (id INT PRIMARY KEY); INSERT INTO payments.t VALUES (1)`);
    stateDir = tempStateDir("preview-up");
  });
  after(async () => {
    for (const e of engines) if (e.resources().length) await e.destroy().catch(() => undefined);
    for (const h of hosts) await h.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  async function stack(tag: string): Promise<TestEngine> {
    const started = await startHost(programFolder(tag), { MYSQL_DR_STATE_DIR: stateDir });
    hosts.push(started.host);
    engines.push(started.engine);
    return started.engine;
  }

  /**
   * Previews the program, runs up, and asserts both showed the same plan (and, when given, that it
   * is `expected`); then that a second preview finds nothing left to do.
   */
  async function previewThenUp(engine: TestEngine, edit: string, regs: Registration[], expected?: Plan): Promise<void> {
    const previewed = plan(await engine.preview(regs));
    const performed = plan(await engine.up(regs));
    assert.deepEqual(previewed, performed, `${edit}: the preview's steps are the ones up performed`);
    if (expected) assert.deepEqual(performed, expected, edit);
    const after = plan(await engine.preview(regs));
    assert.ok(Object.values(after).every((op) => op === "same"), `${edit}: nothing left to do after up, found ${JSON.stringify(after)}`);
  }

  /**
   * The DBA changes the password on the server first. On a DR server, outside the binlog: a
   * logged change there would be an errant transaction, which blocks a promotion.
   */
  async function rotate(server: TestServer, user: string, password: string): Promise<void> {
    const unlogged = server === master ? "" : "SET SESSION sql_log_bin = 0; ";
    await sql(server, `${unlogged}ALTER USER '${user}'@'%' IDENTIFIED BY ?`, [password]);
  }

  /** A planned promotion needs the link running and caught up (its guardrails). */
  async function caughtUp(link: string, client = new DaemonClient({ stateDir })): Promise<void> {
    await waitCaughtUp(client, link, master);
  }

  it("quickstart (local DR server): include and exclude, promotion options, master password, role", async function () {
    this.timeout(300_000);
    const engine = await stack("qs");
    const drPort = await pickFreePort();
    const config: Record<string, string> = { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr_qs", drPort: String(drPort) };
    let password = "dr_qs-Pa55";
    const program = (extra: Record<string, string> = {}) => captureExample("quickstart", { ...config, ...extra }, { masterPassword: password });

    await previewThenUp(engine, "create", await program(), { "orders-dr": "create", "orders-sync": "create" });
    Object.assign(config, { include: JSON.stringify(["shop", "crm.accounts"]) });
    await previewThenUp(engine, "include another table", await program(), { "orders-dr": "same", "orders-sync": "update objects" });
    Object.assign(config, { exclude: JSON.stringify(["shop.tmp_*"]) });
    await previewThenUp(engine, "exclude tables", await program(), { "orders-dr": "same", "orders-sync": "update objects" });
    // quickstart sets no promotion options: the user adds them to the program.
    const withPromotion = async () => edited(await program(), "orders-dr", { promotion: { maxLagSeconds: 30, timeoutSeconds: 60 } });
    await previewThenUp(engine, "promotion options", await withPromotion(), { "orders-dr": "update promotion", "orders-sync": "same" });
    // The DBA rotates the password on the master first, then in the program's config.
    password = "dr_qs-Rotated-1";
    await rotate(master, "dr_qs", password);
    await previewThenUp(engine, "master password", await withPromotion(), { "orders-dr": "update master", "orders-sync": "update instance" });

    await caughtUp("orders-sync");
    await previewThenUp(engine, "role primary", edited(await withPromotion(), "orders-dr", { role: "primary" }), { "orders-dr": "update role", "orders-sync": "same" });
    await sql(master, "SET GLOBAL read_only = OFF");
    await engine.destroy();
  });

  it("failover (local DR server): promotion options, master password, role from config", async function () {
    this.timeout(300_000);
    const engine = await stack("fo");
    const drPort = await pickFreePort();
    const config: Record<string, string> = { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr_fo", drPort: String(drPort) };
    let password = "dr_fo-Pa55";
    const program = (extra: Record<string, string> = {}) => captureExample("failover", { ...config, ...extra }, { masterPassword: password });

    await previewThenUp(engine, "create", await program(), { "payments-dr": "create", "payments-sync": "create" });
    Object.assign(config, { maxLagSeconds: "20", promotionTimeoutSeconds: "45" });
    await previewThenUp(engine, "promotion options", await program(), { "payments-dr": "update promotion", "payments-sync": "same" });
    password = "dr_fo-Rotated-1";
    await rotate(master, "dr_fo", password);
    await previewThenUp(engine, "master password", await program(), { "payments-dr": "update master", "payments-sync": "update instance" });
    // The program's objects are a literal: the user edits it.
    await previewThenUp(engine, "include another database", edited(await program(), "payments-sync", { objects: { include: ["payments", "crm"] } }), { "payments-dr": "same", "payments-sync": "update objects" });

    await caughtUp("payments-sync");
    Object.assign(config, { role: "primary" });
    const promote = edited(await program(), "payments-sync", { objects: { include: ["payments", "crm"] } });
    await previewThenUp(engine, "role primary", promote, { "payments-dr": "update role", "payments-sync": "same" });
    await sql(master, "SET GLOBAL read_only = OFF");
    await engine.destroy();
  });

  it("ci (existing servers, a daemon elsewhere): master and DR passwords", async function () {
    this.timeout(300_000);
    // A DR server of its own: the link it leaves there after destroy would block the next one's promotion.
    const drServer = await startExtraSandbox("preview-up", "ci-dr");
    await sql(drServer, "CREATE USER 'dr_ci'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr_ci'@'%' WITH GRANT OPTION", ["dr_ci-Pa55"]);
    const elsewhere = await DaemonProcess.start(tempStateDir("preview-up-ci-daemon"));
    try {
      const token = fs.readFileSync(path.join(elsewhere.stateDir, STATE_FILES.token), "utf8").trim();
      const engine = await stack("ci");
      const config = { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr_ci", drHost: "127.0.0.1", drPort: String(drServer.port), drUser: "dr_ci", daemonUrl: elsewhere.url };
      const secrets = { masterPassword: "dr_ci-Pa55", drPassword: "dr_ci-Pa55", daemonToken: token };
      const program = () => captureExample("ci", config, secrets);

      await previewThenUp(engine, "create", await program(), { "app-dr": "create", "app-sync": "create" });
      secrets.masterPassword = "dr_ci-Rotated-1";
      await rotate(master, "dr_ci", secrets.masterPassword);
      await previewThenUp(engine, "master password", await program(), { "app-dr": "update master", "app-sync": "update instance" });
      secrets.drPassword = "dr_ci-Rotated-2";
      await rotate(drServer, "dr_ci", secrets.drPassword);
      await previewThenUp(engine, "DR server password", await program(), { "app-dr": "update server", "app-sync": "update instance" });
      await engine.destroy();
      assert.deepEqual(await elsewhere.client().listLinks(), []);
    } finally {
      await elsewhere.stop();
      await drServer.stop();
    }
  });

  it("existing-servers: include and exclude, master and DR passwords, promotion options, role", async function () {
    this.timeout(300_000);
    const engine = await stack("es");
    const config = { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr_es", drHost: "127.0.0.1", drPort: String(replica.port), drUser: "dr_es" };
    const secrets = { masterPassword: "dr_es-Pa55", drPassword: "dr_es-Pa55" };
    let objects: WireMap = { include: ["billing"], exclude: ["billing.tmp_*"] };
    let dr: WireMap = {};
    const program = async () => edited(edited(await captureExample("existing-servers", config, secrets), "billing-sync", { objects }), "billing-dr", dr);

    await previewThenUp(engine, "create", await program(), { "billing-dr": "create", "billing-sync": "create" });
    objects = { include: ["billing", "crm"], exclude: ["billing.tmp_*"] };
    await previewThenUp(engine, "include another database", await program(), { "billing-dr": "same", "billing-sync": "update objects" });
    objects = { include: ["billing", "crm"], exclude: [] };
    await previewThenUp(engine, "exclude nothing", await program(), { "billing-dr": "same", "billing-sync": "update objects" });
    secrets.masterPassword = "dr_es-Rotated-1";
    await rotate(master, "dr_es", secrets.masterPassword);
    await previewThenUp(engine, "master password", await program(), { "billing-dr": "update master", "billing-sync": "update instance" });
    secrets.drPassword = "dr_es-Rotated-2";
    await rotate(replica, "dr_es", secrets.drPassword);
    await previewThenUp(engine, "DR server password", await program(), { "billing-dr": "update server", "billing-sync": "update instance" });
    dr = { promotion: { maxLagSeconds: 15 } };
    await previewThenUp(engine, "promotion options", await program(), { "billing-dr": "update promotion", "billing-sync": "same" });

    await caughtUp("billing-sync");
    dr = { ...dr, role: "primary" };
    await previewThenUp(engine, "role primary", await program(), { "billing-dr": "update role", "billing-sync": "same" });
    await sql(master, "SET GLOBAL read_only = OFF");
    await engine.destroy();
  });
});
