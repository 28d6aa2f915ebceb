/**
 * Streams rows from a read session into another server in multi-row INSERTs as they arrive, reading
 * the exact forms (row-reads.ts) so that the written rows equal the read ones. The read runs inside
 * whatever transaction the read session holds: the copier's snapshot of a keyless table on the
 * master, or the drill's snapshot of the DR copy.
 */
import type { Connection } from "../core/db";
import { quoteTable } from "../core/db";
import type { TableShape } from "../catalog/table-shape";
import { wireId, wireTable } from "../sql/literals";
import { type ExactRead, exactRead } from "../sql/row-reads";
import { InsertBuilder } from "../sql/statements";

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
 * result set; while the promise `onRow` may return is pending, the read pauses. Resolves once
 * the result has ended and the last promise settled; fails with the first error.
 */
export function forEachRow(source: Connection, sql: string, values: unknown[], onRow: (row: unknown[]) => Promise<void> | undefined): Promise<void> {
  const conn = rawConnection(source);
  return new Promise((resolve, reject) => {
    let failed = false;
    let waiting: Promise<void> | undefined;
    let ended = false;
    const fail = (err: unknown) => {
      failed = true;
      reject(err);
    };
    conn
      .query({ sql, values, rowsAsArray: true })
      .on("result", (row) => {
        if (failed) return;
        try {
          waiting = onRow(row as unknown as unknown[]);
        } catch (err) {
          return fail(err);
        }
        if (!waiting) return;
        conn.pause();
        waiting.then(
          () => {
            waiting = undefined;
            conn.resume();
            if (ended) resolve();
          },
          (err: unknown) => {
            conn.resume();
            fail(err);
          },
        );
      })
      .on("error", fail)
      .on("end", () => {
        ended = true;
        if (!waiting && !failed) resolve();
      });
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
  const statements = new InsertBuilder(columns.insertPrefix, columns.read.kinds);
  const write = async () => {
    for (const sql of statements.take()) await target.query(sql);
  };
  let rows = 0;
  await forEachRow(source, `SELECT ${columns.read.select.join(", ")} FROM ${quoteTable(db, table)}${where ? ` WHERE ${where.sql}` : ""} /* mysql-dr copy */`, where?.params ?? [], (row) => {
    statements.add(row);
    rows++;
    return statements.pending ? write() : undefined;
  });
  statements.end();
  await write();
  return rows;
}
