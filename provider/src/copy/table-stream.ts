/**
 * Streams rows from a read session into another server in multi-row INSERTs as they arrive (or, for
 * the copy, with LOAD DATA: load-data.ts), reading the exact forms (row-reads.ts) so that the
 * written rows equal the read ones. The read runs inside whatever transaction the read session
 * holds: the copier's snapshot of a keyless table on the master, or the drill's snapshot of the DR
 * copy.
 */
import type { Connection } from "../core/db";
import { quoteTable } from "../core/db";
import type { TableShape } from "../catalog/table-shape";
import { wireId, wireTable } from "../sql/literals";
import { type ExactRead, exactRead } from "../sql/row-reads";
import { InsertBuilder } from "../sql/statements";
import { loadStatement } from "./load-data";
import { forEachRow } from "./row-source";

/** What a copy of one table writes: its stored columns, read exactly, and the statements that take them. */
export interface CopiedColumns {
  names: string[];
  read: ExactRead;
  /** `INSERT INTO t (columns) VALUES ` in wire text. */
  insertPrefix: string;
  /** The LOAD DATA statement (load-data.ts), or null where a load could not write the rows exactly. */
  load: string | null;
  sequence: boolean;
}

/** Columns a copy writes: all but generated ones, which the receiving server computes itself. */
export function copiedColumns(shape: TableShape, db: string, table: string): CopiedColumns {
  const stored = shape.columns.filter((c) => !c.generated);
  const names = stored.map((c) => c.name);
  const sequence = shape.tableType === "SEQUENCE";
  return { names, read: exactRead(stored), insertPrefix: `INSERT INTO ${wireTable(db, table)} (${names.map(wireId).join(", ")}) VALUES `, load: loadStatement(db, table, stored, sequence), sequence };
}

/** A read of rows to copy: the SELECT (UTF-8 SQL for the reading session) and its parameters. */
export interface RowSelect {
  sql: string;
  params: unknown[];
}

/** The SELECT of a table's copied columns, with an optional condition and a tail (ORDER BY, LIMIT). */
export function selectRows(db: string, table: string, columns: CopiedColumns, where?: { sql: string; params: unknown[] }, tail = ""): RowSelect {
  return { sql: `SELECT ${columns.read.select.join(", ")} FROM ${quoteTable(db, table)}${where ? ` WHERE ${where.sql}` : ""}${tail} /* mysql-dr copy */`, params: where?.params ?? [] };
}

/**
 * Reads `select`'s rows on `source` and inserts them on `target` (a wire connection with multiple
 * statements) in multi-row INSERTs, each ending with `suffix`; one statement is written while the
 * next one's rows are read. Returns the rows written and the last one, decoded. Transactions are
 * the caller's: this only reads and inserts.
 */
export async function insertRows(source: Connection, target: Connection, select: RowSelect, columns: CopiedColumns, suffix = ""): Promise<{ rows: number; last: unknown[] | null }> {
  const statements = new InsertBuilder(columns.insertPrefix, columns.read.kinds, suffix);
  let writing: Promise<void> = Promise.resolve();
  const write = () => {
    const before = writing;
    const ready = statements.take();
    writing = before.then(async () => {
      for (const sql of ready) await target.query(sql);
    });
    writing.catch(() => undefined);
    return before;
  };
  let rows = 0;
  let last: unknown[] | null = null;
  await forEachRow(source, select.sql, select.params, (row) => {
    statements.add(row);
    rows++;
    last = row;
    return statements.pending ? write() : undefined;
  });
  statements.end();
  write();
  await writing;
  return { rows, last };
}

/** Copies every row of `db.table` (optionally only those matching `where`) by INSERTs; returns how many. */
export async function streamTableRows(source: Connection, target: Connection, db: string, table: string, columns: CopiedColumns, where?: { sql: string; params: unknown[] }): Promise<number> {
  return (await insertRows(source, target, selectRows(db, table, columns, where), columns)).rows;
}
