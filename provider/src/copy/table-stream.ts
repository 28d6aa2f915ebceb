/**
 * Streams one table's rows from a read session into another server in multi-row INSERTs, reading
 * the exact forms (row-reads.ts) so that the written rows equal the read ones. The read runs inside
 * whatever transaction the read session holds: the copier's snapshot of a keyless table on the
 * master, or the drill's snapshot of the DR copy.
 */
import type { Connection } from "../core/db";
import { quoteTable } from "../core/db";
import type { TableShape } from "../catalog/table-shape";
import { wireId, wireTable } from "../sql/literals";
import { type ExactRead, exactRead } from "../sql/row-reads";
import { insertStatements } from "../sql/statements";

/** Rows buffered from the read stream before they are written. */
const STREAM_BATCH_ROWS = 1000;

/** What a copy of one table writes: its stored columns, read exactly, and the INSERT that takes them. */
export interface CopiedColumns {
  names: string[];
  read: ExactRead;
  /** `INSERT INTO t (columns) VALUES ` in wire text. */
  insertPrefix: string;
  sequence: boolean;
}

/** Columns a copy writes: all but generated ones, which the receiving server computes itself. */
export function copiedColumns(shape: TableShape, db: string, table: string): CopiedColumns {
  const stored = shape.columns.filter((c) => !c.generated);
  const names = stored.map((c) => c.name);
  return { names, read: exactRead(stored), insertPrefix: `INSERT INTO ${wireTable(db, table)} (${names.map(wireId).join(", ")}) VALUES `, sequence: shape.tableType === "SEQUENCE" };
}

/**
 * Runs a SELECT on `source` and hands each row (an array) to `onRow` as it arrives, keeping no
 * result set. An error thrown by `onRow` fails the read once the result has ended.
 */
export function forEachRow(source: Connection, sql: string, values: unknown[], onRow: (row: unknown[]) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: unknown = null;
    rawConnection(source)
      .query({ sql, values, rowsAsArray: true })
      .on("result", (row) => {
        if (failed !== null) return;
        try {
          onRow(row as unknown as unknown[]);
        } catch (err) {
          failed = err;
        }
      })
      .on("error", reject)
      .on("end", () => (failed !== null ? reject(failed) : resolve()));
  });
}

/** The callback connection under the promise wrapper: only it can hand rows out as they arrive. */
function rawConnection(conn: Connection): import("mysql2").Connection {
  return (conn as unknown as { connection: import("mysql2").Connection }).connection;
}

/**
 * Reads every row of `db.table` (optionally only those matching `where`) from `source` and
 * inserts them on `target` (a wire connection with multiple statements). Returns the rows written.
 * Transactions are the caller's: this only reads and inserts.
 */
export async function streamTableRows(source: Connection, target: Connection, db: string, table: string, columns: CopiedColumns, where?: { sql: string; params: unknown[] }): Promise<number> {
  const stream = rawConnection(source)
    .query({ sql: `SELECT ${columns.read.select.join(", ")} FROM ${quoteTable(db, table)}${where ? ` WHERE ${where.sql}` : ""} /* mysql-dr copy */`, values: where?.params, rowsAsArray: true })
    .stream({ highWaterMark: STREAM_BATCH_ROWS });
  let rows = 0;
  let batch: unknown[][] = [];
  const flush = async () => {
    for (const sql of insertStatements(columns.insertPrefix, columns.read.kinds, batch)) await target.query(sql);
    rows += batch.length;
    batch = [];
  };
  for await (const row of stream) {
    batch.push(row as unknown[]);
    if (batch.length >= STREAM_BATCH_ROWS) await flush();
  }
  await flush();
  return rows;
}
