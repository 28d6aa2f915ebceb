/**
 * The reader's own rows-event decoding against zongji's, on a real master's binlog: the same
 * stream read both ways must give the same row changes, value for value, for every column type
 * (the type matrix and columns of every precision), for inserts, updates and deletes. The packet
 * reader is paused after every rows event, as backpressure pauses it, so a packet that arrives
 * while it is paused must still be read once, in order.
 */
import * as assert from "node:assert/strict";
import { parseServerUrl } from "../../src/core/connection-url";
import { BinlogReader } from "../../src/stream/binlog-reader";
import { type ValueReader, decodeRowsEvent } from "../../src/stream/rows-event";
import type { RowChange, SourceEvent } from "../../src/stream/change-events";
import { masterPosition, sleep, sql, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";
import { insertTypeMatrix, typeMatrixDdl } from "../support/type-matrix";

const DB = "rows_event";

/** Every precision of the fixed-point and temporal types, and the other widths of ENUM, SET and BIT. */
const SHAPES_DDL = `CREATE TABLE ${DB}.shapes (
    id INT PRIMARY KEY,
    d1 DECIMAL(1,0), d2 DECIMAL(5,5), d3 DECIMAL(10,2), d4 DECIMAL(18,9), d5 DECIMAL(19,10), d6 DECIMAL(30,0), d7 DECIMAL(12,4) UNSIGNED,
    dt0 DATETIME, dt1 DATETIME(1), dt2 DATETIME(2), dt3 DATETIME(3), dt4 DATETIME(4), dt5 DATETIME(5),
    ts0 TIMESTAMP NULL DEFAULT NULL, ts1 TIMESTAMP(1) NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL, ts5 TIMESTAMP(5) NULL DEFAULT NULL,
    t0 TIME, t1 TIME(1), t3 TIME(3), t5 TIME(5),
    big_enum ENUM(${Array.from({ length: 300 }, (_, i) => `'m${i}'`).join(", ")}),
    big_set SET(${Array.from({ length: 64 }, (_, i) => `'s${i}'`).join(", ")}),
    b5 BIT(5), b17 BIT(17), c255 CHAR(255), vc1000 VARCHAR(1000) CHARACTER SET latin1, tb TINYBLOB, mb MEDIUMBLOB, mt MEDIUMTEXT CHARACTER SET latin1
  )`;

const SHAPES_ROWS = `INSERT INTO ${DB}.shapes VALUES
  (1, -9, -0.12345, -12345678.91, -123456789.123456789, 123456789.0123456789, -123456789012345678901234567890, 12345678.9012,
   '2000-02-29 23:59:59', '2000-02-29 23:59:59.9', '1999-12-31 00:00:00.01', '2024-06-15 12:34:56.789', '1000-01-01 00:00:00.0001', '9999-12-31 23:59:59.99999',
   '1970-01-01 00:00:01', '2038-01-19 03:14:07.9', '2000-01-01 00:00:00.001', '2020-02-02 02:02:02.00002',
   '-838:59:59', '-00:00:00.1', '-12:30:00.001', '838:59:58.99999',
   'm299', 's0,s31,s32,s63', b'10101', b'10000000000000001', REPEAT('c', 255), REPEAT(CHAR(233), 1000), UNHEX('00FF'), REPEAT(CHAR(0), 70000), REPEAT(CHAR(255), 300)),
  (2, 0, 0, 0, 0, 0, 0, 0,
   '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', NULL, NULL, NULL, NULL,
   '0000-00-00 00:00:00', NULL, NULL, NULL,
   '00:00:00', '00:00:00.0', NULL, NULL,
   '', '', b'0', b'0', '', '', '', '', ''),
  (3, ${Array(30).fill("NULL").join(", ")})`;

describeEachBackend("rows events decoded from the packet", (getPair) => {
  let master: TestServer;

  before(() => ({ master } = getPair()));

  it("gives the same row changes as zongji for every column type, inserts, updates and deletes", async () => {
    const from = await masterPosition(master);
    await sql(master, typeMatrixDdl(master.flavor, DB));
    await sql(master, `SET SESSION sql_mode = ''; ${SHAPES_DDL}; ${SHAPES_ROWS}`);
    await insertTypeMatrix(master, DB);
    await sql(master, `SET SESSION sql_mode = '';
      UPDATE ${DB}.all_types SET biu = IF(biu > 0, biu - 1, 1), d = -d, vc = CONCAT(vc, '✓'), vb = REVERSE(vb), ts = '2001-02-03 04:05:06.123456', e = 'a', s = 'z', b64 = b'1010' WHERE id IN (2, 4);
      UPDATE ${DB}.shapes SET d3 = d3 + 1, dt3 = NOW(3), big_set = 's1', c255 = 'x' WHERE id < 3;
      DELETE FROM ${DB}.all_types WHERE id = 1;
      DELETE FROM ${DB}.shapes WHERE id = 2;
      CREATE TABLE ${DB}.done (id INT PRIMARY KEY); INSERT INTO ${DB}.done VALUES (1)`);

    const [fromPackets, fromZongji] = await Promise.all([readChanges(master, from, "packet"), readChanges(master, from, "zongji")]);
    assert.ok(fromZongji.changes.length >= 10, `expected the test's row changes, read ${fromZongji.changes.length}`);
    assert.deepEqual(fromPackets.changes, fromZongji.changes);
    assert.equal(fromZongji.decodedFromPackets, 0);
    // MySQL's JSON column keeps all_types (and only it) on zongji's decoding.
    const onZongji = master.flavor === "mysql" ? fromPackets.changes.filter((c) => c.table === "all_types").length : 0;
    assert.equal(fromPackets.decodedFromPackets, fromPackets.changes.length - onZongji);
  });

  it("skips the rows of tables it does not want, undecoded, and still hands on every transaction's GTID and commit", async () => {
    await sql(master, `DROP TABLE IF EXISTS ${DB}.done`);
    const from = await masterPosition(master);
    await sql(master, `CREATE TABLE ${DB}.wanted (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE ${DB}.unwanted (id INT PRIMARY KEY, v VARCHAR(20));
      INSERT INTO ${DB}.wanted VALUES (1, 'a'); INSERT INTO ${DB}.unwanted VALUES (1, 'b');
      START TRANSACTION; INSERT INTO ${DB}.unwanted VALUES (2, 'c'); INSERT INTO ${DB}.wanted VALUES (2, 'd'); UPDATE ${DB}.unwanted SET v = 'e'; COMMIT;
      START TRANSACTION; UPDATE ${DB}.wanted SET v = 'f' WHERE id = 1; DELETE FROM ${DB}.unwanted WHERE id = 1; COMMIT;
      CREATE TABLE ${DB}.done (id INT PRIMARY KEY); INSERT INTO ${DB}.done VALUES (1)`);
    const asked = new Map<string, number>();
    const wanted = (db: string, table: string) => {
      asked.set(`${db}.${table}`, (asked.get(`${db}.${table}`) ?? 0) + 1);
      return db !== DB || table !== "unwanted";
    };
    const [all, some] = await Promise.all([readChanges(master, from, "packet"), readChanges(master, from, "packet", wanted)]);
    const tables = (r: ReadChanges) => r.changes.map((c) => c.table);
    assert.deepEqual(tables(all), ["wanted", "unwanted", "unwanted", "wanted", "unwanted", "wanted", "unwanted", "done"]);
    assert.deepEqual(some.changes, all.changes.filter((c) => c.table !== "unwanted"));
    assert.equal(some.decodedFromPackets, some.changes.length, "the unwanted table's rows were decoded");
    assert.deepEqual([some.gtids, some.commits], [all.gtids, all.commits]);
    assert.equal(asked.get(`${DB}.unwanted`), 1, "the answer for a table is kept, not asked again at each of its table maps");
  });

  it("hands on nothing once stopped, though the packets that follow are already read, as zongji", async () => {
    const from = await masterPosition(master);
    // Many small transactions in one go, so several rows events arrive in the chunk that holds the first.
    await sql(master, `CREATE TABLE ${DB}.burst (id INT PRIMARY KEY); ${Array.from({ length: 200 }, (_, i) => `INSERT INTO ${DB}.burst VALUES (${i})`).join("; ")}`);
    for (const rowDecoder of ["packet", "zongji"] as const) {
      let after = 0;
      let stopped = false;
      const reader: BinlogReader = new BinlogReader({
        source: parseServerUrl(master.url),
        fromGtid: from,
        replicaServerId: 4103,
        charsetOf: () => "utf8mb4",
        rowDecoder,
        onEvent: (event: SourceEvent) => {
          if (stopped) after++;
          else if (event.kind === "rows" && event.change.table === "burst") {
            stopped = true;
            reader.stop();
          }
        },
        onError: () => undefined,
      });
      await reader.start();
      await waitFor(`the ${rowDecoder} reader to see the first row`, async () => stopped, 30_000, 20);
      await sleep(300);
      assert.equal(after, 0, `${rowDecoder}: events handed on after stop()`);
      if (rowDecoder === "packet") assert.equal(reader.decodedFromPackets, 1);
    }
  });
});

describe("rows events decoded from a constructed packet", () => {
  it("refuses a rows event whose column count differs from its table map's, rather than misreading it", () => {
    const header = Buffer.alloc(4 + 1 + 19);
    header[4 + 1 + 4] = 23; // WRITE_ROWS_EVENT_V1
    // Table id, flags, 2 columns, both present; one row: no NULLs, two 1-byte values.
    const body = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 2, 0b11, 0, 7, 8]);
    const buffer = Buffer.concat([header, body]);
    const oneByte: ValueReader = (c) => c.buf[c.pos++];
    const packet = { buffer, start: 0, end: buffer.length };
    assert.deepEqual(decodeRowsEvent(packet, false, [oneByte, oneByte]).rows, [[7, 8]]);
    assert.throws(() => decodeRowsEvent(packet, false, [oneByte]), /a rows event has 2 columns and its table map 1/);
  });
});

