/**
 * Who wrote to the DR server: the link's own sessions, or someone else (errant transactions).
 *
 * MariaDB: every session through which a link writes to the DR server sets a server_id of its own
 * (writerServerId), so its commits carry GTIDs d-<writer>-n while anything else written there
 * carries the DR server's (or another) server_id. The checkpoint row records the writer id and the
 * DR server's gtid_binlog_state when the link first ran (the baseline). An errant transaction is
 * then a gtid_binlog_state entry of a server_id that is no link's writer, newer than the baseline.
 * gtid_binlog_state keeps only the newest GTID per domain and server, so each entry reported
 * stands for one or more errant transactions, the newest of which it names.
 * It cannot see writes made with sql_log_bin=0, writes older than the baseline, writes by a session
 * that sets a writer's server_id itself, or anything after RESET MASTER. Where the server refuses
 * the session server_id (no SUPER / BINLOG ADMIN) or on MySQL (server_uuid is not per session),
 * errant transactions cannot be told and are reported as unknown (null), never as none.
 */
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";
import { CHECKPOINT_SCHEMA } from "./checkpoint-store";

/** Above the daemon's replica server_ids for binlog dumps (1e9..2e9), below 2^32. */
const WRITER_ID_BASE = 3_000_000_000;
const ER_SPECIFIC_ACCESS_DENIED = 1227;

/** A stable server_id per link name, far from the ids servers are usually given. */
export function writerServerId(link: string): number {
  let h = 2166136261;
  for (const ch of `mysql-dr writer/${link}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return WRITER_ID_BASE + (h % 1_000_000_000);
}

/**
 * Makes this session's commits the link's (MariaDB). Returns false when the server refuses: the
 * link still works, but errant transactions on this DR server cannot be told from its own.
 */
export async function writeAsLink(conn: Connection, link: string, flavor: Flavor): Promise<boolean> {
  if (flavor !== "mariadb") return false;
  try {
    await conn.query(`SET SESSION server_id = ${writerServerId(link)} /* mysql-dr writer */`);
    return true;
  } catch (err) {
    if ((err as { errno?: number }).errno === ER_SPECIFIC_ACCESS_DENIED) return false;
    throw err;
  }
}

/**
 * On the link's own (writeAsLink) session: records its writer id, and the DR server's GTID state
 * the first time, so that what was there before the link counts as no one's errant write.
 */
export async function recordWriter(conn: Connection, link: string): Promise<void> {
  await conn.query(
    `UPDATE ${CHECKPOINT_SCHEMA}.checkpoint SET writer_server_id = ?, writer_baseline = COALESCE(writer_baseline, @@GLOBAL.gtid_binlog_state) WHERE link = ? /* mysql-dr writer */`,
    [writerServerId(link), link],
  );
}

/**
 * The newest errant GTID per domain and server on this DR server, judged against `links`' baselines
 * (the earliest of them), with every link's writer accepted; null when it cannot be told.
 */
export async function errantGtids(dr: Connection, flavor: Flavor, links: string[]): Promise<string[] | null> {
  if (flavor !== "mariadb" || !links.length) return null;
  const [rows] = await dr.query(`SELECT link, writer_server_id AS writer, writer_baseline AS baseline FROM ${CHECKPOINT_SCHEMA}.checkpoint /* mysql-dr writer */`);
  const all = rows as { link: string; writer: number | null; baseline: string | null }[];
  const mine = all.filter((r) => links.includes(r.link));
  if (mine.length < links.length || mine.some((r) => r.writer === null || r.baseline === null)) return null;
  const writers = new Set(all.filter((r) => r.writer !== null).map((r) => Number(r.writer)));
  const baselines = mine.map((r) => lastPerServer(String(r.baseline)));
  const [state] = await dr.query("SELECT @@GLOBAL.gtid_binlog_state AS state /* mysql-dr writer */");
  const errant: string[] = [];
  for (const [key, seq] of lastPerServer(String((state as { state: string | null }[])[0].state ?? ""))) {
    const server = Number(key.split("-")[1]);
    if (writers.has(server)) continue;
    const before = baselines.reduce((low, b) => (b.get(key) ?? -1n) < low ? (b.get(key) ?? -1n) : low, BigInt(Number.MAX_SAFE_INTEGER));
    if (seq > before) errant.push(`${key}-${seq}`);
  }
  return errant;
}

/** A MariaDB gtid_binlog_state as "domain-server" -> newest sequence number. */
function lastPerServer(state: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const gtid of state.split(",").map((g) => g.trim()).filter(Boolean)) {
    const [domain, server, seq] = gtid.split("-");
    out.set(`${domain}-${server}`, BigInt(seq));
  }
  return out;
}
