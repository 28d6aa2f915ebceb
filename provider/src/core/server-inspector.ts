/**
 * Reads what a server is and how it is set up, and checks the preconditions of a link before
 * anything is written ("save and verify"). Only reads.
 */
import type { Connection } from "./db";
import { type ServerAddress, formatHostPort } from "./connection-url";
import { DrError } from "./errors";
import { type Flavor, flavorOfVersion, versionAtLeast } from "./flavor";
import { gtidCovers } from "./gtid";

export interface ServerFacts {
  flavor: Flavor;
  version: string;
  serverId: number;
  /** Identifies the server process, whatever address it was reached by. */
  identity: string;
  logBin: boolean;
  binlogFormat: string;
  binlogRowImage: string;
  /** null where the server has no binlog_row_metadata setting (MySQL 5.7, MariaDB < 10.5). */
  binlogRowMetadata: string | null;
  /** MySQL: gtid_mode; MariaDB: always "ON". */
  gtidMode: string;
  readOnly: boolean;
  /** The largest value (and statement) the server takes, in bytes. */
  maxAllowedPacket: number;
}

export async function inspectServer(conn: Connection): Promise<ServerFacts> {
  const [rows] = await conn.query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version','server_id','server_uuid','hostname','port','datadir','log_bin','binlog_format','binlog_row_image','binlog_row_metadata','gtid_mode','read_only','max_allowed_packet') /* mysql-dr inspector */");
  const v = new Map((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]));
  const version = v.get("version") ?? "";
  const flavor = flavorOfVersion(version);
  return {
    flavor,
    version,
    serverId: Number(v.get("server_id")),
    identity: v.get("server_uuid") ?? `${v.get("hostname")}:${v.get("datadir")}:${v.get("server_id")}`,
    logBin: v.get("log_bin") === "ON" || v.get("log_bin") === "1",
    binlogFormat: (v.get("binlog_format") ?? "").toUpperCase(),
    binlogRowImage: (v.get("binlog_row_image") ?? "").toUpperCase(),
    binlogRowMetadata: v.has("binlog_row_metadata") ? (v.get("binlog_row_metadata") ?? "").toUpperCase() : null,
    gtidMode: flavor === "mariadb" ? "ON" : (v.get("gtid_mode") ?? "OFF").toUpperCase(),
    readOnly: v.get("read_only") === "ON" || v.get("read_only") === "1",
    maxAllowedPacket: Number(v.get("max_allowed_packet") ?? 0),
  };
}

/** The master's current GTID position: everything written to its binlog so far. */
export async function currentGtidPosition(conn: Connection, flavor: Flavor): Promise<string> {
  const sql = flavor === "mysql"
    ? "SELECT @@GLOBAL.gtid_executed AS pos /* mysql-dr inspector */"
    : "SELECT @@GLOBAL.gtid_binlog_pos AS pos /* mysql-dr inspector */";
  const [rows] = await conn.query(sql);
  return String((rows as { pos: string | null }[])[0].pos ?? "").replace(/\s+/g, "");
}

/**
 * Whether the server's binlog history holds every transaction of `applied` (a link's
 * checkpoint): MySQL by its gtid_executed set. A MariaDB position names only the last GTID per
 * domain, and sequence numbers alone cannot tell two histories apart, so the server's
 * gtid_binlog_state (last sequence per domain and originating server) must hold each
 * position's originating server at or past its sequence number.
 */
export async function holdsHistory(conn: Connection, flavor: Flavor, applied: string): Promise<boolean> {
  if (flavor === "mysql") return gtidCovers(flavor, await currentGtidPosition(conn, flavor), applied);
  const [rows] = await conn.query("SELECT @@GLOBAL.gtid_binlog_state AS state /* mysql-dr inspector */");
  const state = new Map<string, bigint>();
  for (const gtid of String((rows as { state: string | null }[])[0].state ?? "").split(",").map((g) => g.trim()).filter(Boolean)) {
    const [domain, server, seq] = gtid.split("-");
    state.set(`${domain}-${server}`, BigInt(seq));
  }
  return applied.split(",").map((g) => g.trim()).filter(Boolean).every((gtid) => {
    const [domain, server, seq] = gtid.split("-");
    return (state.get(`${domain}-${server}`) ?? -1n) >= BigInt(seq);
  });
}

/** The PROCESSLIST state of the server's thread for connection `id` (its own user's threads are visible without PROCESS); null when there is none. */
export async function threadState(conn: Connection, id: number): Promise<string | null> {
  const [rows] = await conn.query("SELECT STATE AS state FROM information_schema.PROCESSLIST WHERE ID = ? /* mysql-dr inspector */", [id]);
  const row = (rows as { state: string | null }[])[0];
  return row ? (row.state ?? "") : null;
}

/** Collation id -> character set name, as this server defines them (to read statements in their client's set). */
export async function collationCharsets(conn: Connection): Promise<Map<number, string>> {
  const [rows] = await conn.query("SELECT ID AS id, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATIONS /* mysql-dr inspector */");
  return new Map((rows as { id: number; charset: string }[]).map((r) => [Number(r.id), r.charset]));
}

