/**
 * The tables a link's selection covers on a server, with what the copy and verification need to
 * know about each (key, size estimate, foreign key parents).
 */
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";
import { type ObjectFilter, SYSTEM_SCHEMAS } from "../core/object-filter";
import { DrError } from "../core/errors";
import { readForeignKeys } from "./foreign-keys";
import { type TableShape, readTableShape, unsafeToApply } from "./table-shape";

const INTEGER_TYPES = new Set(["tinyint", "smallint", "mediumint", "int", "integer", "bigint"]);

export interface SourceTable {
  db: string;
  table: string;
  keyColumns: string[] | null;
  integerKey: boolean;
  rowsEstimated: number;
  /** Foreign key parents (db.table) among any tables. */
  parents: string[];
  /** The master's catalog entry (engine, table type, triggers). */
  shape: TableShape;
}

export async function listSelectedTables(source: Connection, filter: ObjectFilter, flavor: Flavor): Promise<SourceTable[]> {
  const [rows] = await source.query(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COALESCE(TABLE_ROWS, 0) AS est FROM information_schema.TABLES
      WHERE TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE', 'SYSTEM VERSIONED') AND TABLE_SCHEMA NOT IN (${SYSTEM_SCHEMAS.map(() => "?").join(", ")}) ORDER BY 1, 2 /* mysql-dr copy */`,
    [...SYSTEM_SCHEMAS],
  );
  const parents = await foreignKeyParents(source);
  const tables: SourceTable[] = [];
  for (const r of rows as { db: string; tbl: string; est: string }[]) {
    if (!filter.tableSelected(r.db, r.tbl)) continue;
    const shape = await readTableShape(source, r.db, r.tbl, flavor);
    const key = shape.key ?? null;
    const keyType = key && key.length === 1 ? shape.columns.find((c) => c.name === key[0])?.type : undefined;
    tables.push({ db: r.db, table: r.tbl, keyColumns: key, integerKey: keyType !== undefined && INTEGER_TYPES.has(keyType), rowsEstimated: Number(r.est), parents: parents.get(`${r.db}.${r.tbl}`) ?? [], shape });
  }
  return tables;
}

/**
 * Refuses, before anything is written, selected tables whose rows cannot be applied exactly once:
 * a non-transactional or system-versioned table on the master or the DR server, triggers on the
 * DR server (the master's triggers are fine: their effects arrive as rows).
 */
export async function refuseUnsafeTables(tables: SourceTable[], target: Connection, flavor: Flavor): Promise<void> {
  for (const t of tables) {
    const name = `Table \`${t.db}\`.\`${t.table}\``;
    const onMaster = unsafeToApply({ ...t.shape, triggers: [] }, name);
    if (onMaster) throw new DrError("PRECONDITION", onMaster);
    const onTarget = unsafeToApply(await readTableShape(target, t.db, t.table, flavor), name);
    if (onTarget) throw new DrError("PRECONDITION", onTarget);
  }
}

/** db.table -> the tables its foreign keys reference (self-references left out). */
export async function foreignKeyParents(source: Connection): Promise<Map<string, string[]>> {
  const parents = new Map<string, string[]>();
  for (const fk of await readForeignKeys(source)) {
    const child = `${fk.db}.${fk.table}`;
    const parent = `${fk.parentDb}.${fk.parentTable}`;
    const known = parents.get(child) ?? [];
    if (parent !== child && !known.includes(parent)) parents.set(child, [...known, parent]);
  }
  return parents;
}
