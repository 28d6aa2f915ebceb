/**
 * The session context a master logs with every statement (a Query event's status variables): the
 * sql_mode, foreign_key_checks, character sets, time zone and clock the statement ran under. A DDL
 * replayed on the DR server runs under the same context, the way a native replica does, so that
 * `CREATE TABLE "t"` under ANSI_QUOTES, a TIMESTAMP default written under +05:00, a latin1
 * client's ENUM values and `DEFAULT CURRENT_TIMESTAMP(6)` land exactly as on the master.
 *
 * Decoded from the event's raw bytes (zongji decodes them as UTF-8 text, which loses every byte
 * above 0x7f). Layouts: MySQL and MariaDB `Query_log_event` (sql/log_event.h).
 */

export interface SessionContext {
  /** The master's clock when the statement ran. */
  timestamp: { seconds: number; micros: number };
  /** sql_mode as the server's bit mask (decimal), which `SET sql_mode = <number>` accepts. */
  sqlMode?: string;
  foreignKeyChecks: boolean;
  uniqueChecks: boolean;
  autoIsNull: boolean;
  /** Collation ids of character_set_client, collation_connection and collation_server. */
  charset?: { client: number; connection: number; server: number };
  collationDatabase?: number;
  timeZone?: string;
  lcTimeNames?: number;
  autoIncrement?: { increment: number; offset: number };
  /** The account that ran the statement, logged when its text depends on it (CURRENT_USER, CREATE ROLE's admin). */
  invoker?: { user: string; host: string };
  /** MySQL 8.0 only. */
  explicitDefaultsForTimestamp?: boolean;
  defaultCollationForUtf8mb4?: number;
}

/** Bits of Q_FLAGS2 (the OPTION_* values are fixed by the binlog format). */
const OPTION_AUTO_IS_NULL = 1 << 14;
const OPTION_NO_FOREIGN_KEY_CHECKS = 1 << 26;
const OPTION_RELAXED_UNIQUE_CHECKS = 1 << 27;

const Q = {
  FLAGS2: 0,
  SQL_MODE: 1,
  CATALOG: 2,
  AUTO_INCREMENT: 3,
  CHARSET: 4,
  TIME_ZONE: 5,
  CATALOG_NZ: 6,
  LC_TIME_NAMES: 7,
  CHARSET_DATABASE: 8,
  TABLE_MAP_FOR_UPDATE: 9,
  MASTER_DATA_WRITTEN: 10,
  INVOKER: 11,
  UPDATED_DB_NAMES: 12,
  MICROSECONDS: 13,
  EXPLICIT_DEFAULTS_FOR_TIMESTAMP: 16,
  DDL_LOGGED_WITH_XID: 17,
  DEFAULT_COLLATION_FOR_UTF8MB4: 18,
  SQL_REQUIRE_PRIMARY_KEY: 19,
  DEFAULT_TABLE_ENCRYPTION: 20,
  // MariaDB
  HRNOW: 128,
  XID: 129,
  GTID_FLAGS3: 130,
  CHARACTER_SET_COLLATIONS: 131,
} as const;
const OVER_MAX_DBS_IN_EVENT_MTS = 254;
/** MariaDB Q_GTID_FLAGS3 bits followed by an 8-byte sequence number. */
const FL_COMMIT_OR_ROLLBACK_ALTER = 4 | 8;

