/**
 * Verification against real servers: identical copies pass; a single corrupted, missing or extra
 * row on the DR is found and located (keyed, composite-key and keyless tables, values from the
 * column-type matrix); --repair fixes them; no false positives while a link runs under writes;
 * the daemon's check shows in the link's status; exit codes 0/1/2.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { parseServerUrl } from "../../src/core/connection-url";
import { type VerifyReport, verify } from "../../src/verify/verifier";
import { DaemonProcess, connect, runCli, sql, tempStateDir, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("verify", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;

  before(async () => {
    ({ master, replica } = getPair());
    const json = master.flavor === "mysql" ? "JSON" : "LONGTEXT";
    const schema = `SET SESSION sql_mode = ''; CREATE DATABASE v;
      CREATE TABLE v.orders (id INT PRIMARY KEY, amount DECIMAL(65,30), note VARCHAR(40), at DATETIME(6));
      CREATE TABLE v.composite (region VARCHAR(10) NOT NULL, n INT NOT NULL, payload VARBINARY(64), PRIMARY KEY (region, n));
      CREATE TABLE v.nokey (a INT, b TEXT);
      CREATE TABLE v.types (id INT PRIMARY KEY, biu BIGINT UNSIGNED, f FLOAT, d DOUBLE, b BIT(8), y YEAR, ts TIMESTAMP(6) NULL, e ENUM('x','y'), s SET('p','q'), j ${json}, bl BLOB, t TEXT, g INT AS (id * 2) VIRTUAL)`;
    const data = `SET SESSION sql_mode = '';
      INSERT INTO v.composite VALUES ('eu', 1, 0x00ff), ('eu', 2, NULL), ('us', 1, 0x01), ('us', 2, '');
      INSERT INTO v.nokey VALUES (1, 'same'), (1, 'same'), (2, NULL), (3, '');
      INSERT INTO v.types (id, biu, f, d, b, y, ts, e, s, j, bl, t) VALUES
        (1, 18446744073709551615, 1.5, -2.25e-300, b'10101010', 2024, '2020-02-29 12:34:56.789012', 'x', 'p,q', '{"k": [1, 2]}', 0x000102ff, '😀'),
        (2, 0, NULL, NULL, NULL, NULL, '0000-00-00 00:00:00', NULL, '', NULL, '', NULL)`;
    for (const server of [master, replica]) {
      await sql(server, schema);
      await sql(server, data);
      await fill(server, 25_000);
    }
    daemon = await DaemonProcess.start(tempStateDir("verify"));
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  function verifyCli(...extra: string[]): { code: number; report?: VerifyReport; stderr: string } {
    const r = runCli(["verify", "--source", master.url, "--target", replica.url, "--include", "v", "--json", ...extra]);
    return { code: r.code, report: r.stdout.trim() ? (JSON.parse(r.stdout) as VerifyReport) : undefined, stderr: r.stderr };
  }

  it("passes identical copies, exit 0, with every row compared", () => {
    const { code, report } = verifyCli();
    assert.equal(code, 0);
    assert.equal(report!.identical, true);
    const orders = report!.tables.find((t) => t.table === "v.orders")!;
    assert.equal(orders.rowsCompared, 25_000);
    assert.ok(orders.chunks >= 3, `chunks: ${orders.chunks}`);
    assert.equal(report!.tables.find((t) => t.table === "v.nokey")!.rowsCompared, 4);
  });

  it("finds and locates a changed, a missing and an extra row, in keyed, composite-key, keyless and typed tables (exit 1)", async () => {
    await sql(replica, `SET SESSION sql_mode = '';
      UPDATE v.orders SET amount = amount + 0.000000000000000000000000000001 WHERE id = 12345;
      DELETE FROM v.orders WHERE id = 20000;
      INSERT INTO v.orders VALUES (99999, 1, 'extra', NULL);
      UPDATE v.composite SET payload = 0x00fe WHERE region = 'eu' AND n = 1;
      DELETE FROM v.nokey WHERE a = 1 LIMIT 1;
      INSERT INTO v.nokey VALUES (4, 'extra');
      UPDATE v.types SET ts = '2020-02-29 12:34:56.789013' WHERE id = 1;
      UPDATE v.types SET s = 'q' WHERE id = 2`);
    const { code, report } = verifyCli();
    assert.equal(code, 1);
    assert.equal(report!.identical, false);
    const byName = new Map(report!.tables.map((t) => [t.table, t]));
    assert.deepEqual(byName.get("v.orders")!.different, [[12345]]);
    assert.deepEqual(byName.get("v.orders")!.missingOnDr, [[20000]]);
    assert.deepEqual(byName.get("v.orders")!.extraOnDr, [[99999]]);
    assert.equal(byName.get("v.orders")!.chunksMismatched, 2);
    assert.deepEqual(byName.get("v.composite")!.different, [["eu", 1]]);
    assert.deepEqual(byName.get("v.nokey")!.missingOnDr, [[1, "same"]]);
    assert.deepEqual(byName.get("v.nokey")!.extraOnDr, [[4, "extra"]]);
    assert.deepEqual(byName.get("v.types")!.different, [[1], [2]]);
  });

  it("--repair rewrites the differing rows from the master and verifies again (exit 0)", async () => {
    const { code, report } = verifyCli("--repair");
    assert.equal(code, 0);
    assert.equal(report!.identical, true);
    assert.equal(report!.repaired, true);
    assert.equal(report!.tables.find((t) => t.table === "v.orders")!.rowsRepaired, 3);
    const [row] = await sql(replica, "SELECT COUNT(*) AS n FROM v.nokey WHERE a = 1");
    assert.equal(Number(row.n), 2, "the keyless table's duplicate row is back");
    assert.equal(verifyCli().code, 0);
  });

  it("tells apart rows whose columns concatenate alike, FLOATs that print alike, and NULL from 0 or '', with NO_BACKSLASH_ESCAPES on both servers", async () => {
    const edges = `CREATE TABLE v.edges (k VARCHAR(20) PRIMARY KEY, a VARCHAR(10), b VARCHAR(10), f FLOAT, n INT, d DATETIME);
      INSERT INTO v.edges VALUES ('plain', 'x', 'y', 1, 1, '2024-01-02 03:04:05')`;
    await sql(master, `${edges}; INSERT INTO v.edges VALUES ('q''\\\\k', 'a,', 'b', 0.1, 1, NULL), ('floats', 'f', 'f', 0.1, 1, NULL), ('nulls', NULL, '', 1, NULL, NULL), ('shift', '1', NULL, 1, 2, NULL)`);
    // The same text joined with ',', the next float after 0.1 (both print as 0.1), NULLs swapped
    // with '' and 0, and a string's text moved into the next column.
    await sql(replica, `${edges}; INSERT INTO v.edges VALUES ('q''\\\\k', 'a', ',b', 0.1, 1, NULL), ('floats', 'f', 'f', 0.10000000894069672, 1, NULL), ('nulls', '', NULL, 1, 0, NULL), ('shift', NULL, '1', 1, 2, NULL)`);
    const modes = await Promise.all([master, replica].map(async (s) => String((await sql(s, "SELECT @@GLOBAL.sql_mode AS m"))[0].m)));
    await Promise.all([master, replica].map((s, i) => sql(s, "SET GLOBAL sql_mode = ?", [`${modes[i]},NO_BACKSLASH_ESCAPES`.replace(/^,/, "")])));
    try {
      const { code, report, stderr } = verifyCli("--include", "v.edges");
      assert.equal(code, 1, stderr);
      const table = report!.tables.find((t) => t.table === "v.edges")!;
      assert.deepEqual(table.different.map((k) => String(k[0])).sort(), ["floats", "nulls", "q'\\k", "shift"]);
    } finally {
      await Promise.all([master, replica].map((s, i) => sql(s, "SET GLOBAL sql_mode = ?", [modes[i]])));
      await sql(master, "DROP TABLE v.edges");
      await sql(replica, "DROP TABLE v.edges");
    }
  });

  it("finds the same chunks and differences with 4 sessions on one table (cut into key ranges) as with 1", async () => {
    // Rows changed on both sides of the likely range edges (every 7,000 rows at 1,000-row chunks), and at the ends.
    await sql(replica, `SET SESSION sql_mode = '';
      UPDATE v.orders SET note = 'changed' WHERE id IN (0, 6999, 7000, 24999);
      DELETE FROM v.orders WHERE id IN (1, 13999);
      INSERT INTO v.orders VALUES (-5, 1, 'extra', NULL), (60000, 1, 'extra', NULL)`);
    try {
      const run = (parallelism: number) => verify({ source: parseServerUrl(master.url), target: parseServerUrl(replica.url), objects: { include: ["v.orders"], exclude: [] }, chunkRows: 1_000, parallelism });
      const [one, four] = [await run(1), await run(4)];
      for (const report of [one, four]) {
        const t = report.tables[0];
        assert.deepEqual(t.different, [[0], [6999], [7000], [24999]]);
        assert.deepEqual(t.missingOnDr, [[1], [13999]]);
        assert.deepEqual(t.extraOnDr, [[-5], [60000]]);
      }
      assert.equal(four.tables[0].chunks, one.tables[0].chunks);
      assert.equal(four.tables[0].rowsCompared, one.tables[0].rowsCompared);
    } finally {
      assert.equal(verifyCli("--include", "v.orders", "--repair").code, 0);
    }
  });

  it("reports no difference while a link runs and the master takes writes, and shows the result in the link's status", async function () {
    this.timeout(300_000);
    await client.createLink({ name: "verified", source: master.url, target: replica.url, include: ["v"], initial: "none" });
    await waitFor("link to run", async () => (await client.getLink("verified")).state === "running");
    let writing = true;
    const workload = (async () => {
      const conn = await connect(master);
      try {
        for (let i = 0; writing; i++) {
          const id = (i * 7919) % 25_000;
          await conn.query(`BEGIN; UPDATE v.orders SET amount = amount + 1, note = 'w${i}' WHERE id = ${id};
            INSERT INTO v.orders VALUES (${100_000 + i}, ${i}, 'new', NOW(6)); DELETE FROM v.orders WHERE id = ${(id + 101) % 25_000};
            INSERT INTO v.nokey VALUES (${i}, 'live'); ${i % 3 === 0 ? `DELETE FROM v.nokey WHERE a = ${i - 3} AND b = 'live' LIMIT 1;` : ""} COMMIT`);
        }
      } finally {
        await conn.end();
      }
    })();
    try {
      for (let round = 0; round < 4; round++) {
        const { code, report, stderr } = verifyCli();
        assert.equal(code, 0, `round ${round}: ${stderr} ${JSON.stringify(report?.tables.filter((t) => t.chunksMismatched))}`);
        assert.equal(report!.catchUpTimedOut, false);
      }
      const viaDaemon = runCli(["verify", "--link", "verified", "--json", "--daemon", daemon.url, "--state-dir", daemon.stateDir]);
      assert.equal(viaDaemon.code, 0, viaDaemon.stderr);
    } finally {
      writing = false;
      await workload;
    }
    const status = await client.getLink("verified");
    assert.equal(status.lastVerification?.result, "identical");
    assert.equal(status.lastVerification!.differences, 0);
    assert.ok(status.lastVerification!.tablesChecked > 0);
    await client.deleteLink("verified");
  });

  it("exits 2 with one sentence when it cannot compare", () => {
    const r = runCli(["verify", "--source", "mysql://root@127.0.0.1:1", "--target", replica.url]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mysql-dr: Cannot connect to the source server at 127\.0\.0\.1:1/);
    assert.equal(r.stdout, "");
  });
});

async function fill(server: TestServer, rows: number): Promise<void> {
  const conn = await connect(server);
  try {
    for (let start = 0; start < rows; start += 5_000) {
      const values = Array.from({ length: 5_000 }, (_, k) => {
        const i = start + k;
        return `(${i}, ${i}.${String(i).padStart(30, "0")}, ${i % 4 ? `'note ${i}'` : "NULL"}, '2024-05-06 07:08:09.${String(i % 1_000_000).padStart(6, "0")}')`;
      }).join(", ");
      await conn.query(`INSERT INTO v.orders VALUES ${values}`);
    }
  } finally {
    await conn.end();
  }
}
