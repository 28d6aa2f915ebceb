/**
 * The daemon's own event types. The binlog reader turns zongji's events into `SourceEvent`s at
 * once; the assembler turns those into `ApplyItem`s for the applier. No library type passes
 * beyond binlog-reader.ts.
 */

export type RowOperation = "insert" | "update" | "delete";
export type RowValues = unknown[];

/** One row event's rows, values in `columns` order (all columns: binlog_row_image=FULL). */
export interface RowChange {
  db: string;
  table: string;
  op: RowOperation;
  columns: string[];
  /** insert: the new rows; delete: the old rows; update: the before images. */
  rows: RowValues[];
  /** update only: the after images, aligned with `rows`. */
  after?: RowValues[];
}

export type SourceEvent =
  | { kind: "gtid"; gtid: string; timestampMs: number }
  | { kind: "rows"; change: RowChange; timestampMs: number }
  | { kind: "query"; schema: string; sql: string; timestampMs: number }
  | { kind: "commit"; timestampMs: number };

/** What the applier consumes, in source order. */
export type ApplyItem =
  /** Rows of the transaction that is open (a `commit` or `ddl` item ends it). */
  | { kind: "rows"; gtid: string; change: RowChange }
  /** The end of a source transaction (possibly with nothing selected in it). */
  | { kind: "commit"; gtid: string; timestampMs: number; heartbeatMs?: number }
  /** A DDL statement of selected objects: its own source transaction. */
  | { kind: "ddl"; gtid: string; timestampMs: number; schema: string; sql: string };

/** How much an item weighs in the bounded queue between reader and applier. */
export function itemWeight(item: ApplyItem): number {
  return item.kind === "rows" ? item.change.rows.length : 1;
}
