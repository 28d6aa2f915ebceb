/**
 * "Save and verify" against real servers: `link create` checks connectivity, credentials, the
 * master's binlog settings, the target's identity, the request itself and link ownership before
 * it writes anything. Each refusal is one sentence, and afterwards neither server has gained a
 * mysql_dr schema or a checkpoint row, and the daemon does not list the link.
 * (gtid_mode OFF cannot be set on MariaDB: see provider/test/core/server-inspector.test.ts.)
 */
import * as assert from "node:assert/strict";
import * as dns from "node:dns/promises";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { DrError, type ErrorCode } from "../../src/core/errors";
import { lockName } from "../../src/dr-state/checkpoint-store";
import type { LinkRequest } from "../../src/daemon/request-schemas";
import { DaemonProcess, sql, tempStateDir, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";
import { pickFreePort } from "../../src/sandbox/sandbox";

const WRONG_PASSWORD = "n0t-the:r1ght@one";
const USER = "precheck_user";
const USER_PASSWORD = "right-pw";

interface ServerState {
  /** Whether the mysql_dr schema exists. */
  schema: boolean;
  /** Every checkpoint row, as text, sorted. */
  checkpoints: string[];
}

describeEachBackend("prechecks", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;
  let closedPort: number;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("prechecks"));
    client = daemon.client();
    closedPort = await pickFreePort();
    await sql(master, "CREATE USER ?@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO ?@'%'", [USER, USER_PASSWORD, USER]);
  });
  after(async () => {
    await daemon?.stop();
  });

  function withAuth(url: string, user: string, password: string): string {
    return url.replace(/\/\/[^@]*@/, `//${encodeURIComponent(user)}:${encodeURIComponent(password)}@`);
  }

  async function serverState(server: TestServer): Promise<ServerState> {
    const [{ n }] = await sql(server, "SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'mysql_dr'");
    if (Number(n) === 0) return { schema: false, checkpoints: [] };
    const tables = await sql(server, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql_dr' AND TABLE_NAME = 'checkpoint'");
    if (tables.length === 0) return { schema: true, checkpoints: [] };
    const rows = await sql(server, "SELECT link, source_gtid, rows_applied, updated_at FROM mysql_dr.checkpoint ORDER BY link");
    return { schema: true, checkpoints: rows.map((r) => JSON.stringify(r)) };
  }

  async function checkpointLinks(server: TestServer): Promise<string[]> {
    const state = await serverState(server);
    return state.checkpoints.map((r) => (JSON.parse(r) as { link: string }).link);
  }

  /**
   * Creates the link, expects a DrError with `code`, and checks the common promises: one
   * sentence, no password, nothing written on either server, no such link in the daemon.
   */
  async function expectRefused(
    req: Partial<LinkRequest> & { name: string },
    code: ErrorCode,
    { by = client, othersRunning = false }: { by?: DaemonClient; othersRunning?: boolean } = {},
  ): Promise<DrError> {
    // A running link advances its own checkpoint row: then only which rows exist is compared.
    const snapshot = async (server: TestServer) => {
      const state = await serverState(server);
      return othersRunning ? { schema: state.schema, links: await checkpointLinks(server) } : state;
    };
    const before = { master: await snapshot(master), replica: await snapshot(replica) };
    const full: LinkRequest = { source: master.url, target: replica.url, initial: "none", ...req };
    let refusal: unknown;
    try {
      await by.createLink(full);
    } catch (err) {
      refusal = err;
    }
    assert.ok(refusal instanceof DrError, `link create ${req.name} was not refused (got ${String(refusal)})`);
    assert.equal(refusal.code, code, refusal.message);
    assertOneSentence(refusal.message);
    for (const secret of [WRONG_PASSWORD, USER_PASSWORD]) {
      assert.ok(!refusal.message.includes(secret) && !refusal.message.includes(encodeURIComponent(secret)), "the message must not contain a password");
    }
    assert.deepEqual(await snapshot(replica), before.replica, "the target must be unchanged");
    assert.deepEqual(await snapshot(master), before.master, "the master must be unchanged");
    assert.ok(!(await by.listLinks()).some((l) => l.name === req.name), "the link must not be listed");
    await assert.rejects(by.getLink(req.name), (err: DrError) => err.code === "NOT_FOUND");
    return refusal;
  }

  /** Refusals on a target that has never had a link: not even the mysql_dr schema may appear. */
  async function expectRefusedOnCleanTarget(req: Partial<LinkRequest> & { name: string }, code: ErrorCode): Promise<DrError> {
    assert.equal((await serverState(replica)).schema, false, "precondition: the target has no mysql_dr schema yet");
    const err = await expectRefused(req, code);
    assert.equal((await serverState(replica)).schema, false, "no mysql_dr schema on the target");
    return err;
  }

  async function withGlobal(server: TestServer, variable: string, value: string, run: () => Promise<void>): Promise<void> {
    const [{ v: original }] = await sql(server, `SELECT @@GLOBAL.${variable} AS v`);
    await sql(server, `SET GLOBAL ${variable} = ?`, [value]);
    try {
      await run();
    } finally {
      // Only sessions opened from now on see the restored value; the daemon opens new ones per check.
      await sql(server, `SET GLOBAL ${variable} = ?`, [original]);
    }
  }

  it("refuses an unreachable source (closed port), naming it", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "no-source", source: `mysql://root@127.0.0.1:${closedPort}` }, "UNREACHABLE");
    assert.match(err.message, new RegExp(`^Cannot connect to the source server at 127\\.0\\.0\\.1:${closedPort} \\(connection refused\\)`));
  });

  it("refuses an unreachable target (closed port), naming it", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "no-target", target: `mysql://root@127.0.0.1:${closedPort}` }, "UNREACHABLE");
    assert.match(err.message, new RegExp(`^Cannot connect to the target server at 127\\.0\\.0\\.1:${closedPort} \\(connection refused\\)`));
  });

  it("refuses a wrong password: names the user, says access denied, never shows the password", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "bad-pw", source: withAuth(master.url, USER, WRONG_PASSWORD) }, "ACCESS_DENIED");
    assert.ok(err.message.includes(`'${USER}'`), err.message);
    assert.match(err.message, /access denied/i);
    assert.match(err.message, /source/);
    assert.ok(!err.message.includes(WRONG_PASSWORD) && !err.message.includes(encodeURIComponent(WRONG_PASSWORD)));
  });

  it("refuses a master with binlog_format=MIXED", async () => {
    await withGlobal(master, "binlog_format", "MIXED", async () => {
      const err = await expectRefusedOnCleanTarget({ name: "mixed" }, "PRECONDITION");
      assert.match(err.message, /binlog_format=MIXED; set binlog_format=ROW/);
    });
  });

  it("refuses a master with binlog_row_image=MINIMAL", async () => {
    await withGlobal(master, "binlog_row_image", "MINIMAL", async () => {
      const err = await expectRefusedOnCleanTarget({ name: "minimal-image" }, "PRECONDITION");
      assert.match(err.message, /binlog_row_image=MINIMAL; set binlog_row_image=FULL/);
    });
  });

  it("refuses a master with binlog_row_metadata=MINIMAL", async function () {
    const has = await sql(master, "SHOW GLOBAL VARIABLES LIKE 'binlog_row_metadata'");
    if (has.length === 0) {
      console.log(`      skipped: ${master.label} has no binlog_row_metadata setting`);
      this.skip();
    }
    await withGlobal(master, "binlog_row_metadata", "MINIMAL", async () => {
      const err = await expectRefusedOnCleanTarget({ name: "minimal-meta" }, "PRECONDITION");
      assert.match(err.message, /binlog_row_metadata=MINIMAL; set binlog_row_metadata=FULL/);
    });
  });

  it("refuses the master itself as the target (same URL)", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "self", target: master.url }, "PRECONDITION");
    assert.match(err.message, /points at the source server itself/);
  });

  it("refuses the master itself as the target when reached through another host spelling (localhost)", async function () {
    if (master.host !== "127.0.0.1") this.skip();
    const addresses = await dns.lookup("localhost", { all: true });
    if (!addresses.some((a) => a.address === "127.0.0.1")) {
      console.log("      skipped: localhost does not resolve to 127.0.0.1 here");
      this.skip();
    }
    const target = master.url.replace("@127.0.0.1:", "@localhost:");
    assert.notEqual(target, master.url);
    const err = await expectRefusedOnCleanTarget({ name: "self-alias", target }, "PRECONDITION");
    assert.match(err.message, new RegExp(`points at the source server itself \\(localhost:${master.port}\\)`));
  });

  it("refuses a malformed URL", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "bad-url", target: `mysql//root:${encodeURIComponent(WRONG_PASSWORD)}@nowhere` }, "BAD_INPUT");
    assert.match(err.message, /^The target URL is not a valid URL/);
  });

  it("refuses a malformed include pattern, naming it", async () => {
    const err = await expectRefusedOnCleanTarget({ name: "bad-pattern", include: ["shop.orders.x"] }, "BAD_INPUT");
    assert.match(err.message, /^--include pattern "shop\.orders\.x" is malformed/);
  });

  it("refuses a selected non-transactional table (MyISAM), naming it and the fix", async () => {
    await sql(master, "CREATE DATABASE pre_engine; CREATE TABLE pre_engine.m (id INT PRIMARY KEY) ENGINE=MyISAM; CREATE TABLE pre_engine.ok (id INT PRIMARY KEY)");
    await sql(replica, "CREATE DATABASE pre_engine; CREATE TABLE pre_engine.m (id INT PRIMARY KEY) ENGINE=MyISAM; CREATE TABLE pre_engine.ok (id INT PRIMARY KEY)");
    try {
      const err = await expectRefusedOnCleanTarget({ name: "myisam", include: ["pre_engine"] }, "PRECONDITION");
      assert.match(err.message, /^Table `pre_engine`.`m` uses the MyISAM engine, which cannot roll back, .*convert it to InnoDB \(ENGINE=InnoDB\) on both servers, or leave it out of the link with --exclude\.$/);
      // Excluded, the rest of the database is accepted.
      await client.createLink({ name: "myisam-excluded", source: master.url, target: replica.url, include: ["pre_engine"], exclude: ["pre_engine.m"], initial: "none" });
      await client.deleteLink("myisam-excluded");
    } finally {
      await sql(master, "DROP DATABASE pre_engine");
      await sql(replica, "DROP DATABASE pre_engine");
    }
  });

  it("refuses a selected table with a trigger on the DR server (it would fire on replicated rows)", async () => {
    await sql(master, "CREATE DATABASE pre_trigger; CREATE TABLE pre_trigger.t (id INT PRIMARY KEY); CREATE TABLE pre_trigger.log (n INT)");
    await sql(replica, `CREATE DATABASE pre_trigger; CREATE TABLE pre_trigger.t (id INT PRIMARY KEY); CREATE TABLE pre_trigger.log (n INT);
      CREATE TRIGGER pre_trigger.t_ins AFTER INSERT ON pre_trigger.t FOR EACH ROW INSERT INTO pre_trigger.log VALUES (NEW.id)`);
    try {
      const err = await expectRefused({ name: "dr-trigger", include: ["pre_trigger"] }, "PRECONDITION");
      assert.match(err.message, /^Table `pre_trigger`.`t` has trigger\(s\) t_ins on the DR server, which would fire on replicated rows/);
    } finally {
      await sql(master, "DROP DATABASE pre_trigger");
      await sql(replica, "DROP DATABASE pre_trigger");
    }
  });

  it("refuses an existing link name (CONFLICT) and leaves the existing link as it was", async () => {
    await client.createLink({ name: "dup", source: master.url, target: replica.url, initial: "none" });
    await waitFor("link dup to run", async () => (await client.getLink("dup")).state === "running");
    await client.pauseLink("dup");
    const original = await client.getLink("dup");
    const before = await serverState(replica);
    let refusal: unknown;
    try {
      await client.createLink({ name: "dup", source: master.url, target: replica.url, include: ["other"], initial: "none" });
    } catch (err) {
      refusal = err;
    }
    assert.ok(refusal instanceof DrError, "the second create must be refused");
    assert.equal(refusal.code, "CONFLICT");
    assertOneSentence(refusal.message);
    assert.match(refusal.message, /^Link dup exists already/);
    assert.deepEqual(await serverState(replica), before, "the checkpoint must be unchanged");
    const after = await client.getLink("dup");
    assert.deepEqual(after.include, original.include);
    assert.equal(after.state, "paused");
    await client.deleteLink("dup");
  });

  it("refuses the same link name from a second daemon while the first applies it, naming the lock", async () => {
    await client.createLink({ name: "owned", source: master.url, target: replica.url, initial: "none" });
    await waitFor("link owned to run", async () => (await client.getLink("owned")).state === "running");
    const second = await DaemonProcess.start(tempStateDir("prechecks-second"));
    try {
      const linksBefore = await checkpointLinks(replica);
      assert.ok(linksBefore.includes("owned"));
      const err = await expectRefused({ name: "owned" }, "CONFLICT", { by: second.client(), othersRunning: true });
      assert.ok(err.message.includes(lockName("owned")), `the message must name the lock ${lockName("owned")}: ${err.message}`);
      assert.deepEqual(await checkpointLinks(replica), linksBefore);
      assert.equal((await client.getLink("owned")).state, "running", "the first daemon keeps applying");
    } finally {
      await second.stop();
      await client.deleteLink("owned");
    }
  });
});

function assertOneSentence(message: string): void {
  assert.ok(!message.includes("\n"), `one line: ${message}`);
  assert.match(message, /^[A-Z-].*\.$/, `a sentence: ${message}`);
  assert.doesNotMatch(message, /\.\s+[A-Z]/, `only one sentence: ${message}`);
}
