/**
 * Consistent snapshots of the master at one GTID position G: every session sees exactly the
 * transactions of G, so a DR server held at G must hold the same rows.
 *
 * How G is tied to the snapshots (the master's own GTID variables are not: @@gtid_binlog_pos and
 * @@gtid_executed move on as other sessions commit, and a transaction is in the binlog, and in
 * @@gtid_binlog_pos, before InnoDB makes it visible, so reading them beside a snapshot can be off
 * by the transactions committing at that instant):
 *
 * - MariaDB, no lock at all: START TRANSACTION WITH CONSISTENT SNAPSHOT records, in the session
 *   status variables binlog_snapshot_file/position, the binlog position the snapshot corresponds
 *   to exactly (MariaDB makes commits visible in binlog order, under the same mutex it takes for
 *   the snapshot); BINLOG_GTID_POS() turns that position into the GTID position. Several sessions
 *   are started at once and kept only if they report the same position; under writes some
 *   attempts straddle a commit, so this retries a few times and then keeps the largest group that
 *   agrees (fewer sessions, never a wrong G).
 *   Those status values are read one session at a time, each until two reads agree: the server
 *   computes them into variables shared by all sessions (MYSQL_BIN_LOG::set_status_variables),
 *   so two SHOW STATUS running at once can each return the other's value. Measured on 10.11
 *   under writes, four sessions read at once: 39 of 16,218 pairs of sessions that reported the
 *   same position held different snapshots; read in turn: 0 of 17,132. Another client's SHOW
 *   STATUS (a monitoring agent's) can still land in that window of microseconds: with a fifth
 *   session running SHOW STATUS without pause, reads in turn gave 1 wrong of 16,689; read until
 *   two agree, 0 of 16,570 (a wrong value would have to come twice in a row, identical).
 * - MySQL has no snapshot position, so commits are stopped for a moment, as mysqldump
 *   --single-transaction --source-data, mydumper and Vitess (FLUSH TABLES WITH READ LOCK for a
 *   snapshot of all tables) do: FLUSH TABLES WITH READ LOCK waits for the commits in progress and
 *   blocks new ones, the snapshots start, @@gtid_executed is read, UNLOCK TABLES. The window is
 *   two round trips. LOCK INSTANCE FOR BACKUP would not do: it blocks DDL, not commits, so
 *   gtid_executed moves under it. A short lock_wait_timeout bounds how long FLUSH may wait behind
 *   long statements (writers are blocked meanwhile); when it expires, the verification fails
 *   rather than stall the master.
 */
import type { ServerAddress } from "../core/connection-url";
import { formatHostPort } from "../core/connection-url";
import { type Connection, DATA_QUERY_TIMEOUT_MS, openConnection } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { snapshotBinlogPosition } from "../core/snapshot-position";

/** MariaDB: how many times several sessions are started together before fewer are kept. */
export const SNAPSHOT_ALIGN_ATTEMPTS = 8;
/** MySQL: the longest FLUSH TABLES WITH READ LOCK may wait (writers wait behind it meanwhile), in seconds. */
export const MASTER_LOCK_WAIT_SECONDS = 2;

export interface MasterSnapshots {
  /** Sessions each inside a read-only transaction whose snapshot holds exactly `gtid`. */
  sessions: Connection[];
  gtid: string;
  /** MySQL: how long commits were blocked, in ms; null on MariaDB (no lock). */
  lockMs: number | null;
}

/** Connected sessions for snapshots, in REPEATABLE READ (WITH CONSISTENT SNAPSHOT is ignored under READ COMMITTED). */
export async function openSnapshotSessions(address: ServerAddress, role: string, count: number): Promise<Connection[]> {
  const sessions: Connection[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const conn = await openConnection(address, role, { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS });
      sessions.push(conn);
      await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ /* mysql-dr verify */");
    }
    return sessions;
  } catch (err) {
    for (const s of sessions) s.destroy();
    throw err;
  }
}

