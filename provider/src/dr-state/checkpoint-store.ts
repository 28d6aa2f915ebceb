/**
 * The link's position on the DR server: `mysql_dr.checkpoint` holds the master GTIDs applied, and
 * is updated inside the same target transaction as the rows it covers. The same connection holds
 * the link's named lock, so exactly one applier writes to a DR server per link.
 */
import type { Connection } from "../core/db";
import { DrError } from "../core/errors";

export const CHECKPOINT_SCHEMA = "mysql_dr";
const TABLE = "mysql_dr.checkpoint";

/** A DDL that was started and not confirmed, with the state of what it touches from before it ran. */
export interface PendingDdl {
  gtid: string;
  /** Digest of the touched objects' definitions before the DDL (see ddl-guard.ts). */
  before: string;
}

export interface Checkpoint {
  sourceGtid: string;
  /** The master's server identity when the link was created (or last confirmed); '' in rows of early versions. */
  sourceIdentity: string;
  /** The master position last seen by the daemon, recorded with its batches. */
  sourceSeenGtid: string | null;
  /** When the row last changed: the daemon's last applied batch, or the link's creation. */
  updatedAt: string;
  /** The DDL in flight when the previous run stopped: replaying it checks whether it already ran. */
  pendingDdl: PendingDdl | null;
  rowsApplied: number;
  transactionsApplied: number;
  /** Row changes that found no row to change, skipped under onMissingRow "skip-and-count". */
  missingRowsSkipped: number;
  /** Set by promotion: the link must never write to this server again. */
  fenced: boolean;
  /** The master-side time (ms) of the newest change applied: a heartbeat marker or an event timestamp; null before the first. */
  appliedSourceMs: number | null;
}

/** Server errors meaning the mysql_dr schema or table is not there yet: the server never had a link. */
const NO_STATE_YET = new Set([1146, 1049]);

/** Rows of a query on the mysql_dr schema; none where that schema or table does not exist yet. */
export async function stateRows<T>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } catch (err) {
    if (NO_STATE_YET.has((err as { errno?: number }).errno ?? -1)) return [];
    throw err;
  }
}

/**
 * Text as a hex literal, for statements on the mysql_dr schema that the applier runs under the
 * master's session sql_mode: read the same whatever it does to quotes and backslashes
 * (ANSI_QUOTES, NO_BACKSLASH_ESCAPES...).
 */
export function hexText(s: string): string {
  return `CONVERT(X'${Buffer.from(s, "utf8").toString("hex")}' USING utf8mb4)`;
}

export function lockName(link: string): string {
  return `mysql_dr.link.${link}`;
}

/** Columns added since the table's first version, added to an older table when missing. */
const ADDED_COLUMNS: [string, string][] = [
  ["pending_ddl_state", "LONGTEXT NULL"],
  ["missing_rows_skipped", "BIGINT UNSIGNED NOT NULL DEFAULT 0"],
  ["applied_source_ms", "BIGINT NULL"],
  ["writer_server_id", "INT UNSIGNED NULL"],
  ["writer_baseline", "LONGTEXT NULL"],
];

export async function ensureCheckpointTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${CHECKPOINT_SCHEMA} /* mysql-dr checkpoint */`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL PRIMARY KEY,
      source_gtid LONGTEXT NOT NULL,
      source_identity VARCHAR(255) NOT NULL DEFAULT '',
      source_seen_gtid LONGTEXT NULL,
      pending_ddl_gtid VARCHAR(255) NULL,
      pending_ddl_state LONGTEXT NULL,
      rows_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      transactions_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      missing_rows_skipped BIGINT UNSIGNED NOT NULL DEFAULT 0,
      fenced TINYINT(1) NOT NULL DEFAULT 0,
      applied_source_ms BIGINT NULL,
      writer_server_id INT UNSIGNED NULL,
      writer_baseline LONGTEXT NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB /* mysql-dr checkpoint */`);
  const [rows] = await conn.query(`SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${CHECKPOINT_SCHEMA}' AND TABLE_NAME = 'checkpoint' /* mysql-dr checkpoint */`);
  const have = new Set((rows as { name: string }[]).map((r) => r.name));
  for (const [name, definition] of ADDED_COLUMNS) {
    if (!have.has(name)) await conn.query(`ALTER TABLE ${TABLE} ADD COLUMN ${name} ${definition} /* mysql-dr checkpoint */`);
  }
}