interface ReadChanges {
  changes: RowChange[];
  decodedFromPackets: number;
  /** GTID and commit events up to the `done` row. */
  gtids: number;
  commits: number;
}

/**
 * The row changes of the rows_event database from `from` until the `done` table's row, read with
 * `rowDecoder` (the packet reader pausing after each), of the tables `rowsWanted` wants.
 */
async function readChanges(master: TestServer, from: string, rowDecoder: "packet" | "zongji", rowsWanted?: (db: string, table: string) => boolean): Promise<ReadChanges> {
  const changes: RowChange[] = [];
  let gtids = 0;
  let commits = 0;
  let failure: Error | undefined;
  const reader = new BinlogReader({
    source: parseServerUrl(master.url),
    fromGtid: from,
    replicaServerId: rowsWanted ? 4104 : rowDecoder === "packet" ? 4101 : 4102,
    charsetOf: () => "utf8mb4",
    rowDecoder,
    rowsWanted,
    onEvent: (event: SourceEvent) => {
      const done = changes.some((c) => c.table === "done");
      if (event.kind === "gtid" && !done) gtids++;
      if (event.kind === "xid" && !done) commits++;
      if (event.kind !== "rows" || event.change.db !== DB) return;
      changes.push(event.change);
      if (rowDecoder === "packet") {
        reader.pause();
        setImmediate(() => reader.resume());
      }
    },
    onError: (err) => (failure = err),
  });
  await reader.start();
  try {
    await waitFor(`the ${rowDecoder} reader to reach the last row`, async () => {
      if (failure) throw failure;
      return changes.some((c) => c.table === "done");
    }, 30_000, 50);
  } finally {
    reader.stop();
  }
  return { changes, decodedFromPackets: reader.decodedFromPackets, gtids, commits };
}
