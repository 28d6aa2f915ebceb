/**
 * DataCheck through the real dynamic-provider host (examples/data-check): `up` creates the DR copy,
 * its link and the check, which runs at a barrier once the link is in sync and records its
 * outputs; a preview runs nothing; new triggers run it again (a replacement); a row removed on the
 * DR server fails `up`, naming the table, and leaves the previous check in the state; `repair: true`
 * rewrites it and the check passes as "repaired". Nothing secret reaches the state in plain text.
 */
import * as assert from "node:assert/strict";
import { DaemonClient } from "../../src/cli/daemon-client";
import { pickFreePort } from "../../src/sandbox/sandbox";
import { sql, stopDaemonIn, tempStateDir } from "../support/daemon-process";
import { type DynamicProviderHost, type Step, type TestEngine, type WireMap, type WireValue, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = "check-Pa55";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

describeEachBackend("DataCheck through the dynamic-provider host", (getPair) => {
  let master: TestServer;
  let stateDir: string;
  let host: DynamicProviderHost;
  let engine: TestEngine;

  before(async () => {
    ({ master } = getPair());
    await sql(master, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%'", [PASSWORD]);
    await sql(master, `CREATE DATABASE shop;
      CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2));
      CREATE TABLE shop.order_lines (order_id INT NOT NULL, line INT NOT NULL, sku VARCHAR(20), PRIMARY KEY (order_id, line));
      CREATE TABLE shop.audit (what VARCHAR(20), at DATETIME);
      INSERT INTO shop.orders VALUES (1, 10.50), (2, 20.00), (3, 7.25);
      INSERT INTO shop.order_lines VALUES (1, 1, 'apple'), (1, 2, 'pear'), (2, 1, 'plum'), (3, 1, 'fig');
      INSERT INTO shop.audit VALUES ('created', '2024-01-01 00:00:00'), ('created', '2024-01-01 00:00:00')`);
    stateDir = tempStateDir("data-check");
  });
  after(async () => {
    if (engine?.resources().length) await engine.destroy().catch(() => undefined);
    await host?.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  it("create records the outputs, preview runs nothing, new triggers re-run, a difference fails up naming the table, repair fixes it", async function () {
    this.timeout(300_000);
    const drPort = await pickFreePort();
    const capture = (extra: Record<string, string> = {}) => captureExample("data-check", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drPort: String(drPort), ...extra }, { masterPassword: PASSWORD });
    ({ host, engine } = await startHost(programFolder("data-check"), { MYSQL_DR_STATE_DIR: stateDir }));
    const check = () => engine.resources().find((r) => r.urn.endsWith("::shop-check"))!;
    const lastVerification = async () => (await new DaemonClient({ stateDir }).getLink("shop-sync")).lastVerification;

    // One `up` creates the link and the check: the check waits for the initial copy, then runs.
    assert.deepEqual(ops(await engine.up(await capture())), { "shop-dr": "create", "shop-sync": "create", "shop-check": "create" });
    const first = check().outputs;
    assert.equal(first.result, "identical");
    assert.equal(first.linkName, "shop-sync");
    assert.equal(first.tablesChecked, 3);
    assert.equal(first.rowsChecked, 9);
    assert.deepEqual(first.differences, []);
    assert.match(String(first.proofDigest), /^[0-9a-f]{64}$/);
    assert.deepEqual((first.proofChunks as WireMap[]).map((c) => c.table), ["shop.audit", "shop.orders", "shop.order_lines"]);
    assert.ok(String(first.gtid).length > 0);
    assert.equal((await lastVerification())?.proofDigest, first.proofDigest, "the daemon recorded the same check as the link's last verification");

    // A preview, unchanged or with new triggers, runs no check.
    const recorded = await lastVerification();
    assert.deepEqual(ops(await engine.preview(await capture())), { "shop-dr": "same", "shop-sync": "same", "shop-check": "same" });
    assert.deepEqual(ops(await engine.preview(await capture({ checkRound: "2" }))), { "shop-dr": "same", "shop-sync": "same", "shop-check": "replace" });
    assert.deepEqual(await lastVerification(), recorded, "a preview ran nothing");

    await sql(master, "INSERT INTO shop.orders VALUES (4, 1.00)");
    assert.deepEqual(ops(await engine.up(await capture({ checkRound: "2" }))), { "shop-dr": "same", "shop-sync": "same", "shop-check": "replace" });
    const second = check().outputs;
    assert.equal(second.result, "identical");
    assert.equal(second.rowsChecked, 10);
    assert.notEqual(second.at, first.at);

    // A row removed on the DR server (its own login may write despite read_only).
    const dr = localServer(engine.resources().find((r) => r.urn.endsWith("::shop-dr"))!.outputs.connection, drPort);
    await sql(dr, "DELETE FROM shop.order_lines WHERE order_id = 1 AND line = 2");
    await assert.rejects(engine.up(await capture({ checkRound: "3" })), (err: Error) => {
      assert.match(err.message, /differs from its master at GTID \S+: shop\.order_lines \(1 row missing on the DR server\); set repair: true/);
      return true;
    });
    assert.equal(check().outputs.at, second.at, "the failed check left the previous one in the state");

    assert.deepEqual(ops(await engine.up(await capture({ checkRound: "4", repair: "true" }))), { "shop-dr": "same", "shop-sync": "same", "shop-check": "replace" });
    const repaired = check().outputs;
    assert.equal(repaired.result, "repaired");
    assert.deepEqual(repaired.differences, [{ table: "shop.order_lines", missingOnDr: 0, extraOnDr: 0, different: 0, rowsRepaired: 1 }]);
    assert.ok(repaired.repairGtid);
    assert.deepEqual((await sql(dr, "SELECT sku FROM shop.order_lines WHERE order_id = 1 AND line = 2")).map((r) => r.sku), ["pear"]);

    const state = JSON.stringify(engine.state());
    assert.ok(!state.includes(PASSWORD), "no password in plain text in the state");
    // Deleting the check changes nothing on the servers.
    const before = await lastVerification();
    const regs = (await capture()).filter((r) => !r.urn.endsWith("::shop-check"));
    assert.deepEqual(ops(await engine.up(regs)), { "shop-dr": "same", "shop-sync": "same", "shop-check": "delete" });
    assert.deepEqual(await lastVerification(), before);
    assert.equal(Number((await sql(dr, "SELECT COUNT(*) AS n FROM shop.order_lines"))[0].n), 4);
  });

  /** The local DrInstance's server, reached as its (secret) connection output says. */
  function localServer(connection: WireValue, port: number): TestServer {
    const { user, password } = stripSecrets(connection) as { user: string; password: string };
    return { ...master, port, user, password, url: `mysql://${user}@127.0.0.1:${port}` };
  }
});
