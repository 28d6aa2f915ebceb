/**
 * The last verification of each link, kept on the DR server (mysql_dr.verification) so that a
 * promotion guardrail can require a recent one without asking a daemon. The daemon keeps the same
 * record in its state directory for `link status`.
 */
import type { Connection } from "../core/db";
import { CHECKPOINT_SCHEMA } from "./checkpoint-store";

const TABLE = `${CHECKPOINT_SCHEMA}.verification`;

export const VERIFICATION_RESULTS = ["identical", "different", "repaired"] as const;
export type VerificationResult = (typeof VERIFICATION_RESULTS)[number];

export interface LastVerification {
  /** When the comparison finished (ISO 8601). */
  at: string;
  /** "barrier": both servers compared at one GTID (gtid); "live": while the link ran. Absent in records of earlier versions (live). */
  mode?: "barrier" | "live";
  /** Barrier: the GTID both snapshots held. Live: the master GTIDs the link had applied when it finished. Null when unknown. */
  gtid: string | null;
  result: VerificationResult;
  tablesChecked: number;
  /** Rows compared (absent in records of earlier versions). */
  rowsChecked?: number;
  /** Rows missing, extra or different on the DR server. */
  differences: number;
  /** Barrier: SHA-256 over the master's chunk checksums in table and chunk order (see barrier-verifier.ts). */
  proofDigest?: string;
  /** Barrier: chunks compared per table, in the digest's order. */
  proofChunks?: { table: string; chunks: number }[];
}

export async function recordVerification(conn: Connection, link: string, v: LastVerification): Promise<void> {
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (link VARCHAR(64) NOT NULL PRIMARY KEY, record LONGTEXT NOT NULL) ENGINE=InnoDB /* mysql-dr verification */`);
  await conn.query(`REPLACE INTO ${TABLE} (link, record) VALUES (?, ?) /* mysql-dr verification */`, [link, JSON.stringify(v)]);
}

/** The most recent verification among `links`, or null when none was recorded. */
export async function lastVerificationOf(conn: Connection, links: string[]): Promise<LastVerification | null> {
  if (!links.length) return null;
  let rows: unknown;
  try {
    [rows] = await conn.query(`SELECT record FROM ${TABLE} WHERE link IN (?) /* mysql-dr verification */`, [links]);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146) return null;
    throw err;
  }
  const records = (rows as { record: string | Buffer }[]).map((r) => JSON.parse(r.record.toString()) as LastVerification);
  return records.sort((a, b) => b.at.localeCompare(a.at))[0] ?? null;
}