export async function readCheckpoint(conn: Connection, link: string): Promise<Checkpoint | undefined> {
  const [row] = await stateRows<Record<string, unknown>>(conn, `SELECT * FROM ${TABLE} WHERE link = ? /* mysql-dr checkpoint */`, [link]);
  if (!row) return undefined;
  const text = (v: unknown) => (v === null || v === undefined ? null : Buffer.isBuffer(v) ? v.toString("utf8") : String(v));
  const state = text(row.pending_ddl_state);
  return {
    sourceGtid: text(row.source_gtid) ?? "",
    sourceIdentity: text(row.source_identity) ?? "",
    sourceSeenGtid: text(row.source_seen_gtid),
    updatedAt: text(row.updated_at) ?? "",
    pendingDdl: state === null ? null : (JSON.parse(state) as PendingDdl),
    rowsApplied: Number(row.rows_applied),
    transactionsApplied: Number(row.transactions_applied),
    missingRowsSkipped: Number(row.missing_rows_skipped ?? 0),
    fenced: Number(row.fenced) === 1,
    appliedSourceMs: row.applied_source_ms === null || row.applied_source_ms === undefined ? null : Number(row.applied_source_ms),
  };
}

/**
 * Creates the link's row (with the master's identity, so `verify` can find how far the DR server
 * has applied that master). An existing row is kept (the link resumes from it) unless `restart`,
 * as for an initial copy, which starts the stream over from `sourceGtid`.
 */
export async function initCheckpoint(conn: Connection, link: string, sourceGtid: string, sourceIdentity: string, restart = false): Promise<void> {
  await ensureCheckpointTable(conn);
  await conn.query(`${restart ? "REPLACE" : "INSERT IGNORE"} INTO ${TABLE} (link, source_gtid, source_identity) VALUES (?, ?, ?) /* mysql-dr checkpoint */`, [link, sourceGtid, sourceIdentity]);
}

export interface CheckpointAdvance {
  sourceGtid: string;
  rows: number;
  transactions: number;
  missingRowsSkipped?: number;
  /** The master position last seen, kept so a forced promotion can tell what may be lost even when the daemon is gone. */
  sourceSeenGtid?: string | null;
  /** Whether this commit confirms the DDL in flight. */
  clearsPendingDdl?: boolean;
  /** The master-side time (ms) of the batch's newest change, for the lag a promotion guardrail reads from the server. */
  sourceTimeMs?: number;
}

/** Inside the applier's open transaction: the position after the batch, and its counters. */
export async function advanceCheckpoint(conn: Connection, link: string, a: CheckpointAdvance): Promise<void> {
  await conn.query(
    `UPDATE ${TABLE} SET source_gtid = ?, rows_applied = rows_applied + ?, transactions_applied = transactions_applied + ?, missing_rows_skipped = missing_rows_skipped + ?, source_seen_gtid = COALESCE(?, source_seen_gtid), applied_source_ms = GREATEST(COALESCE(applied_source_ms, 0), COALESCE(?, 0))${a.clearsPendingDdl ? ", pending_ddl_gtid = NULL, pending_ddl_state = NULL" : ""} WHERE link = ? /* mysql-dr applier */`,
    [a.sourceGtid, a.rows, a.transactions, a.missingRowsSkipped ?? 0, a.sourceSeenGtid ?? null, a.sourceTimeMs ?? null, link],
  );
}

