/**
 * The daemon's own event types. The binlog reader turns zongji's events into `SourceEvent`s at
 * once; the assembler turns those into `ApplyItem`s for the applier. No library type passes
 * beyond binlog-reader.ts.
 */
import type { Touched } from "./ddl-guard";
import type { ValueKind } from "../sql/literals";
import type { SessionContext } from "./session-context";

export type RowOperation = "insert" | "update" | "delete";
export type RowValues = unknown[];

/** A table's columns as one table map describes them (shared by every row event that uses it). */
export interface TableColumns {
  names: string[];
  /** How each column's values are written back (raw bytes for text, indexes for ENUM/SET...). */
  kinds: ValueKind[];
}

/** One row event's rows, values in `columns` order (all columns: binlog_row_image=FULL). */
export interface RowChange {
  db: string;
  table: string;
  op: RowOperation;
  columns: TableColumns;
  /** insert: the new rows; delete: the old rows; update: the before images. */
  rows: RowValues[];
  /** update only: the after images, aligned with `rows`. */
  after?: RowValues[];
  /** The master session's foreign_key_checks and unique_checks for this statement. */
  foreignKeyChecks: boolean;
  uniqueChecks: boolean;
  /** The row event's size in the binlog, when read from it: what its rows weigh in memory. */
  bytes?: number;
}

/** A statement of the master's, with the session context it ran in. */
export interface QueryStatement {
  /** The session's default database. */
  schema: string;
  /** The text, decoded from the client character set (for recognizing what it touches). */
  sql: string;
  /** The bytes the master logged, sent back unchanged when the statement is replayed. */
  raw: Buffer;
  context: SessionContext;
}

export type SourceEvent =
  /**
   * Starts a transaction group. `standalone`: MariaDB's mark for a group of exactly one statement
   * (MySQL does not say: undefined). `xa`: MariaDB's mark for a group that ends XA-prepared.
   */
  | { kind: "gtid"; gtid: string; timestampMs: number; standalone: boolean | undefined; xa: boolean }
  | { kind: "rows"; change: RowChange; timestampMs: number }
  | { kind: "query"; statement: QueryStatement; timestampMs: number }
  /** XID event: the commit of a transaction. */
  | { kind: "xid"; timestampMs: number }
  /** The end of a group whose transaction was XA-prepared (it commits or rolls back later). */
  | { kind: "xa-prepare"; onePhase: boolean; timestampMs: number };

/** A DDL statement of selected objects, and what the applier needs to replay it safely. */
export interface DdlStatement {
  statement: QueryStatement;
  /**
   * The text to run when only part of the master's statement concerns the selection (a
   * multi-table DROP or RENAME cut down), in UTF-8; otherwise the master's bytes run unchanged.
   */
  rewritten?: string;
  /** Tables and databases the statement changes: compared before and after to tell whether it ran. */
  touches: Touched;
  /** Running it again is harmless (TRUNCATE, IF [NOT] EXISTS, CREATE OR REPLACE). */
  idempotent: boolean;
}

/** What the applier consumes, in source order. Every source transaction ends in exactly one ending item. */
export type ApplyItem =
  /** Rows of the transaction that is open. */
  | { kind: "rows"; gtid: string; change: RowChange }
  /** SAVEPOINT / ROLLBACK TO SAVEPOINT inside the open transaction (the master logged both). */
  | { kind: "savepoint"; gtid: string; name: string; rollback: boolean }
  /** A DDL statement; it commits by itself, so it ends any batch. `ends`: the source transaction ends with it. */
  | { kind: "ddl"; gtid: string; timestampMs: number; ddl: DdlStatement; ends: boolean }
  /** Ending: the commit of a source transaction (possibly with nothing selected in it). */
  | { kind: "commit"; gtid: string; timestampMs: number; heartbeatMs?: number }
  /** Ending: an XA-prepared transaction; its changes are kept until its XA COMMIT or XA ROLLBACK. */
  | { kind: "xa-prepare"; gtid: string; timestampMs: number; xid: string; changes: RowChange[] }
  /** Ending: XA COMMIT (apply the kept changes) or XA ROLLBACK (drop them). */
  | { kind: "xa-end"; gtid: string; timestampMs: number; xid: string; commit: boolean }
  /** A change the link cannot apply exactly: the applier stops at it with this message. */
  | { kind: "refuse"; gtid: string; message: string };

/**
 * A row weighs one unit per this many bytes of its row event (at least one): limits that count
 * rows then bound memory however wide the rows are (20,000 rows of 1 MiB BLOBs would not fit).
 */
export const BYTES_PER_WEIGHT_UNIT = 512;

/** How much an item weighs in the bounded queue between reader and applier (rows, heavier when wide). */
export function itemWeight(item: ApplyItem): number {
  if (item.kind === "rows") return changeWeight(item.change);
  if (item.kind === "xa-prepare") return item.changes.reduce((n, c) => n + changeWeight(c), 1);
  return 1;
}

function changeWeight(change: RowChange): number {
  return Math.max(change.rows.length, Math.ceil((change.bytes ?? 0) / BYTES_PER_WEIGHT_UNIT));
}

/** Whether the item closes its source transaction. */
export function endsTransaction(item: ApplyItem): boolean {
  return item.kind === "commit" || item.kind === "xa-prepare" || item.kind === "xa-end" || (item.kind === "ddl" && item.ends);
}
