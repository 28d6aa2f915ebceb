/**
 * Plans an initial copy before anything is written: lists the selected tables on the master,
 * checks the DR side (a table that already holds rows is refused unless overwriting), then
 * creates the missing databases and tables from the master's definitions and records the copy
 * units (tables, split into key ranges when large with an integer key).
 */
import { type Connection, quoteId, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import type { SourceTable } from "../catalog/selected-tables";
import type { CopyUnit } from "../dr-state/copy-state";

/** A table is split into ranges only when each range would still hold a few chunks. */
const MIN_ROWS_PER_RANGE = 50_000;

/** Refuses, before anything is written, to copy into DR tables that already hold rows (unless overwriting). */
export async function checkTargetTables(target: Connection, tables: SourceTable[], overwrite: boolean): Promise<void> {
  if (overwrite) return;
  const occupied: string[] = [];
  for (const t of tables) {
    try {
      const [rows] = await target.query(`SELECT 1 FROM ${quoteTable(t.db, t.table)} LIMIT 1 /* mysql-dr copy */`);
      if ((rows as unknown[]).length) occupied.push(`${t.db}.${t.table}`);
    } catch (err) {
      if ((err as { errno?: number }).errno !== 1146 && (err as { errno?: number }).errno !== 1049) throw err;
    }
  }
  if (occupied.length) {
    const shown = occupied.slice(0, 5).join(", ") + (occupied.length > 5 ? ` and ${occupied.length - 5} more` : "");
    throw new DrError("CONFLICT", `The DR server already holds rows in ${shown}; pass --overwrite to empty the selected tables there first, or select other objects.`);
  }
}

/** Creates what is missing on the DR server from the master's definitions, and empties the selected tables when overwriting. */
export async function prepareTargetTables(source: Connection, target: Connection, tables: SourceTable[], overwrite: boolean): Promise<void> {
  await target.query("SET SESSION foreign_key_checks = 0 /* mysql-dr copy */");
  try {
    await createDatabases(source, target, tables.map((t) => t.db));
    for (const t of tables) {
      const [rows] = await source.query(`SHOW CREATE TABLE ${quoteTable(t.db, t.table)}`);
      const ddl = String((rows as Record<string, string>[])[0]["Create Table"]).replace(/^CREATE TABLE `/i, `CREATE TABLE IF NOT EXISTS ${quoteId(t.db)}.\``);
      await target.query(ddl);
      if (overwrite) await target.query(`TRUNCATE TABLE ${quoteTable(t.db, t.table)}`);
    }
  } finally {
    await target.query("SET SESSION foreign_key_checks = 1 /* mysql-dr copy */");
  }
}

/** Creates the databases missing on the DR server as the master defines them (character set, collation). */
export async function createDatabases(source: Connection, target: Connection, databases: string[]): Promise<void> {
  for (const db of new Set(databases)) {
    const [rows] = await source.query(`SHOW CREATE DATABASE ${quoteId(db)}`);
    const ddl = String((rows as Record<string, string>[])[0]["Create Database"]).replace(/^CREATE DATABASE /i, "CREATE DATABASE IF NOT EXISTS ");
    await target.query(ddl);
  }
}

/** Copy units: one per table, or `parallelism` integer key ranges for a large table. */
export async function planCopyUnits(source: Connection, tables: SourceTable[], parallelism: number): Promise<CopyUnit[]> {
  const units: CopyUnit[] = [];
  const unit = (t: SourceTable, n: number, lo: string | null, hi: string | null, estimate: number): CopyUnit => ({
    db: t.db, table: t.table, unit: n, keyColumns: t.keyColumns, rangeLo: lo, rangeHi: hi,
    lastKey: null, rowsCopied: 0, chunksCopied: 0, rowsEstimated: estimate, done: false, snapshotGtid: null, catchupGtid: null,
  });
  for (const t of tables) {
    const ranges = t.integerKey ? Math.min(parallelism, Math.floor(t.rowsEstimated / MIN_ROWS_PER_RANGE)) : 1;
    if (ranges < 2) {
      units.push(unit(t, 0, null, null, t.rowsEstimated));
      continue;
    }
    const key = quoteId(t.keyColumns![0]);
    const [rows] = await source.query(`SELECT CAST(MIN(${key}) AS CHAR) AS lo, CAST(MAX(${key}) AS CHAR) AS hi FROM ${quoteTable(t.db, t.table)} /* mysql-dr copy */`);
    const { lo, hi } = (rows as { lo: string | null; hi: string | null }[])[0];
    if (lo === null || hi === null) {
      units.push(unit(t, 0, null, null, t.rowsEstimated));
      continue;
    }
    const min = BigInt(lo);
    const step = (BigInt(hi) - min) / BigInt(ranges) + 1n;
    for (let i = 0; i < ranges; i++) {
      const from = i === 0 ? null : String(min + step * BigInt(i));
      const to = i === ranges - 1 ? null : String(min + step * BigInt(i + 1));
      units.push(unit(t, i, from, to, Math.ceil(t.rowsEstimated / ranges)));
    }
  }
  return units;
}