export function parseStatusVars(vars: Buffer, timestampSeconds: number): SessionContext {
  const ctx: SessionContext = { timestamp: { seconds: timestampSeconds, micros: 0 }, foreignKeyChecks: true, uniqueChecks: true, autoIsNull: false };
  let pos = 0;
  const need = (n: number) => {
    if (pos + n > vars.length) throw new Error(`truncated status variables (code at ${pos})`);
  };
  const u8 = () => (need(1), vars[pos++]);
  const u16 = () => (need(2), (pos += 2), vars.readUInt16LE(pos - 2));
  const u24 = () => (need(3), (pos += 3), vars.readUIntLE(pos - 3, 3));
  const u32 = () => (need(4), (pos += 4), vars.readUInt32LE(pos - 4));
  const u64 = () => (need(8), (pos += 8), vars.readBigUInt64LE(pos - 8));
  const str = (n: number) => (need(n), (pos += n), vars.toString("utf8", pos - n, pos));
  const skip = (n: number) => (need(n), (pos += n));
  while (pos < vars.length) {
    const code = u8();
    switch (code) {
      case Q.FLAGS2: {
        const flags = u32();
        ctx.foreignKeyChecks = (flags & OPTION_NO_FOREIGN_KEY_CHECKS) === 0;
        ctx.uniqueChecks = (flags & OPTION_RELAXED_UNIQUE_CHECKS) === 0;
        ctx.autoIsNull = (flags & OPTION_AUTO_IS_NULL) !== 0;
        break;
      }
      case Q.SQL_MODE:
        ctx.sqlMode = u64().toString();
        break;
      case Q.CATALOG:
        skip(u8() + 1);
        break;
      case Q.AUTO_INCREMENT:
        ctx.autoIncrement = { increment: u16(), offset: u16() };
        break;
      case Q.CHARSET:
        ctx.charset = { client: u16(), connection: u16(), server: u16() };
        break;
      case Q.TIME_ZONE:
        ctx.timeZone = str(u8());
        break;
      case Q.CATALOG_NZ:
        skip(u8());
        break;
      case Q.LC_TIME_NAMES:
        ctx.lcTimeNames = u16();
        break;
      case Q.CHARSET_DATABASE:
        ctx.collationDatabase = u16();
        break;
      case Q.TABLE_MAP_FOR_UPDATE:
      case Q.DDL_LOGGED_WITH_XID:
      case Q.XID:
        skip(8);
        break;
      case Q.MASTER_DATA_WRITTEN:
        skip(4);
        break;
      case Q.INVOKER: {
        const user = str(u8());
        ctx.invoker = { user, host: str(u8()) };
        break;
      }
      case Q.UPDATED_DB_NAMES: {
        const count = u8();
        if (count === OVER_MAX_DBS_IN_EVENT_MTS) break;
        for (let i = 0; i < count; i++) {
          const end = vars.indexOf(0, pos);
          if (end < 0) throw new Error("truncated status variables (database names)");
          pos = end + 1;
        }
        break;
      }
      case Q.MICROSECONDS:
      case Q.HRNOW:
        ctx.timestamp.micros = u24();
        break;
      case Q.EXPLICIT_DEFAULTS_FOR_TIMESTAMP:
        ctx.explicitDefaultsForTimestamp = u8() !== 0;
        break;
      case Q.DEFAULT_COLLATION_FOR_UTF8MB4:
        ctx.defaultCollationForUtf8mb4 = u16();
        break;
      case Q.SQL_REQUIRE_PRIMARY_KEY:
      case Q.DEFAULT_TABLE_ENCRYPTION:
        skip(1);
        break;
      case Q.GTID_FLAGS3:
        if (u8() & FL_COMMIT_OR_ROLLBACK_ALTER) skip(8);
        break;
      case Q.CHARACTER_SET_COLLATIONS:
        skip(u8() * 4);
        break;
      default:
        // Unknown codes have no length: the rest cannot be read. The servers write the codes a
        // replica must know first, as their own replicas stop at the same place.
        return ctx;
    }
  }
  return ctx;
}

/**
 * The statements that put a session into `ctx` (after its `USE`), in the order mysqlbinlog writes
 * them. `flavor` decides the MySQL-only variables; `charsetOf` names the client's character set
 * (character_set_client takes a name, or only a default collation's id: 224 is refused).
 */
export function contextStatements(ctx: SessionContext, flavor: "mysql" | "mariadb", charsetOf: (collationId: number) => string | undefined): string[] {
  const set: string[] = [
    `@@session.foreign_key_checks = ${ctx.foreignKeyChecks ? 1 : 0}`,
    `@@session.unique_checks = ${ctx.uniqueChecks ? 1 : 0}`,
    `@@session.sql_auto_is_null = ${ctx.autoIsNull ? 1 : 0}`,
  ];
  if (ctx.sqlMode !== undefined) set.push(`@@session.sql_mode = ${ctx.sqlMode}`);
  if (ctx.autoIncrement) set.push(`@@session.auto_increment_increment = ${ctx.autoIncrement.increment}`, `@@session.auto_increment_offset = ${ctx.autoIncrement.offset}`);
  if (ctx.charset) {
    const client = charsetOf(ctx.charset.client);
    set.push(`@@session.character_set_client = ${client !== undefined && /^\w+$/.test(client) ? client : ctx.charset.client}`, `@@session.collation_connection = ${ctx.charset.connection}`, `@@session.collation_server = ${ctx.charset.server}`);
  }
  if (ctx.collationDatabase !== undefined) set.push(`@@session.collation_database = ${ctx.collationDatabase}`);
  if (ctx.timeZone !== undefined) set.push(`@@session.time_zone = '${ctx.timeZone.replace(/[\\']/g, "\\$&")}'`);
  if (ctx.lcTimeNames !== undefined) set.push(`@@session.lc_time_names = ${ctx.lcTimeNames}`);
  set.push(`@@session.timestamp = ${ctx.timestamp.seconds}.${String(ctx.timestamp.micros).padStart(6, "0")}`);
  if (flavor === "mysql") {
    if (ctx.explicitDefaultsForTimestamp !== undefined) set.push(`@@session.explicit_defaults_for_timestamp = ${ctx.explicitDefaultsForTimestamp ? 1 : 0}`);
    if (ctx.defaultCollationForUtf8mb4 !== undefined) set.push(`@@session.default_collation_for_utf8mb4 = ${ctx.defaultCollationForUtf8mb4}`);
  }
  return [`SET ${set.join(", ")} /* mysql-dr applier */`];
}