/** Refuses a master that cannot feed a faithful row stream, saying which setting to change. */
export function checkSource(facts: ServerFacts, address: ServerAddress): void {
  const where = `the source server at ${formatHostPort(address)}`;
  // Messages that begin with the server start with a capital, like every other sentence shown.
  const Where = `The source server at ${formatHostPort(address)}`;
  const minimum = facts.flavor === "mysql" ? versionAtLeast(facts.version, 5, 6) : versionAtLeast(facts.version, 10, 0);
  if (!minimum) {
    throw new DrError("PRECONDITION", `${Where} runs ${facts.version}; MySQL 5.6+ or MariaDB 10.0+ is required.`);
  }
  if (!facts.logBin) {
    throw new DrError("PRECONDITION", `Binary logging is off on ${where}; start it with log_bin enabled (log-bin=mysql-bin).`);
  }
  if (facts.gtidMode !== "ON") {
    throw new DrError("PRECONDITION", `GTIDs are off on ${where} (gtid_mode=${facts.gtidMode}); set gtid_mode=ON and enforce_gtid_consistency=ON.`);
  }
  if (facts.binlogFormat !== "ROW") {
    throw new DrError("PRECONDITION", `${Where} has binlog_format=${facts.binlogFormat}; set binlog_format=ROW (SET GLOBAL binlog_format='ROW' and in the server's configuration).`);
  }
  if (facts.binlogRowImage !== "FULL") {
    throw new DrError("PRECONDITION", `${Where} has binlog_row_image=${facts.binlogRowImage}; set binlog_row_image=FULL.`);
  }
  if (facts.binlogRowMetadata !== null && facts.binlogRowMetadata !== "FULL") {
    throw new DrError("PRECONDITION", `${Where} has binlog_row_metadata=${facts.binlogRowMetadata}; set binlog_row_metadata=FULL so rows written before an ALTER decode correctly.`);
  }
}

/**
 * The DR server's smallest acceptable max_allowed_packet: the applier sends up to about 1 MiB of
 * statements per round trip (sql/statements.ts), plus one row; MySQL 5.7's default.
 */
export const MIN_TARGET_MAX_ALLOWED_PACKET = 4 * 1024 * 1024;

/** Refuses a DR server that cannot later serve as a master itself, or that is the master. */
export function checkTarget(target: ServerFacts, source: ServerFacts, address: ServerAddress): void {
  const where = `the target server at ${formatHostPort(address)}`;
  if (target.identity === source.identity) {
    throw new DrError("PRECONDITION", `The target URL points at the source server itself (${formatHostPort(address)}); give the DR server's address as --target.`);
  }
  if (!target.logBin) {
    throw new DrError("PRECONDITION", `Binary logging is off on ${where}; turn on log_bin (ROW) so the DR copy can later feed a reverse link after promotion.`);
  }
  if (target.maxAllowedPacket < MIN_TARGET_MAX_ALLOWED_PACKET) {
    throw new DrError("PRECONDITION", `The target server at ${formatHostPort(address)} has max_allowed_packet=${target.maxAllowedPacket}, below the ${MIN_TARGET_MAX_ALLOWED_PACKET} bytes the applier's round trips need; raise it (SET GLOBAL max_allowed_packet and in the server's configuration).`);
  }
  if (target.maxAllowedPacket < source.maxAllowedPacket) {
    throw new DrError("PRECONDITION", `The target server at ${formatHostPort(address)} has max_allowed_packet=${target.maxAllowedPacket}, smaller than the source's ${source.maxAllowedPacket}: a value the master holds might not fit; raise it to at least ${source.maxAllowedPacket} (SET GLOBAL max_allowed_packet and in the server's configuration).`);
  }
}

/** Privileges that SHOW SLAVE HOSTS / SHOW REPLICAS may lack (MariaDB 10.5+ wants REPLICATION MASTER ADMIN). */
const ER_SPECIFIC_ACCESS_DENIED = 1227;
const ER_ACCESS_DENIED = 1045;

/**
 * Refuses a replica server_id that a replica registered on the master already uses: the master
 * would drop one of the two binlog dumps each time the other connects. Skipped, not failed,
 * where the user may not list replicas.
 */
export async function refuseServerIdInUse(conn: Connection, facts: ServerFacts, serverId: number): Promise<void> {
  const sql = facts.flavor === "mysql" && versionAtLeast(facts.version, 8, 0, 22) ? "SHOW REPLICAS" : "SHOW SLAVE HOSTS";
  let rows: unknown;
  try {
    [rows] = await conn.query(`${sql} /* mysql-dr inspector */`);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === ER_SPECIFIC_ACCESS_DENIED || errno === ER_ACCESS_DENIED || errno === 1142) return;
    throw err;
  }
  const clash = (rows as Record<string, unknown>[]).find((r) => Number(r.Server_id ?? r.Server_Id) === serverId);
  if (clash) {
    throw Object.assign(
      new DrError("CONFLICT", `A replica registered on the master (host ${String(clash.Host ?? "?")}) uses server_id ${serverId}, the one this daemon derives for the link; rename the link or change that replica's server_id.`),
      { retryable: false },
    );
  }
}
