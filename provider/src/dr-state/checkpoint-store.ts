/**
 * The link's position on the DR server: `mysql_dr.checkpoint` holds the master GTIDs applied, and
 * is updated inside the same target transaction as the rows it covers. The same connection holds
 * the link's named lock, so exactly one applier writes to a DR server per link.
 */
import type { Connection } from "../core/db";
import { DrError } from "../core/errors";

export const CHECKPOINT_SCHEMA = "mysql_dr";
const TABLE = "mysql_dr.checkpoint";

export interface Checkpoint {
  sourceGtid: string;
  /** A DDL started but not confirmed: replaying it tolerates "already done" errors. */
  pendingDdlGtid: string | null;
  rowsApplied: number;
  transactionsApplied: number;
  /** Set by promotion: the link must never write to this server again. */
  fenced: boolean;
}

export function lockName(link: string): string {
  return `mysql_dr.link.${link}`;
}

export async function ensureCheckpointTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${CHECKPOINT_SCHEMA} /* mysql-dr checkpoint */`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL PRIMARY KEY,
      source_gtid LONGTEXT NOT NULL,
      source_identity VARCHAR(255) NOT NULL DEFAULT '',
      source_seen_gtid LONGTEXT NULL,
      pending_ddl_gtid VARCHAR(255) NULL,
      rows_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      transactions_applied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      fenced TINYINT(1) NOT NULL DEFAULT 0,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB /* mysql-dr checkpoint */`);
}

export async function readCheckpoint(conn: Connection, link: string): Promise<Checkpoint | undefined> {
  let rows: unknown;
  try {
    [rows] = await conn.query(`SELECT source_gtid, pending_ddl_gtid, rows_applied, transactions_applied, fenced FROM ${TABLE} WHERE link = ? /* mysql-dr checkpoint */`, [link]);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049) return undefined;
    throw err;
  }
  const row = (rows as Record<string, unknown>[])[0];
  if (!row) return undefined;
  return {
    sourceGtid: String(row.source_gtid),
    pendingDdlGtid: row.pending_ddl_gtid === null ? null : String(row.pending_ddl_gtid),
    rowsApplied: Number(row.rows_applied),
    transactionsApplied: Number(row.transactions_applied),
    fenced: Number(row.fenced) === 1,
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

/** Inside the applier's open transaction: the position after the batch, and its counters. */
/**
 * Inside the applier's open transaction: the position after the batch, and its counters. The
 * master position last seen is kept too, so a forced promotion can tell what may be lost even
 * when the daemon is gone.
 */
export async function advanceCheckpoint(conn: Connection, link: string, sourceGtid: string, rows: number, transactions: number, sourceSeenGtid: string | null = null): Promise<void> {
  await conn.query(
    `UPDATE ${TABLE} SET source_gtid = ?, rows_applied = rows_applied + ?, transactions_applied = transactions_applied + ?, source_seen_gtid = COALESCE(?, source_seen_gtid) WHERE link = ? /* mysql-dr applier */`,
    [sourceGtid, rows, transactions, sourceSeenGtid, link],
  );
}

export async function markDdlPending(conn: Connection, link: string, gtid: string | null): Promise<void> {
  await conn.query(`UPDATE ${TABLE} SET pending_ddl_gtid = ? WHERE link = ? /* mysql-dr applier */`, [gtid, link]);
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
