/**
 * A failed promotion, against real servers: before the DR server opens, every failure puts both
 * servers and the links back exactly as they were (the master writable only if it was) and says
 * what it waited for; once the DR server has opened, nothing is undone and the old master stays
 * read-only. At no step are both servers writable.
 */
import * as assert from "node:assert/strict";
import type * as mysql from "mysql2/promise";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { gtidCovers } from "../../src/core/gtid";
import { type PromotionStep, promote } from "../../src/promote/promoter";
import { DaemonProcess, connect, masterPosition, runCli, serverAddress, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("promote: rollback", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;
  const DB = "rollback_db";
  const LINK = "rb";

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("promote-rollback"));
    client = daemon.client();
    await sql(master, `CREATE DATABASE ${DB}; CREATE TABLE ${DB}.t (id INT PRIMARY KEY); INSERT INTO ${DB}.t VALUES (1)`);
    await createLink(false);
  });
  after(async () => {
    await daemon?.stop();
  });

  async function createLink(reusePromoted: boolean): Promise<void> {
    // Promotion alone: the link must not run back to the old master afterwards (test/daemon/failback.test.ts does).
    await client.createLink({ name: LINK, source: master.url, target: replica.url, include: [DB], initial: "full", overwrite: true, reusePromoted, failback: { enabled: false } });
    await waitFor(`${LINK} in sync`, async () => {
      const s = await client.getLink(LINK);
      return s.state === "running" && s.phase === "syncing";
    });
    await sql(replica, "SET GLOBAL read_only = ON");
  }

  const readOnly = async (server: TestServer) => Number((await sql(server, "SELECT @@GLOBAL.read_only AS ro"))[0].ro) === 1;
  const fenced = async (link: string) => Number((await sql(replica, "SELECT fenced FROM mysql_dr.checkpoint WHERE link = ?", [link]))[0].fenced) === 1;
  const applied = async () => String((await sql(replica, "SELECT source_gtid FROM mysql_dr.checkpoint WHERE link = ?", [LINK]))[0].source_gtid);
  const hostPort = (server: TestServer) => `${server.host}:${server.port}`.replace(/\./g, "\\.");

  /** Holds a DR table locked so the link's applier cannot apply past it, until `release`. */
  async function stallApplier(): Promise<{ release(): Promise<void> }> {
    const locker: mysql.Connection = await connect(replica);
    await locker.query(`LOCK TABLES ${DB}.t WRITE`);
    return { release: () => locker.end() };
  }

  /** A master write the DR copy cannot apply while the table is locked; `written` is the master's position after it. */
  async function masterWriteTheDrCannotApply(id: number): Promise<{ release(): Promise<void>; written: string; reached: string }> {
    await waitCaughtUp(client, LINK, master);
    const reached = await applied();
    const stall = await stallApplier();
    await sql(master, `INSERT INTO ${DB}.t VALUES (${id})`);
    return { ...stall, written: await masterPosition(master), reached };
  }

  async function replicatesOn(id: number): Promise<void> {
    await sql(master, `INSERT INTO ${DB}.t VALUES (${id})`);
    await waitCaughtUp(client, LINK, master);
    assert.equal((await client.getLink(LINK)).state, "running");
    assert.deepEqual(await tableContents(replica, DB, "t"), await tableContents(master, DB, "t"));
  }

  it("timed out (a DR table locked): the master is writable again, the DR server read-only, the link unfenced and replicating; the error says what it waited for", async () => {
    const { release, written, reached } = await masterWriteTheDrCannotApply(2);
    try {
      const r = runCli(["promote", "--source", master.url, "--target", replica.url, "--timeout", "1"]);
      assert.equal(r.code, 1, r.stdout);
      const said = new RegExp(`^mysql-dr: The promotion waited 1 s for link ${LINK} on the DR server at ${hostPort(replica)} to apply the master's transactions up to (\\S+), but it had applied up to ${reached}; everything was restored \\(the master at ${hostPort(master)} writable as before\\): let the link catch up .* raise promotion\\.timeoutSeconds \\(--timeout\\)\\.$`, "m").exec(r.stderr);
      assert.ok(said, r.stderr);
      // The daemon's heartbeats move the master on, so the wanted position is at least the write's.
      assert.ok(gtidCovers(master.flavor, said[1], written), `waited for ${said[1]}, which covers the write at ${written}`);
      assert.equal(await readOnly(master), false, "the master was writable before");
      assert.equal(await readOnly(replica), true);
      assert.equal(await fenced(LINK), false);
    } finally {
      await release();
    }
    await replicatesOn(3);
  });

  it("timed out with a master that was read-only before: it stays read-only", async () => {
    const { release } = await masterWriteTheDrCannotApply(4);
    await sql(master, "SET GLOBAL read_only = ON");
    try {
      const r = runCli(["promote", "--source", master.url, "--target", replica.url, "--timeout", "1"]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`everything was restored \\(the master at ${hostPort(master)} read-only as before\\)`));
      assert.equal(await readOnly(master), true, "a master read-only before the promotion is never made writable by it");
      if (master.flavor === "mysql") assert.equal(Number((await sql(master, "SELECT @@GLOBAL.super_read_only AS s"))[0].s), 0, "super_read_only as before too");
      assert.equal(await readOnly(replica), true);
      assert.equal(await fenced(LINK), false);
    } finally {
      await sql(master, "SET GLOBAL read_only = OFF");
      await release();
    }
    await replicatesOn(5);
  });

  it("with an injected failure after fencing, before opening: only this promotion's marks are taken back, the master stays read-only as it was, the DR server read-only", async () => {
    // A link fenced by an earlier promotion: its mark is not this promotion's to take back.
    await sql(replica, "INSERT INTO mysql_dr.checkpoint (link, source_gtid, source_identity, fenced) SELECT 'earlier', source_gtid, source_identity, 1 FROM mysql_dr.checkpoint WHERE link = ?", [LINK]);
    await waitCaughtUp(client, LINK, master);
    await sql(master, "SET GLOBAL read_only = ON");
    try {
      const failure = await promote({
        target: serverAddress(replica),
        master: serverAddress(master),
        onStep: async (step) => {
          if (step === "links-fenced") throw new Error("injected failure");
        },
      }).then(() => undefined, (err: Error) => err);
      assert.ok(failure, "the promotion reports the failure");
      assert.match(failure.message, new RegExp(`^The promotion failed after the links were fenced \\(injected failure\\); everything was restored \\(link ${LINK} unfenced, the master at ${hostPort(master)} read-only as before\\)\\.$`));
      assert.equal(await readOnly(master), true, "read-only before, read-only after");
      assert.equal(await readOnly(replica), true);
      assert.equal(await fenced(LINK), false, "this promotion's mark taken back");
      assert.equal(await fenced("earlier"), true, "the earlier promotion's mark kept");
    } finally {
      await sql(master, "SET GLOBAL read_only = OFF");
      await sql(replica, "DELETE FROM mysql_dr.checkpoint WHERE link = 'earlier'");
    }
    // The applier the promotion killed comes back, finds its mark taken back, and goes on.
    await replicatesOn(6);
  });

  it("with an injected failure after the DR server opened: the promotion stands, the master stays read-only, the link stays fenced, and the error says so", async () => {
    await waitCaughtUp(client, LINK, master);
    const failure = await promote({
      target: serverAddress(replica),
      master: serverAddress(master),
      onStep: async (step) => {
        if (step === "dr-opened") throw new Error("injected failure");
      },
    }).then(() => undefined, (err: Error) => err);
    assert.ok(failure, "the promotion reports the failure");
    assert.match(failure.message, new RegExp(`^The promotion failed after the DR server at ${hostPort(replica)} was made writable \\(injected failure\\), yet it stands: the DR server at ${hostPort(replica)} is the writable server and the master at ${hostPort(master)} stays read-only and link ${LINK} stays fenced`));
    assert.equal(await readOnly(master), true, "never reopened once the DR server may hold writes");
    assert.equal(await readOnly(replica), false);
    assert.equal(await fenced(LINK), true);
    await waitFor("the link to stop as promoted", async () => (await client.getLink(LINK)).state === "promoted");
  });

  it("planned: at every step at least one server is read-only, and the master closes before the DR server opens", async () => {
    // Back to a DR copy after the previous test's promotion.
    await client.deleteLink(LINK);
    await sql(master, "SET GLOBAL read_only = OFF");
    await createLink(true);
    await sql(master, `INSERT INTO ${DB}.t VALUES (7)`);
    const seen: { step: PromotionStep; master: boolean; dr: boolean }[] = [];
    const started = Date.now();
    const result = await promote({
      target: serverAddress(replica),
      master: serverAddress(master),
      onStep: async (step) => {
        seen.push({ step, master: !(await readOnly(master)), dr: !(await readOnly(replica)) });
      },
    });
    console.log(`      planned promotion: ${Date.now() - started} ms (with 3 rounds of sampling both servers)`);
    assert.deepEqual(seen, [
      { step: "master-read-only", master: false, dr: false },
      { step: "links-fenced", master: false, dr: false },
      { step: "dr-opened", master: false, dr: true },
    ], "writable: never both");
    assert.deepEqual(result.fencedLinks, [LINK]);
    assert.deepEqual(await tableContents(replica, DB, "t"), await tableContents(master, DB, "t"), "zero loss");
  });
});
