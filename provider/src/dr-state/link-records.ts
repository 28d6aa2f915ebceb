/**
 * The last verification and the last drill of each link, kept on the DR server (one table per
 * kind in the mysql_dr schema: `verification`, `drill`; a row per link holding the record as JSON)
 * so that a DrInstance refresh and the promotion guardrails can read them without asking a daemon.
 * The daemon keeps the same records in its state directory for `link status` (link-manager.ts).
 * Records hold figures only: no URL, password or server detail.
 */
import type { Connection } from "../core/db";
import { CHECKPOINT_SCHEMA, stateRows } from "./checkpoint-store";

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
  /** Barrier: SHA-256 over the master's chunk checksums in table and chunk order (see verify/barrier-verifier.ts). */
  proofDigest?: string;
  /** Barrier: chunks compared per table, in the digest's order. */
  proofChunks?: { table: string; chunks: number }[];
}

/** A drill's figures (`mysql-dr drill --record`), without the sandbox's details. */
export interface LastDrill {
  /** When the drill finished (ISO 8601). */
  at: string;
  /** The master GTIDs the drilled copy held. */
  gtid: string;
  rtoMs: number;
  /** Master transactions the copy lacked at that moment; null when the master did not answer. */
  rpoTransactions: number | null;
  identical: boolean;
  writable: boolean;
}

/** Each kind of record, by the name of its table. */
export interface LinkRecords {
  verification: LastVerification;
  drill: LastDrill;
}
export type LinkRecordKind = keyof LinkRecords;

export async function saveLinkRecord<K extends LinkRecordKind>(conn: Connection, kind: K, link: string, record: LinkRecords[K]): Promise<void> {
  await conn.query(`CREATE TABLE IF NOT EXISTS ${CHECKPOINT_SCHEMA}.${kind} (link VARCHAR(64) NOT NULL PRIMARY KEY, record LONGTEXT NOT NULL) ENGINE=InnoDB /* mysql-dr ${kind} */`);
  await conn.query(`REPLACE INTO ${CHECKPOINT_SCHEMA}.${kind} (link, record) VALUES (?, ?) /* mysql-dr ${kind} */`, [link, JSON.stringify(record)]);
}

/** The most recent record of `kind` among `links`, or null when none was recorded. */
export async function latestLinkRecord<K extends LinkRecordKind>(conn: Connection, kind: K, links: string[]): Promise<LinkRecords[K] | null> {
  if (!links.length) return null;
  const rows = await stateRows<{ record: string | Buffer }>(conn, `SELECT record FROM ${CHECKPOINT_SCHEMA}.${kind} WHERE link IN (?) /* mysql-dr ${kind} */`, [links]);
  const records = rows.map((r) => JSON.parse(r.record.toString()) as LinkRecords[K]);
  return records.sort((a, b) => b.at.localeCompare(a.at))[0] ?? null;
}
