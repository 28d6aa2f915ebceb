/**
 * The binlog position a MariaDB session's consistent snapshot corresponds to exactly: after START
 * TRANSACTION WITH CONSISTENT SNAPSHOT, the session status variables binlog_snapshot_file and
 * binlog_snapshot_position. The server computes them into variables shared by all sessions
 * (MYSQL_BIN_LOG::set_status_variables), so another session's SHOW STATUS at the same moment can
 * return ours and we theirs: a position is read until two reads in a row agree (measurements in
 * verify/master-snapshots.ts). Used by the barrier verification and by the initial copy, whose
 * parallel workers would otherwise race each other exactly so.
 */
import { type ServerAddress, formatHostPort } from "./connection-url";
import type { Connection } from "./db";
import { DrError } from "./errors";

/** Reads of a snapshot's position, at most, until two in a row agree. */
const POSITION_READS = 6;

/** (file, offset) as JSON, so positions compare as strings. */
export async function snapshotBinlogPosition(conn: Connection, address: ServerAddress): Promise<string> {
  let last = await readSnapshotPosition(conn, address);
  for (let i = 1; i < POSITION_READS; i++) {
    const next = await readSnapshotPosition(conn, address);
    if (next === last) return next;
    last = next;
  }
  throw new DrError("CONFLICT", `The master at ${formatHostPort(address)} kept reporting different binlog positions for one snapshot (other sessions reading SHOW STATUS at the same moments); try again.`);
}

/** The GTID position of the session's snapshot (BINLOG_GTID_POS of its binlog position). */
export async function snapshotGtidPosition(conn: Connection, address: ServerAddress): Promise<string> {
  const [file, pos] = JSON.parse(await snapshotBinlogPosition(conn, address)) as [string, number];
  const [rows] = await conn.query("SELECT BINLOG_GTID_POS(?, ?) AS pos /* mysql-dr snapshot */", [file, pos]);
  const gtid = (rows as { pos: string | null }[])[0].pos;
  if (gtid === null) throw new DrError("PRECONDITION", `The master at ${formatHostPort(address)} could not name the GTID position of its snapshot (BINLOG_GTID_POS('${file}', ${pos}) is NULL: that binary log was purged or rotated away); try again.`);
  return gtid.replace(/\s+/g, "");
}

async function readSnapshotPosition(conn: Connection, address: ServerAddress): Promise<string> {
  const [status] = await conn.query("SHOW SESSION STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position') /* mysql-dr snapshot */");
  const v = new Map((status as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), r.Value]));
  const file = v.get("binlog_snapshot_file");
  if (!file) throw new DrError("PRECONDITION", `The master at ${formatHostPort(address)} reports no binlog position for its snapshot (binary logging is off); turn log_bin on.`);
  return JSON.stringify([file, Number(v.get("binlog_snapshot_position"))]);
}
