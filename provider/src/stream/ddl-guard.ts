/**
 * Tells whether a DDL that was in flight when the daemon stopped already ran on the DR server.
 * DDL commits by itself, so the checkpoint cannot commit with it: before running one the applier
 * records a digest of the definitions of everything it touches; on replay, a changed digest means
 * the DDL ran (DDL is atomic on the servers' transactional engines) and is skipped, an unchanged
 * one means it did not and it runs again, and whatever error it raises then is real. Nothing is
 * forgiven by error number.
 */
import * as crypto from "node:crypto";
import type { Connection } from "../core/db";
import { wire, wireId, wireTable } from "../sql/literals";
import type { RoutineName } from "./ddl-parser";
import { type AccountName, formatAccount } from "../catalog/accounts";

export interface Touched {
  /** Tables and views. */
  tables: { db: string; table: string }[];
  databases: string[];
  routines?: RoutineName[];
  events?: { db: string; name: string }[];
  accounts?: AccountName[];
}

const NO_SUCH_TABLE = new Set([1146, 1049]);
const NO_SUCH_DATABASE = 1049;
const NO_SUCH_ROUTINE = new Set([1305, 1049]);
const NO_SUCH_EVENT = new Set([1539, 1049]);
/** No such account (1133 MariaDB, 1396 MySQL) or no grants for it (1141); a MariaDB role has no CREATE USER. */
const NO_SUCH_ACCOUNT = new Set([1133, 1141, 1396]);

/** Digest of the current definitions (or absence) of the touched objects; `conn` sends wire text. */
export async function definitionsDigest(conn: Connection, touched: Touched): Promise<string> {
  const parts: string[] = [];
  for (const t of touched.tables) parts.push(`table ${t.db}.${t.table}: ${await definition(conn, `SHOW CREATE TABLE ${wireTable(t.db, t.table)}`, NO_SUCH_TABLE)}`);
  for (const r of touched.routines ?? []) parts.push(`${r.type} ${r.db}.${r.name}: ${await definition(conn, `SHOW CREATE ${r.type} ${wireTable(r.db, r.name)}`, NO_SUCH_ROUTINE)}`);
  for (const e of touched.events ?? []) parts.push(`EVENT ${e.db}.${e.name}: ${await definition(conn, `SHOW CREATE EVENT ${wireTable(e.db, e.name)}`, NO_SUCH_EVENT)}`);
  for (const a of touched.accounts ?? []) {
    const name = wire(formatAccount(a));
    parts.push(`account ${name}: ${await definition(conn, `SHOW CREATE USER ${name}`, NO_SUCH_ACCOUNT)}`);
    parts.push(`grants ${name}: ${await definition(conn, `SHOW GRANTS FOR ${name}`, NO_SUCH_ACCOUNT, true)}`);
  }
  for (const db of touched.databases) parts.push(`database ${db}: ${await definition(conn, `SHOW CREATE DATABASE ${wireId(db)}`, new Set([NO_SUCH_DATABASE]))}`);
  return crypto.createHash("sha256").update(parts.join("\n")).digest("hex");
}

/** The first row's values (every row's with `allRows`: SHOW GRANTS writes one grant per row). */
async function definition(conn: Connection, sql: string, absent: Set<number>, allRows = false): Promise<string> {
  try {
    const [rows] = await conn.query(`${sql} /* mysql-dr applier */`);
    const list = rows as Record<string, unknown>[];
    return (allRows ? list : list.slice(0, 1)).map((row) => Object.values(row).map(String).join("\n")).join("\n");
  } catch (err) {
    if (absent.has((err as { errno?: number }).errno ?? -1)) return "(absent)";
    throw err;
  }
}
