/**
 * Progress of a link's initial copy, kept on the DR server next to the checkpoint: one row per
 * copy unit (a table, or a key range of a large table with an integer key). A unit's row is
 * updated in the same target transaction as the chunk it records, so a copy resumes after a
 * crash from its last finished chunk and never copies a finished chunk again.
 */
import { CHECKPOINT_SCHEMA } from "./checkpoint-store";
import { type Connection, wire } from "../core/db";

const TABLE = `${CHECKPOINT_SCHEMA}.copy_state`;

/** A key value as stored: JSON of the key columns' values (Buffers as {hex}). */
export type KeyValues = unknown[];

export interface CopyUnit {
  db: string;
  table: string;
  unit: number;
  /** The key the table is chunked by; null for a table without a unique key (copied whole). */
  keyColumns: string[] | null;
  /** Integer key range [lo, hi) of this unit; null bounds are open. */
  rangeLo: number | string | null;
  rangeHi: number | string | null;
  lastKey: KeyValues | null;
  rowsCopied: number;
  chunksCopied: number;
  rowsEstimated: number;
  done: boolean;
  /** Keyless tables: the master GTIDs the snapshot copy contains. */
  snapshotGtid: string | null;
  /** Keyed tables: once every unit is done, the master position after which changes apply exactly. */
  catchupGtid: string | null;
}

export async function ensureCopyStateTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${CHECKPOINT_SCHEMA} /* mysql-dr copy */`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL,
      db VARCHAR(64) NOT NULL,
      tbl VARCHAR(64) NOT NULL,
      unit INT NOT NULL,
      key_columns TEXT NULL,
      range_lo VARCHAR(64) NULL,
      range_hi VARCHAR(64) NULL,
      last_key LONGTEXT NULL,
      rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      chunks_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      rows_estimated BIGINT UNSIGNED NOT NULL DEFAULT 0,
      done TINYINT(1) NOT NULL DEFAULT 0,
      snapshot_gtid LONGTEXT NULL,
      catchup_gtid LONGTEXT NULL,
      PRIMARY KEY (link, db, tbl, unit)
    ) ENGINE=InnoDB /* mysql-dr copy */`);
}

export async function insertCopyUnits(conn: Connection, link: string, units: CopyUnit[]): Promise<void> {
  for (const u of units) {
    await conn.query(
      `REPLACE INTO ${TABLE} (link, db, tbl, unit, key_columns, range_lo, range_hi, rows_estimated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) /* mysql-dr copy */`,
      [link, u.db, u.table, u.unit, u.keyColumns && JSON.stringify(u.keyColumns), u.rangeLo === null ? null : String(u.rangeLo), u.rangeHi === null ? null : String(u.rangeHi), u.rowsEstimated],
    );
  }
}

export async function deleteCopyUnits(conn: Connection, link: string): Promise<void> {
  await conn.query(`DELETE FROM ${TABLE} WHERE link = ? /* mysql-dr copy */`, [link]);
}

export async function loadCopyUnits(conn: Connection, link: string): Promise<CopyUnit[]> {
  let rows: unknown;
  try {
    [rows] = await conn.query(`SELECT * FROM ${TABLE} WHERE link = ? ORDER BY db, tbl, unit /* mysql-dr copy */`, [link]);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146) return [];
    throw err;
  }
  return (rows as Record<string, unknown>[]).map((r) => ({
    db: String(r.db),
    table: String(r.tbl),
    unit: Number(r.unit),
    keyColumns: r.key_columns === null ? null : (JSON.parse(String(r.key_columns)) as string[]),
    rangeLo: r.range_lo === null ? null : String(r.range_lo),
    rangeHi: r.range_hi === null ? null : String(r.range_hi),
    lastKey: r.last_key === null ? null : decodeKey(String(r.last_key)),
    rowsCopied: Number(r.rows_copied),
    chunksCopied: Number(r.chunks_copied),
    rowsEstimated: Number(r.rows_estimated),
    done: Number(r.done) === 1,
    snapshotGtid: r.snapshot_gtid === null ? null : String(r.snapshot_gtid),
    catchupGtid: r.catchup_gtid === null ? null : String(r.catchup_gtid),
  }));
}

/** Inside the chunk's target transaction (on the copier's wire connection): where the unit stands after it. */
export async function recordChunk(conn: Connection, link: string, u: CopyUnit, lastKey: KeyValues | null, rows: number, done: boolean, snapshotGtid: string | null = null): Promise<void> {
  const [result] = await conn.query(
    `UPDATE ${TABLE} SET last_key = ?, rows_copied = rows_copied + ?, chunks_copied = chunks_copied + 1, done = ?, snapshot_gtid = COALESCE(?, snapshot_gtid) WHERE link = ? AND db = ? AND tbl = ? AND unit = ? /* mysql-dr copy */`,
    [lastKey === null ? null : encodeKey(lastKey), rows, done ? 1 : 0, snapshotGtid, link, wire(u.db), wire(u.table), u.unit],
  );
  if ((result as { affectedRows: number }).affectedRows !== 1) throw new Error(`the copy progress of ${u.db}.${u.table} (unit ${u.unit}) is missing from ${TABLE}`);
}

/** On the copier's wire connection. */
export async function recordCatchupTarget(conn: Connection, link: string, db: string, table: string, gtid: string): Promise<void> {
  await conn.query(`UPDATE ${TABLE} SET catchup_gtid = ? WHERE link = ? AND db = ? AND tbl = ? /* mysql-dr copy */`, [gtid, link, wire(db), wire(table)]);
}

/** JSON of the key's values, ASCII only (\u escapes), so any connection writes it unchanged. */
export function encodeKey(key: KeyValues): string {
  return JSON.stringify(key.map((v) => (Buffer.isBuffer(v) ? { hex: v.toString("hex") } : v))).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function decodeKey(text: string): KeyValues {
  return (JSON.parse(text) as unknown[]).map((v) => (v && typeof v === "object" && "hex" in v ? Buffer.from(String((v as { hex: string }).hex), "hex") : v));
}
