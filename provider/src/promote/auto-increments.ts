/**
 * A promoted DR server must hand out the ids the master would have handed out next. Row events
 * carry explicit ids, so the DR's counters follow the rows it received; values the master used
 * up without a row to show for them (a rolled-back insert, INSERT IGNORE and ON DUPLICATE KEY
 * UPDATE that consumed one, bulk inserts' reserved ranges) never reach it, and the promoted
 * server would hand those out again. So at a planned promotion (the master read-only, every
 * transaction applied) each counter the DR has below the master's is raised to it.
 */
import { type Connection, quoteTable } from "../core/db";
import type { Flavor } from "../core/flavor";
import { SYSTEM_SCHEMAS } from "../core/object-filter";

export interface RaisedCounter {
  table: string;
  from: number;
  to: number;
}

/** Raises the DR's AUTO_INCREMENT counters that are behind the master's; returns what it raised. */
export async function alignAutoIncrements(master: Connection, dr: Connection, flavor: Flavor): Promise<RaisedCounter[]> {
  const [onMaster, onDr] = await Promise.all([counters(master, flavor), counters(dr, flavor)]);
  const raised: RaisedCounter[] = [];
  for (const [table, next] of onMaster) {
    const current = onDr.get(table);
    if (current === undefined || current >= next) continue;
    const [db, name] = JSON.parse(table) as [string, string];
    // Logged like any DDL: replayed on the old master by a reverse link, it changes nothing there.
    await dr.query(`ALTER TABLE ${quoteTable(db, name)} AUTO_INCREMENT = ${next} /* mysql-dr promote */`);
    raised.push({ table: `${db}.${name}`, from: current, to: next });
  }
  return raised;
}

/** Next AUTO_INCREMENT value per table (key: JSON [db, table]), as the server holds it now. */
async function counters(conn: Connection, flavor: Flavor): Promise<Map<string, number>> {
  // MySQL 8 caches these statistics for a day unless told not to.
  if (flavor === "mysql") await conn.query("SET SESSION information_schema_stats_expiry = 0").catch(() => undefined);
  const [rows] = await conn.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE AUTO_INCREMENT IS NOT NULL AND TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?) /* mysql-dr promote */`,
    [SYSTEM_SCHEMAS],
  );
  return new Map((rows as { db: string; name: string; next: string | number }[]).map((r) => [JSON.stringify([r.db, r.name]), Number(r.next)]));
}
