/**
 * Initial full copy against real servers: consistent while the master takes writes, resumable
 * after SIGKILL from the last finished chunk, keyless and composite-key tables, refusal of DR
 * tables that hold rows, and tables added to a running link.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, connect, runCli, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";
import { insertTypeMatrix, typeMatrixDdl } from "../support/type-matrix";

const CHUNK_ROWS = 10_000;

describeEachBackend("initial copy", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;

  before(async () => {
    ({ master, replica } = getPair());
    stateDir = tempStateDir("copy");
    daemon = await DaemonProcess.start(stateDir);
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  async function inSync(name: string): Promise<LinkStatus> {
    return waitFor(`link ${name} to be in sync`, async () => {
      const s = await client.getLink(name);
      if (s.state === "error") throw new Error(`link stopped: ${s.lastError}`);
      return s.state === "running" && s.phase === "syncing" ? s : undefined;
    }, 300_000, 250);
  }

  /** The DR copy of `db` has the master's tables (but `excluded`), definitions and rows. */
  async function assertSameTables(db: string, excluded: string[] = []): Promise<void> {
    const tables = (await sql(master, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", [db])).filter((r) => !excluded.includes(String(r.t)));
    assert.deepEqual(await sql(replica, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", [db]), tables);
    for (const { t } of tables) {
      const [m] = await sql(master, `SHOW CREATE TABLE \`${db}\`.\`${t}\``);
      const [r] = await sql(replica, `SHOW CREATE TABLE \`${db}\`.\`${t}\``);
      assert.equal(r["Create Table"], m["Create Table"], `definition of ${db}.${t}`);
      assert.deepEqual(await tableContents(replica, db, String(t)), await tableContents(master, db, String(t)), `${db}.${t} differs`);
    }
  }

  it("copies the selected tables while the master takes writes, and ends identical", async function () {
    this.timeout(400_000);
    await sql(master, `CREATE DATABASE live;
      CREATE TABLE live.orders (id INT PRIMARY KEY, customer INT NOT NULL, amount DECIMAL(12,2) NOT NULL, note VARCHAR(40), KEY (customer));
      CREATE TABLE live.customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL);
      CREATE TABLE live.lines (order_id INT NOT NULL, sku VARCHAR(20) NOT NULL, qty INT NOT NULL, PRIMARY KEY (sku, order_id), FOREIGN KEY (order_id) REFERENCES live.orders (id) ON DELETE CASCADE);
      CREATE TABLE live.events (at DATETIME(6) NOT NULL, what VARCHAR(30));
      CREATE TABLE live.skipped (id INT PRIMARY KEY)`);
    await fill(master, "live.customers", 2_000, (i) => `(${i}, 'customer ${i}')`);
    await fill(master, "live.orders", 120_000, (i) => `(${i}, ${i % 2000}, ${(i % 997) + 0.25}, ${i % 3 ? `'n${i}'` : "NULL"})`);
    await fill(master, "live.lines", 30_000, (i) => `(${i}, 'sku-${i % 7}', ${i % 5})`);
    await fill(master, "live.events", 3_000, (i) => `('2024-01-01 00:00:00' + INTERVAL ${i} SECOND, 'event ${i % 11}')`);
    await sql(master, "ANALYZE TABLE live.orders, live.lines, live.customers, live.events");

    let writing = true;
    const workload = (async () => {
      const conn = await connect(master);
      try {
        for (let i = 0; writing; i++) {
          const id = (i * 7919) % 120_000;
          await conn.query(`BEGIN;
            UPDATE live.orders SET amount = amount + 1, note = 'upd ${i}' WHERE id = ${id};
            INSERT INTO live.orders VALUES (${200_000 + i}, ${i % 2000}, 1.00, 'new');
            INSERT INTO live.lines VALUES (${200_000 + i}, 'sku-new', ${i % 9});
            DELETE FROM live.orders WHERE id = ${(id + 17) % 120_000};
            UPDATE live.customers SET name = CONCAT(name, '+') WHERE id = ${i % 2000};
            INSERT INTO live.events VALUES (NOW(6), 'live ${i}');
            ${i % 4 === 0 ? `DELETE FROM live.events WHERE what = 'event ${i % 11}' LIMIT 1;` : ""}
            ${i % 10 === 0 ? `UPDATE live.customers SET id = ${100_000 + i} WHERE id = ${(i * 13) % 2000};` : ""}
            COMMIT`);
        }
      } finally {
        await conn.end();
      }
    })();
    try {
      const created = await client.createLink({ name: "live", source: master.url, target: replica.url, include: ["live"], exclude: ["live.skipped"], initial: "full", parallel: 3 });
      assert.equal(created.phase, "copying");
      const copying = await waitFor("copy progress", async () => {
        const s = await client.getLink("live");
        return s.copy && s.copy.rowsCopied > 0 ? s : undefined;
      }, 120_000, 100);
      assert.equal(copying.copy!.tablesTotal, 4);
      assert.ok(copying.copy!.rowsEstimated >= 100_000, `estimate ${copying.copy!.rowsEstimated}`);
      assert.deepEqual(copying.copy!.warnings, ["live.events has no primary or unique key: copied whole from one snapshot"]);
      await inSync("live");
    } finally {
      writing = false;
      await workload;
    }
    await waitCaughtUp(client, "live", master);
    await assertSameTables("live", ["skipped"]);
    // Loaded, not written by the INSERT fallback (which would say so).
    assert.doesNotMatch(daemon.log(), /initial copy writes/);
    await client.deleteLink("live");
  });

  it("copies with INSERTs when the DR server refuses LOCAL INFILE, and says so once", async function () {
    this.timeout(300_000);
    await sql(master, "CREATE DATABASE noload; CREATE TABLE noload.a (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE noload.b (id INT PRIMARY KEY, v BLOB)");
    await fill(master, "noload.a", CHUNK_ROWS + 500, (i) => `(${i}, 'a\\t${i}')`);
    await fill(master, "noload.b", 3_000, (i) => `(${i}, UNHEX('00090A5C${(i % 256).toString(16).padStart(2, "0")}'))`);
    const [{ was }] = await sql(replica, "SELECT @@GLOBAL.local_infile AS was");
    await sql(replica, "SET GLOBAL local_infile = 0");
    try {
      await client.createLink({ name: "noload", source: master.url, target: replica.url, include: ["noload"], initial: "full", parallel: 2 });
      await inSync("noload");
    } finally {
      await sql(replica, `SET GLOBAL local_infile = ${Number(was)}`);
    }
    await assertSameTables("noload");
    const said = daemon.log().split("\n").filter((l) => l.includes('"link":"noload"') && l.includes("initial copy writes with INSERT"));
    assert.equal(said.length, 1, said.join("\n"));
    await client.deleteLink("noload");
  });

  it("copies every column type value for value", async () => {
    await sql(master, typeMatrixDdl(master.flavor, "copy_types"));
    await insertTypeMatrix(master, "copy_types");
    await client.createLink({ name: "types", source: master.url, target: replica.url, include: ["copy_types"], initial: "full" });
    await inSync("types");
    await assertSameTables("copy_types");
    await client.deleteLink("types");
  });

  it("copies keys holding quotes and backslashes over several chunks while the master's sql_mode has NO_BACKSLASH_ESCAPES", async function () {
    this.timeout(300_000);
    await sql(master, "CREATE DATABASE esc; CREATE TABLE esc.t (k VARCHAR(40) PRIMARY KEY, v INT, t TEXT CHARACTER SET latin1)");
    await fill(master, "esc.t", CHUNK_ROWS + 2_000, (i) => `('k\\\\'' ${String(i).padStart(6, "0")}', ${i}, UNHEX('818D8F909D'))`);
    const [{ m }] = await sql(master, "SELECT @@GLOBAL.sql_mode AS m");
    await sql(master, "SET GLOBAL sql_mode = ?", [`${m},NO_BACKSLASH_ESCAPES`.replace(/^,/, "")]);
    try {
      await client.createLink({ name: "esc", source: master.url, target: replica.url, include: ["esc"], initial: "full" });
      const status = await inSync("esc");
      assert.ok(status.rowsApplied >= 0);
    } finally {
      await sql(master, "SET GLOBAL sql_mode = ?", [m]);
    }
    await assertSameTables("esc");
    const [{ hex }] = await sql(replica, "SELECT HEX(t) AS hex FROM esc.t LIMIT 1");
    assert.equal(hex, "818D8F909D");
    await client.deleteLink("esc");
  });

  it("resumes a copy killed mid-table from its last finished chunk, copying no chunk twice", async function () {
    this.timeout(400_000);
    const ROWS = 150_000;
    await sql(master, "CREATE DATABASE resume_db; CREATE TABLE resume_db.big (k VARCHAR(20) NOT NULL, n INT NOT NULL, payload VARCHAR(60) NOT NULL, PRIMARY KEY (k, n))");
    await fill(master, "resume_db.big", ROWS, (i) => `('key-${i % 50}', ${i}, 'payload payload payload ${i}')`);
    await client.createLink({ name: "resume", source: master.url, target: replica.url, include: ["resume_db"], initial: "full", parallel: 2 });
    await waitFor("part of the copy", async () => {
      const s = await client.getLink("resume");
      return s.copy && s.copy.rowsCopied >= 3 * CHUNK_ROWS ? s : undefined;
    }, 120_000, 20);
    await daemon.kill("SIGKILL");
    const [atKill] = await sql(replica, "SELECT SUM(rows_copied) AS rows_copied, SUM(done) AS done FROM mysql_dr.copy_state WHERE link = 'resume'");
    assert.ok(Number(atKill.rows_copied) < ROWS && Number(atKill.done) === 0, `the kill should land mid-copy: ${JSON.stringify(atKill)}`);
    daemon = await DaemonProcess.start(stateDir);
    client = daemon.client();
    await inSync("resume");
    await assertSameTables("resume_db");
    const [state] = await sql(replica, "SELECT SUM(rows_copied) AS rows_copied, SUM(chunks_copied) AS chunks FROM mysql_dr.copy_state WHERE link = 'resume'");
    assert.equal(Number(state.rows_copied), ROWS, "every row was copied exactly once");
    assert.equal(Number(state.chunks), Math.floor(ROWS / CHUNK_ROWS) + 1, "every chunk was copied exactly once (the last one short)");
    await client.deleteLink("resume");
  });

  it("creates the selection's views and routines on the DR server, and refuses a view that reads an unselected table", async () => {
    await sql(master, [
      "CREATE DATABASE app; CREATE TABLE app.orders (id INT PRIMARY KEY, total DECIMAL(10,2)); INSERT INTO app.orders VALUES (1, 9.50), (2, 20.00)",
      "CREATE VIEW app.big_orders AS SELECT id, total FROM app.orders WHERE total > 10",
      "CREATE VIEW app.big_order_ids AS SELECT id FROM app.big_orders",
      "CREATE PROCEDURE app.add_order(IN n INT, IN t DECIMAL(10,2)) BEGIN INSERT INTO app.orders VALUES (n, t); END",
      "SET SESSION sql_mode = 'ANSI_QUOTES'; CREATE FUNCTION app.doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2; SET SESSION sql_mode = DEFAULT",
      "CREATE TABLE app.audit (id INT PRIMARY KEY); CREATE TRIGGER app.audit_orders AFTER INSERT ON app.orders FOR EACH ROW INSERT INTO app.audit VALUES (NEW.id)",
    ].join("; "));
    await client.createLink({ name: "objects", source: master.url, target: replica.url, include: ["app"], initial: "full" });
    await inSync("objects");
    // Triggers are kept for promotion, not created: their effects arrive as rows.
    assert.deepEqual(await sql(replica, "SELECT TRIGGER_NAME AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'"), []);
    assert.deepEqual(await sql(replica, "SELECT db, name, table_name AS t FROM mysql_dr.triggers WHERE link = 'objects'"), [{ db: "app", name: "audit_orders", t: "orders" }]);
    for (const [kind, name, column] of [["VIEW", "big_orders", "Create View"], ["VIEW", "big_order_ids", "Create View"], ["PROCEDURE", "add_order", "Create Procedure"], ["FUNCTION", "doubled", "Create Function"]]) {
      const [m] = await sql(master, `SHOW CREATE ${kind} app.${name}`);
      const [r] = await sql(replica, `SHOW CREATE ${kind} app.${name}`);
      assert.equal(r[column], m[column], `${kind} app.${name}`);
      if (kind !== "VIEW") assert.equal(r.sql_mode, m.sql_mode, `${kind} app.${name} keeps its sql_mode`);
    }
    // Later changes arrive through the binlog.
    await sql(master, "CREATE OR REPLACE VIEW app.big_orders AS SELECT id FROM app.orders WHERE total > 15; DROP FUNCTION app.doubled");
    await waitCaughtUp(client, "objects", master);
    assert.deepEqual(await sql(replica, "SELECT ROUTINE_NAME AS r FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'app'"), [{ r: "add_order" }]);
    assert.equal((await sql(replica, "SHOW CREATE VIEW app.big_orders"))[0]["Create View"], (await sql(master, "SHOW CREATE VIEW app.big_orders"))[0]["Create View"]);
    await client.deleteLink("objects");

    await sql(master, "CREATE DATABASE ledger; CREATE TABLE ledger.entries (id INT PRIMARY KEY, amount INT); CREATE DATABASE reports; CREATE VIEW reports.order_totals AS SELECT SUM(amount) AS s FROM ledger.entries");
    const refused = runCli(["link", "create", "reports", "--source", master.url, "--target", replica.url, "--include", "reports", "--initial", "full", "--daemon", daemon.url, "--state-dir", stateDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^mysql-dr: View reports\.order_totals reads a table or view that is not in the link's selection \(1 such view\); include what it reads, or exclude the view\.$/m);
  });

  it("refuses DR tables that already hold rows, writing nothing, and empties them with --overwrite", async () => {
    const schema = "CREATE DATABASE occupied; CREATE TABLE occupied.t (id INT PRIMARY KEY, v INT)";
    await sql(master, `${schema}; INSERT INTO occupied.t VALUES (1, 1), (2, 2)`);
    await sql(replica, `${schema}; INSERT INTO occupied.t VALUES (9, 9)`);
    const refused = runCli(["link", "create", "occupied", "--source", master.url, "--target", replica.url, "--include", "occupied", "--initial", "full", "--daemon", daemon.url, "--state-dir", stateDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^mysql-dr: The DR server already holds rows in occupied\.t; pass --overwrite/);
    assert.deepEqual(await sql(replica, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mysql_dr' AND TABLE_NAME = 'copy_state'").then((t) => (t.length ? sql(replica, "SELECT * FROM mysql_dr.copy_state WHERE link = 'occupied'") : [])), []);
    assert.deepEqual(await tableContents(replica, "occupied", "t"), ['{"id":9,"v":9}']);
    const ok = runCli(["link", "create", "occupied", "--source", master.url, "--target", replica.url, "--include", "occupied", "--initial", "full", "--overwrite", "--wait", "--json", "--daemon", daemon.url, "--state-dir", stateDir]);
    assert.equal(ok.code, 0, ok.stderr);
    const status = JSON.parse(ok.stdout) as LinkStatus;
    assert.equal(status.phase, "syncing");
    await waitCaughtUp(client, "occupied", master);
    assert.deepEqual(await tableContents(replica, "occupied", "t"), ['{"id":1,"v":1}', '{"id":2,"v":2}']);
    await client.deleteLink("occupied");
  });

  it("copies tables added to a running link's selection, then streams them, leaving the others alone", async () => {
    await sql(master, "CREATE DATABASE grow; CREATE TABLE grow.a (id INT PRIMARY KEY); CREATE TABLE grow.b (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO grow.a VALUES (1), (2); INSERT INTO grow.b VALUES (1, 'x'), (2, 'y')");
    await client.createLink({ name: "grow", source: master.url, target: replica.url, include: ["grow.a"], initial: "full" });
    await inSync("grow");
    await sql(master, "INSERT INTO grow.a VALUES (3); INSERT INTO grow.b VALUES (3, 'z')");
    await waitCaughtUp(client, "grow", master);
    assert.deepEqual(await sql(replica, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'grow' AND TABLE_NAME = 'b'"), []);
    const [before] = await sql(replica, "SELECT chunks_copied FROM mysql_dr.copy_state WHERE link = 'grow' AND tbl = 'a'");

    const updated = await client.updateLink("grow", { include: ["grow.a", "grow.b"] });
    assert.deepEqual(updated.include, ["grow.a", "grow.b"]);
    await inSync("grow");
    await sql(master, "INSERT INTO grow.a VALUES (4); UPDATE grow.b SET v = 'w' WHERE id = 1; DELETE FROM grow.b WHERE id = 2");
    await waitCaughtUp(client, "grow", master);
    await assertSameTables("grow");
    const [after] = await sql(replica, "SELECT chunks_copied FROM mysql_dr.copy_state WHERE link = 'grow' AND tbl = 'a'");
    assert.equal(after.chunks_copied, before.chunks_copied, "grow.a was not copied again");
    await client.deleteLink("grow");
  });
});

/** Inserts `rows` generated rows in multi-row statements. */
async function fill(server: TestServer, table: string, rows: number, row: (i: number) => string): Promise<void> {
  const conn = await connect(server);
  try {
    for (let start = 0; start < rows; start += 5_000) {
      const values = Array.from({ length: Math.min(5_000, rows - start) }, (_, k) => row(start + k)).join(", ");
      await conn.query(`INSERT INTO ${table} VALUES ${values}`);
    }
  } finally {
    await conn.end();
  }
}
