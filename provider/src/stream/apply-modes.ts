/**
 * How the applier treats one table's changes. Exact by default; the initial copy (copy/) supplies
 * the modes of the tables it is copying, so that copy and stream together end at the master's
 * state (see copy/copy-modes.ts).
 */
export type ApplyMode = "exact" | "idempotent" | "skip";

export interface ApplyModes {
  modeOf(db: string, table: string, gtid: string): ApplyMode;
  /** After each commit of the applier: the master GTIDs applied so far. */
  applied(progress: string): void;
}