/** Marks a DDL in flight (autocommit: it must survive the DDL's own implicit commit), or clears the mark. */
export async function markDdlPending(conn: Connection, link: string, pending: PendingDdl | null): Promise<void> {
  await conn.query(`UPDATE ${TABLE} SET pending_ddl_gtid = ?, pending_ddl_state = ? WHERE link = ? /* mysql-dr applier */`, [pending?.gtid ?? null, pending && JSON.stringify(pending), link]);
}

/** The master was confirmed by its history under a new identity (see link-runner's checkSameMaster). */
export async function recordSourceIdentity(conn: Connection, link: string, identity: string): Promise<void> {
  await conn.query(`UPDATE ${TABLE} SET source_identity = ? WHERE link = ? /* mysql-dr checkpoint */`, [identity, link]);
}

/** A row's update time as ISO 8601 (sessions run in UTC). */
const UPDATED_AT_ISO = "DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ')";

/** When the daemon last recorded anything for these links (each applied batch updates the row); null for none. */
export async function lastRecordTime(conn: Connection, links: string[]): Promise<string | null> {
  if (!links.length) return null;
  const [rows] = await conn.query(`SELECT ${UPDATED_AT_ISO.replace("updated_at", "MAX(updated_at)")} AS at FROM ${TABLE} WHERE link IN (?) /* mysql-dr checkpoint */`, [links]);
  return (rows as { at: string | null }[])[0].at;
}

/** One link's row, as a promotion or an out-of-band check reads it. */
export interface LinkPosition {
  link: string;
  sourceGtid: string;
  sourceIdentity: string;
  fenced: boolean;
  updatedAt: string;
}

/** Every link's position on this DR server; none when the server never had a link. */
export async function linkPositions(conn: Connection): Promise<LinkPosition[]> {
  const rows = await stateRows<Record<string, unknown>>(conn, `SELECT link, source_gtid AS sourceGtid, source_identity AS sourceIdentity, fenced, ${UPDATED_AT_ISO} AS updatedAt FROM ${TABLE} ORDER BY link /* mysql-dr checkpoint */`);
  return rows.map((r) => ({ link: String(r.link), sourceGtid: String(r.sourceGtid ?? ""), sourceIdentity: String(r.sourceIdentity ?? ""), fenced: Number(r.fenced) === 1, updatedAt: String(r.updatedAt) }));
}

/** The links applying to this DR server, unfenced: from the master of `identity`, or all when it is undefined. */
export async function unfencedLinks(conn: Connection, identity: string | undefined): Promise<string[]> {
  const rows = await stateRows<{ link: string }>(conn, `SELECT link FROM ${TABLE} WHERE fenced = 0 ${identity === undefined ? "" : "AND source_identity = ?"} ORDER BY link /* mysql-dr checkpoint */`, identity === undefined ? [] : [identity]);
  return rows.map((r) => r.link);
}

/** Links whose rows a promotion fenced: the server was made writable and may hold its own writes. */
export async function fencedLinks(conn: Connection): Promise<{ link: string; updatedAt: string }[]> {
  return stateRows(conn, `SELECT link, ${UPDATED_AT_ISO} AS updatedAt FROM ${TABLE} WHERE fenced = 1 ORDER BY link /* mysql-dr checkpoint */`);
}

export async function deleteCheckpoint(conn: Connection, link: string): Promise<void> {
  await conn.query(`DELETE FROM ${TABLE} WHERE link = ? /* mysql-dr checkpoint */`, [link]);
}

/** Takes the link's named lock on this session, or says who holds it. */
export async function acquireLinkLock(conn: Connection, link: string): Promise<void> {
  const [rows] = await conn.query("SELECT GET_LOCK(?, 0) AS got, IS_USED_LOCK(?) AS holder /* mysql-dr applier */", [lockName(link), lockName(link)]);
  const row = (rows as { got: number | null; holder: number | null }[])[0];
  if (Number(row.got) !== 1) {
    throw Object.assign(
      new DrError("CONFLICT", `Link ${link} is already being applied to this DR server by another daemon (connection ${row.holder} holds lock ${lockName(link)}); stop that daemon or delete the link there first.`),
      { retryable: true },
    );
  }
}
