/**
 * Several links of one daemon into one DR server, each with its own database, applying DDL at the
 * same time. A DDL logged without a default database makes each applier clear its session's
 * database (a scratch database created, used and dropped): links must not trip over each
 * other's scratch database.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { DaemonProcess, sql, tempStateDir, waitCaughtUp } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const LINKS = 6;
const ROUNDS = 15;

describeEachBackend("links sharing one DR server", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;
  const db = (i: number) => `st_db${i}`;
  const link = (i: number) => `st${i}`;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("shared-target"));
    client = daemon.client();
    for (let i = 0; i < LINKS; i++) {
      await client.createLink({ name: link(i), source: master.url, target: replica.url, include: [db(i)], initial: "none" });
    }
  });
  after(async () => {
    for (let i = 0; i < LINKS; i++) await client?.deleteLink(link(i)).catch(() => undefined);
    await daemon?.stop();
    const drop = Array.from({ length: LINKS }, (_, i) => `DROP DATABASE IF EXISTS ${db(i)}`).join("; ");
    await sql(master, drop).catch(() => undefined);
    await sql(replica, drop).catch(() => undefined);
  });

  it("apply DDL without a default database at the same time, and all stay running with the master's tables", async () => {
    // Each session has no default database, so every statement reaches its link with an empty schema.
    await Promise.all(
      Array.from({ length: LINKS }, async (_, i) => {
        await sql(master, `CREATE DATABASE ${db(i)}`);
        for (let r = 0; r < ROUNDS; r++) await sql(master, `CREATE TABLE ${db(i)}.t${r} (id INT PRIMARY KEY); DROP TABLE ${db(i)}.t${r}; CREATE TABLE ${db(i)}.t${r} (id INT PRIMARY KEY)`);
      }),
    );
    for (let i = 0; i < LINKS; i++) {
      const status = await waitCaughtUp(client, link(i), master);
      assert.equal(status.lastError, null, `link ${link(i)}: ${status.lastError}`);
      assert.equal(status.state, "running");
      const tables = await sql(replica, "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [db(i)]);
      assert.equal(Number(tables[0].n), ROUNDS, `${db(i)} on the DR server`);
    }
    const scratch = await sql(replica, "SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'mysql\\_dr\\_nodb%'");
    assert.deepEqual(scratch, [], "no scratch database is left behind");
  });
});