const START_SNAPSHOT = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY /* mysql-dr verify */";

/**
 * Starts a snapshot on each of `sessions` (connected by openSnapshotSessions) at one GTID position.
 * Sessions that could not be aligned are closed and left out of the result.
 */
export async function startMasterSnapshots(sessions: Connection[], flavor: Flavor, address: ServerAddress): Promise<MasterSnapshots> {
  return flavor === "mariadb" ? startMariadb(sessions, address) : startMysql(sessions, address);
}

async function startMariadb(sessions: Connection[], address: ServerAddress): Promise<MasterSnapshots> {
  let positions: string[] = [];
  for (let attempt = 0; attempt < SNAPSHOT_ALIGN_ATTEMPTS; attempt++) {
    if (attempt) await Promise.all(sessions.map((s) => s.query("ROLLBACK /* mysql-dr verify */")));
    await Promise.all(sessions.map((s) => s.query(START_SNAPSHOT)));
    // In turn, never at once: see the top of this file.
    positions = [];
    for (const s of sessions) positions.push(await snapshotBinlogPosition(s, address));
    if (positions.every((p) => p === positions[0])) break;
  }
  // The position most sessions share (ties: the earliest session's); the others are closed.
  const counts = new Map<string, number>();
  for (const p of positions) counts.set(p, (counts.get(p) ?? 0) + 1);
  const chosen = [...counts].reduce((best, c) => (c[1] > best[1] ? c : best))[0];
  const kept = sessions.filter((_, i) => positions[i] === chosen);
  for (const [i, s] of sessions.entries()) if (positions[i] !== chosen) s.destroy();
  const [file, pos] = JSON.parse(chosen) as [string, number];
  const [rows] = await kept[0].query("SELECT BINLOG_GTID_POS(?, ?) AS pos /* mysql-dr verify */", [file, pos]);
  const gtid = (rows as { pos: string | null }[])[0].pos;
  if (gtid === null) {
    throw new DrError("PRECONDITION", `The master at ${formatHostPort(address)} could not name the GTID position of its snapshot (BINLOG_GTID_POS('${file}', ${pos}) is NULL: that binary log was purged or rotated away); run the verification again.`);
  }
  return { sessions: kept, gtid: gtid.replace(/\s+/g, ""), lockMs: null };
}

async function startMysql(sessions: Connection[], address: ServerAddress): Promise<MasterSnapshots> {
  const lock = await openConnection(address, "source");
  try {
    await lock.query(`SET SESSION lock_wait_timeout = ${MASTER_LOCK_WAIT_SECONDS}`);
    const started = performance.now();
    try {
      await lock.query("FLUSH TABLES WITH READ LOCK /* mysql-dr verify */");
    } catch (err) {
      if ((err as { errno?: number }).errno === 1205) {
        throw new DrError("CONFLICT", `The master at ${formatHostPort(address)} could not stop its commits for a moment: FLUSH TABLES WITH READ LOCK waited ${MASTER_LOCK_WAIT_SECONDS} s behind long-running statements; run the verification again when they are done.`, { cause: err });
      }
      if ((err as { errno?: number }).errno === 1227) {
        throw new DrError("ACCESS_DENIED", `The source user may not run FLUSH TABLES WITH READ LOCK on ${formatHostPort(address)}, which a barrier on MySQL needs for a moment; grant it RELOAD.`, { cause: err });
      }
      throw err;
    }
    let gtid: string;
    try {
      await Promise.all(sessions.map((s) => s.query(START_SNAPSHOT)));
      const [rows] = await lock.query("SELECT @@GLOBAL.gtid_executed AS pos /* mysql-dr verify */");
      gtid = String((rows as { pos: string | null }[])[0].pos ?? "").replace(/\s+/g, "");
    } finally {
      await lock.query("UNLOCK TABLES");
    }
    return { sessions, gtid, lockMs: Math.round((performance.now() - started) * 10) / 10 };
  } finally {
    lock.destroy();
  }
}
