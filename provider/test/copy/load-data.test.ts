/**
 * The copy's LOAD DATA path (copy/load-data.ts) between real servers: what it writes equals the
 * master byte for byte, a row the DR server already holds is kept, and anything the DR server
 * would not take exactly refuses the load (the copier then writes the rows with INSERTs).
 */
import * as assert from "node:assert/strict";
import type { FieldPacket } from "mysql2";
import { readTableShape } from "../../src/catalog/table-shape";
import { type Connection, openConnection, openWireConnection } from "../../src/core/db";
import { LoadRefused, fieldValue, loadRows } from "../../src/copy/load-data";
import { forEachRow, forEachRowPacket, rowFields } from "../../src/copy/row-source";
import { type CopiedColumns, copiedColumns, selectRows } from "../../src/copy/table-stream";
import { serverAddress, sql, tableContents } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";
import { insertTypeMatrix, typeMatrixDdl } from "../support/type-matrix";

describeEachBackend("copy by LOAD DATA", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let source: Connection;
  let target: Connection;

  before(async () => {
    ({ master, replica } = getPair());
    source = await openConnection(serverAddress(master), "source", { queryTimeoutMs: 0 });
    target = await openWireConnection(serverAddress(replica), "target", { multipleStatements: true, queryTimeoutMs: 0 });
  });
  after(() => {
    source?.destroy();
    target?.destroy();
  });

  /** The master's definition of db.table, created on the DR server. */
  async function createOnReplica(db: string, table: string): Promise<void> {
    const [{ "Create Table": ddl }] = await sql(master, `SHOW CREATE TABLE \`${db}\`.\`${table}\``);
    await sql(replica, `CREATE DATABASE IF NOT EXISTS \`${db}\`; SET SESSION sql_mode = ''; CREATE TABLE \`${db}\`.\`${table}\` ${String(ddl).replace(/^CREATE TABLE `[^`]+`/, "")}`);
  }

  async function columnsOf(db: string, table: string): Promise<CopiedColumns> {
    return copiedColumns(await readTableShape(source, db, table, master.flavor), db, table);
  }

  /** Loads every row of db.table in one transaction; a refusal rolls back to before the load. */
  async function load(db: string, table: string, keepDuplicates = true): Promise<number> {
    const columns = await columnsOf(db, table);
    assert.ok(columns.load, `${db}.${table} is loadable`);
    await target.query("START TRANSACTION");
    await target.query("SAVEPOINT before_load");
    try {
      const { rows } = await loadRows(source, target, selectRows(db, table, columns), columns.load, keepDuplicates);
      await target.query("COMMIT");
      return rows;
    } catch (err) {
      await target.query("ROLLBACK TO SAVEPOINT before_load");
      await target.query("COMMIT");
      throw err;
    }
  }

  it("loads every column type value for value, without a refusal", async () => {
    await sql(master, typeMatrixDdl(master.flavor, "load_types"));
    await insertTypeMatrix(master, "load_types");
    for (const table of ["all_types", "text_types"]) {
      await createOnReplica("load_types", table);
      const rows = await load("load_types", table);
      assert.ok(rows >= 3);
      assert.deepEqual(await tableContents(replica, "load_types", table), await tableContents(master, "load_types", table), table);
    }
  });

  it("carries tab, newline, backslash, NUL, a literal \\N, '' apart from NULL, latin1 text and a value spanning many packets", async () => {
    await sql(master, `CREATE DATABASE load_esc; CREATE TABLE load_esc.t (id INT PRIMARY KEY, t TEXT CHARACTER SET utf8mb4, l VARCHAR(40) CHARACTER SET latin1, b LONGBLOB, n VARCHAR(10))`);
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 256;
    const rows: unknown[][] = [
      [1, "tab\there\nnewline\\backslash\u0000nul\r\n", "café ÿ", Buffer.from(Array.from({ length: 256 }, (_, i) => i)), ""],
      [2, "\\N", "\\N", Buffer.from("\\N"), null],
      [3, "", "", Buffer.alloc(0), "N"],
      [4, null, null, null, "NULL"],
      [5, "😀 𝌆 \t\\\n", "\\\t\n", big, "\\"],
    ];
    await sql(master, `INSERT INTO load_esc.t VALUES ${rows.map(() => "(?, ?, ?, ?, ?)").join(", ")}`, rows.flat());
    await createOnReplica("load_esc", "t");
    assert.equal(await load("load_esc", "t"), 5);
    assert.deepEqual(await tableContents(replica, "load_esc", "t"), await tableContents(master, "load_esc", "t"));
    const [{ h }] = await sql(replica, "SELECT MD5(b) AS h FROM load_esc.t WHERE id = 5");
    assert.equal(h, (await sql(master, "SELECT MD5(b) AS h FROM load_esc.t WHERE id = 5"))[0].h);
  });

  it("keeps a row the DR server already holds, as the INSERT path's ON DUPLICATE KEY UPDATE k = k does", async () => {
    await sql(master, "CREATE DATABASE load_dup; CREATE TABLE load_dup.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO load_dup.t VALUES (1, 'm1'), (2, 'm2'), (3, 'm3'), (4, 'm4')");
    await createOnReplica("load_dup", "t");
    await sql(replica, "INSERT INTO load_dup.t VALUES (2, 'newer'), (4, 'newer')");
    assert.equal(await load("load_dup", "t"), 4);
    assert.deepEqual(await sql(replica, "SELECT id, v FROM load_dup.t ORDER BY id"), [
      { id: 1, v: "m1" },
      { id: 2, v: "newer" },
      { id: 3, v: "m3" },
      { id: 4, v: "newer" },
    ]);
  });

  it("refuses a duplicate key where none may be kept (a table copied whole into an emptied one)", async () => {
    await sql(replica, "DELETE FROM load_dup.t WHERE id <> 3");
    await assert.rejects(load("load_dup", "t", false), (err: unknown) => err instanceof LoadRefused && err.scope === "table");
    assert.deepEqual(await sql(replica, "SELECT id, v FROM load_dup.t ORDER BY id"), [{ id: 3, v: "m3" }]);
  });

  it("refuses a load with more duplicate keys than the server lists (the chunk goes by INSERT), leaving nothing behind", async () => {
    await sql(master, "CREATE DATABASE load_many; CREATE TABLE load_many.t (id INT PRIMARY KEY, v INT)");
    await sql(master, `INSERT INTO load_many.t VALUES ${Array.from({ length: 300 }, (_, i) => `(${i}, ${i})`).join(", ")}`);
    await createOnReplica("load_many", "t");
    await sql(replica, `INSERT INTO load_many.t VALUES ${Array.from({ length: 200 }, (_, i) => `(${i}, -1)`).join(", ")}`);
    await assert.rejects(load("load_many", "t"), (err: unknown) => err instanceof LoadRefused && err.scope === "chunk");
    const [{ n, kept }] = await sql(replica, "SELECT COUNT(*) AS n, SUM(v = -1) AS kept FROM load_many.t");
    assert.equal(Number(n), 200);
    assert.equal(Number(kept), 200);
  });

  it("refuses a load the DR server would change (a narrower column), naming no value, leaving nothing behind", async () => {
    await sql(master, "CREATE DATABASE load_narrow; CREATE TABLE load_narrow.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO load_narrow.t VALUES (1, 'ok'), (2, 'secret-value-xyz')");
    await sql(replica, "CREATE DATABASE load_narrow; CREATE TABLE load_narrow.t (id INT PRIMARY KEY, v VARCHAR(3))");
    await assert.rejects(load("load_narrow", "t"), (err: unknown) => {
      assert.ok(err instanceof LoadRefused, String(err));
      assert.equal(err.scope, "table");
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    const [{ n }] = await sql(replica, "SELECT COUNT(*) AS n FROM load_narrow.t");
    assert.equal(Number(n), 0);
  });

  it("decodes a loaded chunk's last row as the reading session decodes the same row (the next chunk's key)", async () => {
    for (const table of ["all_types", "text_types"]) {
      const columns = await columnsOf("load_types", table);
      const decoded: unknown[][] = [];
      const raw: (Buffer | null)[][] = [];
      let fields: FieldPacket[] = [];
      // Row by row: every row is some chunk's last one. JSON, never a key, is left out (mysql2 parses it).
      for (const { id } of await sql(master, `SELECT id FROM load_types.${table} ORDER BY id`)) {
        const select = selectRows("load_types", table, columns, { sql: "id = ?", params: [id] });
        await forEachRow(source, select.sql, select.params, (row) => void decoded.push(row));
        await forEachRowPacket(source, select.sql, select.params, (row) => void raw.push(rowFields(row, fields.length)), (f) => (fields = f));
      }
      assert.ok(raw.length >= 3);
      raw.forEach((row, r) => row.forEach((bytes, i) => {
        if (columns.names[i] !== "j") assert.deepEqual(fieldValue(bytes, fields[i]), decoded[r][i], `${table} row ${r + 1}, column ${columns.names[i]}`);
      }));
    }
  });

  it("returns the last row it loaded, decoded", async () => {
    const columns = await columnsOf("load_types", "text_types");
    await sql(replica, "DELETE FROM load_types.text_types");
    await target.query("START TRANSACTION");
    const { rows, last } = await loadRows(source, target, selectRows("load_types", "text_types", columns, undefined, " ORDER BY id"), columns.load!, true);
    await target.query("COMMIT");
    assert.equal(rows, 3);
    assert.equal(last![0], "18446744073709551615");
  });
});
