/**
 * Replication against real servers: every column type value for value, selection, DDL, batching,
 * lag and odd credentials. One server pair and one daemon (a child process running in a time zone
 * different from the servers') per backend.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { DaemonClient } from "../../src/cli/daemon-client";
import { openWireConnection } from "../../src/core/db";
import { definitionsDigest } from "../../src/stream/ddl-guard";
import { heartbeatKey } from "../../src/stream/heartbeat";
import { STATE_FILES } from "../../src/core/state-dir";
import { DaemonProcess, connect, masterPosition, serverAddress, sleep, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";
import { insertTypeMatrix, typeMatrixDdl } from "../support/type-matrix";

/** Far from UTC and not a whole hour: a TIMESTAMP converted through the daemon's zone would show. */
const DAEMON_TZ = "Asia/Kathmandu";

describeEachBackend("replication", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("replication"), { TZ: DAEMON_TZ });
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  async function createLink(name: string, extra: { include?: string[]; exclude?: string[]; source?: string; target?: string } = {}) {
    return client.createLink({ name, source: extra.source ?? master.url, target: extra.target ?? replica.url, include: extra.include, exclude: extra.exclude, initial: "none" });
  }

  async function onBoth(statements: string) {
    await sql(master, statements);
    await sql(replica, statements);
  }

  it("replicates INSERT, UPDATE and DELETE of every column type value for value", async () => {
    await onBoth(typeMatrixDdl(master.flavor, "types"));
    await createLink("types", { include: ["types"] });
    await insertTypeMatrix(master, "types");
    await waitCaughtUp(client, "types", master);
    for (const t of ["all_types", "text_types"]) assert.deepEqual(await tableContents(replica, "types", t), await tableContents(master, "types", t), t);
    const before = await tableContents(replica, "types", "all_types");
    assert.equal(before.length, 4);

    await sql(master, `SET SESSION sql_mode = '';
      UPDATE types.all_types SET biu = IF(biu > 0, biu - 1, 1), d = -d, vc = CONCAT(vc, '✓'), vb = REVERSE(vb), ts = '2001-02-03 04:05:06.123456', e = 'a', s = 'z', b64 = b'1010' WHERE id IN (2, 4);
      UPDATE types.all_types SET tx = 'was null', j = '{"k": 1}' WHERE id = 3;
      DELETE FROM types.all_types WHERE id = 1`);
    await waitCaughtUp(client, "types", master);
    const after = await tableContents(replica, "types", "all_types");
    assert.deepEqual(after, await tableContents(master, "types", "all_types"));
    assert.equal(after.length, 3);
    assert.notDeepEqual(after, before.slice(1), "the updates must have changed the DR rows");
    await sql(master, "CREATE USER 'only_on_master'@'%'");
    await waitCaughtUp(client, "types", master);
    const status = await client.getLink("types");
    assert.match(status.accounts, /^not copied: the link selects databases or tables/);
    assert.equal(status.accountStatementsSkipped, 1);
    assert.equal(Number((await sql(replica, "SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'only_on_master'"))[0].n), 0, "a link with an include list leaves accounts alone");
    await client.deleteLink("types");
  });

  it("applies rows and DDL of the selected databases and tables only", async () => {
    await createLink("selection", { include: ["sel_a", "sel_b.keep*"], exclude: ["sel_a.skip"] });
    await sql(master, `
      CREATE DATABASE sel_a; CREATE TABLE sel_a.t (id INT PRIMARY KEY); CREATE TABLE sel_a.skip (id INT PRIMARY KEY);
      CREATE DATABASE sel_b; CREATE TABLE sel_b.keep1 (id INT PRIMARY KEY); CREATE TABLE sel_b.other (id INT PRIMARY KEY);
      CREATE DATABASE sel_c; CREATE TABLE sel_c.t (id INT PRIMARY KEY);
      INSERT INTO sel_a.t VALUES (1), (2); INSERT INTO sel_a.skip VALUES (1); INSERT INTO sel_b.keep1 VALUES (3); INSERT INTO sel_b.other VALUES (4); INSERT INTO sel_c.t VALUES (5);
      BEGIN; INSERT INTO sel_a.t VALUES (6); INSERT INTO sel_b.other VALUES (7); COMMIT`);
    await waitCaughtUp(client, "selection", master);
    assert.deepEqual(await tableContents(replica, "sel_a", "t"), ['{"id":1}', '{"id":2}', '{"id":6}']);
    assert.deepEqual(await tableContents(replica, "sel_b", "keep1"), ['{"id":3}']);
    const tables = await sql(replica, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'sel\\_%' ORDER BY 1");
    assert.deepEqual(tables.map((r) => r.t), ["sel_a.t", "sel_b.keep1"]);
    await client.deleteLink("selection");
  });

  it("replays CREATE, ALTER, RENAME, TRUNCATE and DROP in order", async () => {
    await createLink("ddl", { include: ["ddl_db", "ddl_gone"] });
    await sql(master, `
      CREATE DATABASE ddl_db; USE ddl_db;
      CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10));
      INSERT INTO t VALUES (1, 'one');
      ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7, ADD INDEX ia (a);
      INSERT INTO t VALUES (2, 'two', 8);
      RENAME TABLE t TO t2;
      INSERT INTO t2 VALUES (3, 'three', 9);
      CREATE TABLE scratch (id INT PRIMARY KEY); INSERT INTO scratch VALUES (1);
      TRUNCATE TABLE scratch; INSERT INTO scratch VALUES (2);
      CREATE TABLE dropme (id INT); DROP TABLE dropme;
      ALTER TABLE t2 DROP COLUMN a;
      UPDATE t2 SET b = b * 10;
      CREATE DATABASE ddl_gone; CREATE TABLE ddl_gone.x (id INT); DROP DATABASE ddl_gone`);
    await waitCaughtUp(client, "ddl", master);
    for (const table of ["t2", "scratch"]) {
      const [m] = await sql(master, `SHOW CREATE TABLE ddl_db.${table}`);
      const [r] = await sql(replica, `SHOW CREATE TABLE ddl_db.${table}`);
      assert.equal(r["Create Table"], m["Create Table"]);
      assert.deepEqual(await tableContents(replica, "ddl_db", table), await tableContents(master, "ddl_db", table));
    }
    assert.deepEqual(await tableContents(replica, "ddl_db", "t2"), ['{"id":1,"b":70}', '{"id":2,"b":80}', '{"id":3,"b":90}']);
    const gone = await sql(replica, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('ddl_gone') OR (SCHEMA_NAME = 'ddl_db' AND 0)");
    assert.deepEqual(gone, []);
    const leftover = await sql(replica, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'ddl_db' ORDER BY 1");
    assert.deepEqual(leftover.map((r) => r.TABLE_NAME), ["scratch", "t2"]);
    const status = await client.getLink("ddl");
    assert.equal(status.state, "running");
    await client.deleteLink("ddl");
  });

  it("replays the DDL in flight at a crash only when it did not run, and never skips a DDL that failed", async () => {
    await createLink("replay", { include: ["replay_db"] });
    await sql(master, "CREATE DATABASE replay_db; CREATE TABLE replay_db.t (id INT PRIMARY KEY)");
    await waitCaughtUp(client, "replay", master);
    const table = { tables: [{ db: "replay_db", table: "t" }], databases: [] };
    /** What the applier writes before it runs a DDL: the GTID and a digest of the table as it is now. */
    const markInFlight = async (gtid: string) => {
      const conn = await openWireConnection(serverAddress(replica), "target");
      try {
        const before = await definitionsDigest(conn, table);
        await conn.query("UPDATE mysql_dr.checkpoint SET pending_ddl_gtid = ?, pending_ddl_state = ? WHERE link = 'replay'", [gtid, JSON.stringify({ gtid, before })]);
      } finally {
        conn.destroy();
      }
    };
    const sameDefinition = async () => {
      const [m] = await sql(master, "SHOW CREATE TABLE replay_db.t");
      const [r] = await sql(replica, "SHOW CREATE TABLE replay_db.t");
      assert.equal(r["Create Table"], m["Create Table"]);
    };

    // The crash came after the DR server ran the ALTER, before the checkpoint moved: not run again.
    await client.pauseLink("replay");
    await sql(master, "ALTER TABLE replay_db.t ADD COLUMN c INT");
    await markInFlight(await lastGtid(master));
    await sql(master, "INSERT INTO replay_db.t VALUES (1, 10)");
    await sql(replica, "ALTER TABLE replay_db.t ADD COLUMN c INT");
    await client.resumeLink("replay");
    await waitCaughtUp(client, "replay", master);
    assert.deepEqual(await tableContents(replica, "replay_db", "t"), ['{"id":1,"c":10}']);
    const [row] = await sql(replica, "SELECT pending_ddl_gtid, pending_ddl_state FROM mysql_dr.checkpoint WHERE link = 'replay'");
    assert.deepEqual([row.pending_ddl_gtid, row.pending_ddl_state], [null, null]);

    // The crash came before the DR server ran it: it runs now.
    await client.pauseLink("replay");
    await sql(master, "ALTER TABLE replay_db.t ADD COLUMN d INT");
    await markInFlight(await lastGtid(master));
    await sql(master, "INSERT INTO replay_db.t VALUES (2, 20, 30)");
    await client.resumeLink("replay");
    await waitCaughtUp(client, "replay", master);
    await sameDefinition();
    assert.deepEqual(await tableContents(replica, "replay_db", "t"), ['{"id":1,"c":10,"d":null}', '{"id":2,"c":20,"d":30}']);

    // A DDL that really fails on the DR server stops the link, and resuming does not skip it (the
    // index it also adds would be lost); once the DR server is fixed, it runs whole.
    await client.pauseLink("replay");
    await sql(replica, "ALTER TABLE replay_db.t ADD COLUMN e INT");
    await sql(master, "ALTER TABLE replay_db.t ADD COLUMN e INT, ADD INDEX ie (e)");
    const stoppedOn = async () => waitFor("link to stop on the failing DDL", async () => {
      const s = await client.getLink("replay");
      return s.state === "error" ? s : undefined;
    });
    await client.resumeLink("replay");
    assert.match((await stoppedOn()).lastError ?? "", /DDL from the master failed on the DR server at GTID \S+ \(Duplicate column name 'e'/);
    await client.resumeLink("replay");
    assert.match((await stoppedOn()).lastError ?? "", /Duplicate column name 'e'/);
    assert.deepEqual(await sql(replica, "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'replay_db' AND INDEX_NAME = 'ie'"), []);
    await sql(replica, "ALTER TABLE replay_db.t DROP COLUMN e");
    await client.resumeLink("replay");
    await waitCaughtUp(client, "replay", master);
    await sameDefinition();
    await client.deleteLink("replay");
  });

  it("with onMissingRow skip-and-count, skips and counts changes to rows the DR server lacks; with error, stops at them", async () => {
    await onBoth("CREATE DATABASE miss_db; CREATE TABLE miss_db.t (id INT PRIMARY KEY, v INT); INSERT INTO miss_db.t VALUES (1, 1), (2, 2), (3, 3)");
    await client.createLink({ name: "miss", source: master.url, target: replica.url, include: ["miss_db"], initial: "none", onMissingRow: "skip-and-count" });
    await sql(replica, "DELETE FROM miss_db.t WHERE id IN (1, 2)");
    await sql(master, "UPDATE miss_db.t SET v = 10 WHERE id = 1; DELETE FROM miss_db.t WHERE id = 2; UPDATE miss_db.t SET v = 30 WHERE id = 3; INSERT INTO miss_db.t VALUES (4, 4)");
    const status = await waitCaughtUp(client, "miss", master);
    assert.equal(status.state, "running");
    assert.equal(status.missingRowsSkipped, 2);
    assert.equal(status.onMissingRow, "skip-and-count");
    assert.deepEqual(await tableContents(replica, "miss_db", "t"), ['{"id":3,"v":30}', '{"id":4,"v":4}']);

    await client.updateLink("miss", { onMissingRow: "error" });
    await sql(master, "UPDATE miss_db.t SET v = 11 WHERE id = 1");
    const stopped = await waitFor("the link to stop on the missing row", async () => {
      const s = await client.getLink("miss");
      return s.state === "error" ? s : undefined;
    });
    assert.match(stopped.lastError ?? "", /^The UPDATE of `miss_db`.`t` in GTID \S+ \(row key values redacted\) found no row to change on the DR server/);
    assert.equal(stopped.missingRowsSkipped, 2, "the count survives and does not grow");
    await assert.rejects(client.updateLink("miss", { onMissingRow: "ignore" }), /--on-missing-row "ignore" is not a choice; use error .* or skip-and-count/);
    await client.deleteLink("miss");
  });

  it("stops, rather than write NULL, when a value does not fit the DR server's max_allowed_packet", async () => {
    await onBoth("CREATE DATABASE packet_db; CREATE TABLE packet_db.t (id INT PRIMARY KEY, b LONGBLOB NULL)");
    await createLink("packet", { include: ["packet_db"] });
    await waitCaughtUp(client, "packet", master);
    const [{ v: original }] = await sql(replica, "SELECT @@GLOBAL.max_allowed_packet AS v");
    // Lowered after link create checked it: the applier's next session gets 2 MiB.
    await sql(replica, "SET GLOBAL max_allowed_packet = 2097152");
    try {
      await client.pauseLink("packet");
      await client.resumeLink("packet");
      await sql(master, "INSERT INTO packet_db.t VALUES (1, REPEAT(UNHEX('00FF'), 1500000))");
      const stopped = await waitFor("the link to stop on the oversized value", async () => {
        const s = await client.getLink("packet");
        return s.state === "error" ? s : undefined;
      });
      assert.match(stopped.lastError ?? "", /^The INSERT of `packet_db`.`t` in GTID \S+ \(row key values redacted\) failed on the DR server: .*a value of 3000000 bytes does not fit the max_allowed_packet of the DR server/);
      assert.deepEqual(await sql(replica, "SELECT id FROM packet_db.t"), [], "nothing, not a NULL, was written");
    } finally {
      await sql(replica, `SET GLOBAL max_allowed_packet = ${Number(original)}`);
    }
    await client.resumeLink("packet");
    await waitCaughtUp(client, "packet", master);
    assert.deepEqual(await tableContents(replica, "packet_db", "t"), await tableContents(master, "packet_db", "t"));
    await client.deleteLink("packet");
  });

  it("commits many source transactions as one target transaction", async () => {
    await onBoth("CREATE DATABASE batch_db; CREATE TABLE batch_db.t (id INT PRIMARY KEY)");
    await createLink("batch", { include: ["batch_db"] });
    await waitCaughtUp(client, "batch", master);
    await client.pauseLink("batch");
    const SOURCE_TRANSACTIONS = 400;
    await sql(master, Array.from({ length: SOURCE_TRANSACTIONS }, (_, i) => `INSERT INTO batch_db.t VALUES (${i})`).join(";"));
    const targetCommitsBefore = await binlogTransactionCount(replica);
    const appliedBefore = (await client.getLink("batch")).transactionsApplied;
    await client.resumeLink("batch");
    const status = await waitCaughtUp(client, "batch", master);
    const targetCommits = (await binlogTransactionCount(replica)) - targetCommitsBefore;
    assert.equal((await sql(replica, "SELECT COUNT(*) AS n FROM batch_db.t"))[0].n, String(SOURCE_TRANSACTIONS));
    assert.ok(status.transactionsApplied - appliedBefore >= SOURCE_TRANSACTIONS, `applied ${status.transactionsApplied - appliedBefore} source transactions`);
    assert.ok(targetCommits < SOURCE_TRANSACTIONS / 4, `${SOURCE_TRANSACTIONS} source transactions took ${targetCommits} target commits`);
    await client.deleteLink("batch");
  });

  it("writes the checkpoint inside the target transaction of the rows it covers (statement order seen by the DR server)", async () => {
    await onBoth("CREATE DATABASE order_db; CREATE TABLE order_db.t (id INT PRIMARY KEY, v INT)");
    await createLink("order", { include: ["order_db"] });
    await waitCaughtUp(client, "order", master);
    await sql(replica, "SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; SET GLOBAL general_log = ON");
    try {
      await sql(master, "INSERT INTO order_db.t VALUES (1, 1); BEGIN; INSERT INTO order_db.t VALUES (2, 2); UPDATE order_db.t SET v = 3 WHERE id = 1; COMMIT; DELETE FROM order_db.t WHERE id = 2");
      await waitCaughtUp(client, "order", master);
    } finally {
      await sql(replica, "SET GLOBAL general_log = OFF");
    }
    const [holder] = await sql(replica, "SELECT IS_USED_LOCK('mysql_dr.link.order') AS id");
    const log = await sql(replica, "SELECT CONVERT(argument USING utf8mb4) AS stmt FROM mysql.general_log WHERE thread_id = ? AND command_type = 'Query' ORDER BY event_time", [holder.id]);
    // A round trip carries several statements: split them, in order.
    const statements = log.flatMap(({ stmt }) => String(stmt).split(/;\n/));
    const kinds = statements.map((text) => {
      if (/^START TRANSACTION/.test(text)) return "BEGIN";
      if (/^COMMIT/.test(text)) return "COMMIT";
      if (/^UPDATE mysql_dr\.checkpoint SET source_gtid/.test(text)) return "CHECKPOINT";
      if (/order_db/.test(text)) return "ROWS";
      return "OTHER";
    }).filter((k) => k !== "OTHER");
    // Every row statement sits between BEGIN and a CHECKPOINT that precedes its COMMIT.
    let open = false;
    let rowsSinceCheckpoint = 0;
    let checkpointed = false;
    for (const k of kinds) {
      if (k === "BEGIN") { assert.ok(!open, `nested BEGIN in ${kinds}`); open = true; checkpointed = false; rowsSinceCheckpoint = 0; }
      if (k === "ROWS") { assert.ok(open, `row statement outside a transaction in ${kinds}`); rowsSinceCheckpoint++; }
      if (k === "CHECKPOINT") { assert.ok(open, `checkpoint outside a transaction in ${kinds}`); checkpointed = true; rowsSinceCheckpoint = 0; }
      if (k === "COMMIT") { assert.ok(open && checkpointed && rowsSinceCheckpoint === 0, `COMMIT without the checkpoint after its rows in ${kinds}`); open = false; }
    }
    assert.ok(kinds.filter((k) => k === "ROWS").length >= 3, `expected the row statements in the log: ${kinds}`);
    await client.deleteLink("order");
  });

  it("measures lag from the heartbeat: 0 when caught up and idle, growing while the DR server is blocked", async () => {
    await onBoth("CREATE DATABASE lag_db; CREATE TABLE lag_db.t (id INT PRIMARY KEY, v INT)");
    await sql(master, "INSERT INTO lag_db.t VALUES (1, 0)");
    await createLink("lag", { include: ["lag_db"] });
    await sql(replica, "INSERT INTO lag_db.t VALUES (1, 0)");
    await waitCaughtUp(client, "lag", master);
    await sleep(1000);
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await client.getLink("lag");
      assert.equal(s.lagSource, "heartbeat");
      samples.push(s.lagSeconds!);
      await sleep(100);
    }
    assert.ok(samples.every((l) => l < 0.25), `idle lag samples ${samples}`);
    assert.ok(samples.filter((l) => l === 0).length >= 5, `idle lag should read 0 when caught up: ${samples}`);

    const blocker = await connect(replica);
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT * FROM lag_db.t WHERE id = 1 FOR UPDATE");
      await sql(master, "UPDATE lag_db.t SET v = 1 WHERE id = 1");
      const behind = await waitFor("lag to grow past 1 s", async () => {
        const s = await client.getLink("lag");
        return s.lagSeconds !== null && s.lagSeconds >= 1 ? s : undefined;
      }, 30_000);
      const ms = behind.lagSeconds! * 1000;
      assert.ok(Math.abs(ms - Math.round(ms)) < 1e-6, `lag is reported in whole milliseconds: ${behind.lagSeconds}`);
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
    await waitCaughtUp(client, "lag", master);
    await waitFor("lag to fall back under 0.25 s", async () => ((await client.getLink("lag")).lagSeconds! < 0.25 ? true : undefined), 30_000);
    await client.deleteLink("lag");
  });

  it("gives the links from one master one heartbeat row, which each measures its lag by and which outlives them", async () => {
    await onBoth("CREATE DATABASE hb_a; CREATE TABLE hb_a.t (id INT PRIMARY KEY); CREATE DATABASE hb_b; CREATE TABLE hb_b.t (id INT PRIMARY KEY)");
    const key = heartbeatKey(fs.readFileSync(path.join(daemon.stateDir, STATE_FILES.daemonId), "utf8").trim(), master.user);
    const rowsOfDaemon = async () => (await sql(master, "SELECT link FROM mysql_dr.heartbeat WHERE link LIKE ?", [`${key.split("/")[0]}%`])).map((r) => String(r.link));
    await createLink("hb-a", { include: ["hb_a"] });
    await createLink("hb-b", { include: ["hb_b"] });
    await sql(master, "INSERT INTO hb_a.t VALUES (1); INSERT INTO hb_b.t VALUES (1)");
    for (const link of ["hb-a", "hb-b"]) await waitCaughtUp(client, link, master);
    assert.deepEqual(await rowsOfDaemon(), [key]);
    // Each link applies the shared row's markers: idle, its lag reads 0 (unapplied markers would make it grow).
    await sleep(1000);
    for (const link of ["hb-a", "hb-b"]) {
      const s = await client.getLink(link);
      assert.equal(s.lagSource, "heartbeat");
      assert.ok(s.lagSeconds !== null && s.lagSeconds < 0.25, `${link}'s idle lag ${s.lagSeconds}`);
    }
    await client.deleteLink("hb-a");
    await client.deleteLink("hb-b");
    // Kept and updated in place, never deleted and inserted again: a native replica of the master
    // that skipped the delete (sql_slave_skip_counter, a skipped GTID) would stop on the insert.
    assert.deepEqual(await rowsOfDaemon(), [key]);
  });

  it("falls back to event timestamps, and says so, without the right to write the heartbeat", async () => {
    await onBoth("CREATE DATABASE ro_db; CREATE TABLE ro_db.t (id INT PRIMARY KEY)");
    await sql(master, `CREATE USER 'reader'@'%' IDENTIFIED BY 'r'; GRANT SELECT, REPLICATION CLIENT, ${master.flavor === "mariadb" ? "REPLICATION SLAVE, BINLOG MONITOR" : "REPLICATION SLAVE"} ON *.* TO 'reader'@'%'`);
    const source = master.url.replace(/\/\/[^@]*@/, "//reader:r@");
    await createLink("readonly", { include: ["ro_db"], source });
    await sql(master, "INSERT INTO ro_db.t VALUES (1)");
    const status = await waitCaughtUp(client, "readonly", master);
    assert.equal(status.lagSource, "event-timestamps");
    assert.equal(status.state, "running");
    assert.deepEqual(await tableContents(replica, "ro_db", "t"), ['{"id":1}']);
    await client.deleteLink("readonly");
  });

  it("works with a password full of URL and SQL metacharacters, and never shows it", async () => {
    const password = `p@ss:w/rd%?#'"\\;\`é`;
    for (const server of [master, replica]) {
      await sql(server, "CREATE USER 'odd'@'%' IDENTIFIED BY ?", [password]);
      await sql(server, "GRANT ALL PRIVILEGES ON *.* TO 'odd'@'%'");
    }
    await onBoth("CREATE DATABASE odd_db; CREATE TABLE odd_db.t (id INT PRIMARY KEY)");
    const withOdd = (url: string) => url.replace(/\/\/[^@]*@/, `//odd:${encodeURIComponent(password)}@`);
    const created = await createLink("odd", { include: ["odd_db"], source: withOdd(master.url), target: withOdd(replica.url) });
    await sql(master, "INSERT INTO odd_db.t VALUES (42)");
    const status = await waitCaughtUp(client, "odd", master);
    assert.deepEqual(await tableContents(replica, "odd_db", "t"), ['{"id":42}']);
    for (const shown of [JSON.stringify(created), JSON.stringify(status), JSON.stringify(await client.listLinks()), daemon.log()]) {
      assert.ok(!shown.includes(password) && !shown.includes(encodeURIComponent(password)), "the password must not be shown");
    }
    await client.deleteLink("odd");
  });
});

async function lastGtid(master: TestServer): Promise<string> {
  const pos = await masterPosition(master);
  if (master.flavor === "mariadb") return pos.split(",")[0];
  const [uuid, ranges] = pos.split(",")[0].split(":");
  return `${uuid}:${ranges.split("-").pop()}`;
}

/** How many transactions the server has written to its own binlog (its own GTIDs). */
async function binlogTransactionCount(server: TestServer): Promise<number> {
  if (server.flavor === "mariadb") {
    const [row] = await sql(server, "SELECT @@GLOBAL.gtid_binlog_pos AS pos");
    return String(row.pos).split(",").filter(Boolean).reduce((n, g) => n + Number(g.split("-")[2]), 0);
  }
  const [row] = await sql(server, "SELECT @@GLOBAL.server_uuid AS uuid, @@GLOBAL.gtid_executed AS executed");
  const own = String(row.executed).replace(/\s+/g, "").split(",").find((s) => s.startsWith(String(row.uuid)));
  return own ? own.split(":").slice(1).reduce((n, r) => { const [a, b] = r.split("-").map(Number); return n + (b ?? a) - a + 1; }, 0) : 0;
}
