/**
 * The link survives what happens to servers and networks: a master restart, a DR server restart
 * and connections cut from the server side. While it cannot work it retries with backoff and
 * shows why in status; afterwards it resumes from the checkpoint by itself.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const DOWN_MS = 3_000;

describeEachBackend("restarts and cut connections", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;

  before(async () => {
    ({ master, replica } = getPair());
    const schema = "CREATE DATABASE rs_db; CREATE TABLE rs_db.t (id INT PRIMARY KEY, v VARCHAR(20))";
    await sql(master, schema);
    await sql(replica, schema);
    daemon = await DaemonProcess.start(tempStateDir("restart"));
    client = daemon.client();
    await client.createLink({ name: "rs", source: master.url, target: replica.url, include: ["rs_db"], initial: "none" });
    await waitFor("link to run", async () => (await client.getLink("rs")).state === "running");
  });
  after(async () => {
    await daemon?.stop();
  });

  let nextId = 1;
  async function writeRows(n: number): Promise<void> {
    const values = Array.from({ length: n }, () => `(${nextId}, 'row ${nextId++}')`).join(", ");
    await sql(master, `INSERT INTO rs_db.t VALUES ${values}`);
  }

  async function expectIdentical(): Promise<LinkStatus> {
    const status = await waitCaughtUp(client, "rs", master);
    assert.equal(status.state, "running");
    assert.equal(status.lastError, null);
    assert.deepEqual(await tableContents(replica, "rs_db", "t"), await tableContents(master, "rs_db", "t"));
    return status;
  }

  /** Restarts `server` and checks the link said why it was not working while it was down. */
  async function restartAndWatch(server: TestServer, role: string): Promise<void> {
    if (!server.restart) return;
    const seen: LinkStatus[] = [];
    const watching = (async () => {
      const until = Date.now() + DOWN_MS + 1_000;
      while (Date.now() < until) {
        seen.push(await client.getLink("rs"));
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await server.restart(DOWN_MS);
    await watching;
    const retrying = seen.find((s) => s.state === "retrying");
    assert.ok(retrying, `the link never reported retrying while the ${role} was down: ${seen.map((s) => s.state).join(",")}`);
    assert.match(retrying!.lastError ?? "", new RegExp(`${role}|connect|connection|lost|closed|shutdown`, "i"));
    assert.ok(!(retrying!.lastError ?? "").includes("\n"));
  }

  it("resumes by itself after the master restarts", async function () {
    if (!master.restart) this.skip();
    await writeRows(50);
    await restartAndWatch(master, "source");
    await writeRows(50);
    await expectIdentical();
  });

  it("resumes by itself after the DR server restarts, without applying anything twice", async function () {
    if (!replica.restart) this.skip();
    await writeRows(50);
    await restartAndWatch(replica, "target");
    await writeRows(50);
    const status = await expectIdentical();
    assert.equal(status.rowsApplied, nextId - 1);
  });

  it("resumes by itself when the master cuts the binlog connection and the DR server kills the applier's session", async () => {
    await writeRows(20);
    await waitCaughtUp(client, "rs", master);
    const dumps = await sql(master, "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'");
    assert.ok(dumps.length > 0, "no binlog dump thread on the master");
    for (const { id } of dumps) await sql(master, `KILL ${Number(id)}`);
    await writeRows(20);
    await expectIdentical();
    const appliers = await sql(replica, "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID IN (SELECT IS_USED_LOCK('mysql_dr.link.rs'))");
    assert.equal(appliers.length, 1, "the applier's session should hold the link lock");
    await sql(replica, `KILL ${Number(appliers[0].id)}`);
    await writeRows(20);
    await expectIdentical();
  });
});
