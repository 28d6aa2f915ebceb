/**
 * What a promotion left on the server it opened (mysql_dr.promotion, one row per link it fenced):
 * the server's own GTID position when it opened, which is where a link back to the old master
 * starts (everything the new primary committed from then on is the application's), the master
 * position it was promoted at, and, once the old master was examined, the transactions found only
 * there (the divergence a forced promotion can leave). Written before the server opens, so a
 * record exists for every promotion that may have accepted a write.
 */
import type { Connection } from "../core/db";
import { CHECKPOINT_SCHEMA, stateRows } from "./checkpoint-store";

const TABLE = `${CHECKPOINT_SCHEMA}.promotion`;

/** Transactions the old master committed that the promoted server never applied. */
export interface Divergence {
  /** Their GTIDs, in binlog order (those touching selected tables). */
  gtids: string[];
  /** Rows changed per table (`db.table`); a DDL counts its table with 0 rows. */
  tables: Record<string, number>;
  /** When the old master was examined (ISO 8601). */
  checkedAt: string;
  /** Why the transactions could not be read (purged binlogs): then the tables are unknown. */
  unknown?: string;
  /** The old master's position the binlog was read up to (a retry reads again only when it moved). */
  scannedTo?: string;
}

export interface PromotionRecord {
  link: string;
  /** This server's own GTID position when it opened. */
  openedGtid: string;
  /** The master position the link had applied (the promotion's promotedGtid). */
  promotedGtid: string;
  /** The old master's server identity. */
  masterIdentity: string;
  promotedAt: string;
  divergence: Divergence | null;
}

export async function recordPromotion(conn: Connection, records: Omit<PromotionRecord, "divergence">[]): Promise<void> {
  if (!records.length) return;
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (link VARCHAR(64) NOT NULL PRIMARY KEY, record LONGTEXT NOT NULL) ENGINE=InnoDB /* mysql-dr promotion */`);
  for (const r of records) await conn.query(`REPLACE INTO ${TABLE} (link, record) VALUES (?, ?) /* mysql-dr promotion */`, [r.link, JSON.stringify({ ...r, divergence: null })]);
}

/** Undoes recordPromotion (a promotion that did not open the server). */
export async function forgetPromotion(conn: Connection, links: string[]): Promise<void> {
  if (links.length) await stateRows(conn, `DELETE FROM ${TABLE} WHERE link IN (?) /* mysql-dr promotion */`, [links]);
}

export async function readPromotion(conn: Connection, link: string): Promise<PromotionRecord | undefined> {
  const [row] = await stateRows<{ record: string | Buffer }>(conn, `SELECT record FROM ${TABLE} WHERE link = ? /* mysql-dr promotion */`, [link]);
  return row ? (JSON.parse(row.record.toString()) as PromotionRecord) : undefined;
}

/** The most recent promotion recorded on this server, of any link. */
export async function latestPromotion(conn: Connection): Promise<PromotionRecord | undefined> {
  const rows = await stateRows<{ record: string | Buffer }>(conn, `SELECT record FROM ${TABLE} /* mysql-dr promotion */`);
  return rows.map((r) => JSON.parse(r.record.toString()) as PromotionRecord).sort((a, b) => b.promotedAt.localeCompare(a.promotedAt))[0];
}

export async function recordDivergence(conn: Connection, link: string, divergence: Divergence): Promise<void> {
  const record = await readPromotion(conn, link);
  if (record) await conn.query(`UPDATE ${TABLE} SET record = ? WHERE link = ? /* mysql-dr promotion */`, [JSON.stringify({ ...record, divergence }), link]);
}
