/**
 * What the catalog says about one table: its columns and the key that identifies a row. Read from
 * information_schema; shared by the applier's plans, the copy planner and verification.
 */
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";

export interface ColumnInfo {
  name: string;
  generated: boolean;
  /** ON UPDATE CURRENT_TIMESTAMP: the server sets it on every UPDATE that leaves it out. */
  autoUpdated: boolean;
  json: boolean;
  /** DATA_TYPE, lower case. */
  type: string;
}

export interface TableShape {
  columns: ColumnInfo[];
  /** The primary key, else the first unique key over NOT NULL, non-generated columns; undefined when none. */
  key: string[] | undefined;
  /**
   * The key is the table's only unique index (nullable ones counted), a B-tree: an upsert finds
   * a row by the key and by nothing else (MariaDB's hash-based long unique keys are left out).
   */
  keyIsOnlyUniqueIndex: boolean;
  /** Storage engine (null for a table that does not exist). */
  engine: string | null;
  /** information_schema's TABLE_TYPE: BASE TABLE, SEQUENCE, SYSTEM VERSIONED... */
  tableType: string | null;
  /** Names of the triggers defined on the table. */
  triggers: string[];
}

/** Engines whose changes commit and roll back with the transaction that carries the checkpoint. */
export const TRANSACTIONAL_ENGINES = new Set(["innodb", "rocksdb", "tokudb"]);

/** Why rows cannot be applied to this table exactly once, or undefined when they can. */
export function unsafeToApply(shape: TableShape, table: string): string | undefined {
  if (shape.engine !== null && !TRANSACTIONAL_ENGINES.has(shape.engine.toLowerCase())) {
    return `${table} uses the ${shape.engine} engine, which cannot roll back, so a change applied just before a crash would be applied twice; convert it to InnoDB (ENGINE=InnoDB) on both servers, or leave it out of the link with --exclude.`;
  }
  if (shape.triggers.length) {
    return `${table} has trigger(s) ${shape.triggers.join(", ")} on the DR server, which would fire on replicated rows whose effects already arrive from the master; drop them on the DR server (keep their definitions to recreate at promotion), then resume or create the link.`;
  }
  if (shape.tableType === "SYSTEM VERSIONED") {
    return `${table} is system-versioned (WITH SYSTEM VERSIONING), whose history rows the DR server would write a second time; leave it out of the link with --exclude.`;
  }
  return undefined;
}

/** A table's columns and identifying key, read from information_schema (empty columns: no such table). */
export async function readTableShape(conn: Connection, db: string, table: string, flavor: Flavor): Promise<TableShape> {
  const [colRows] = await conn.query(
    "SELECT COLUMN_NAME AS name, COALESCE(GENERATION_EXPRESSION, '') <> '' AS generated, EXTRA LIKE '%on update%' AS autoUpdated, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION /* mysql-dr inspector */",
    [db, table],
  );
  const columns = (colRows as { name: string; generated: number; autoUpdated: number; type: string }[]).map((r) => ({
    name: r.name,
    generated: Number(r.generated) === 1,
    autoUpdated: Number(r.autoUpdated) === 1,
    json: flavor === "mysql" && r.type === "json",
    type: r.type.toLowerCase(),
  }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const [rows] = await conn.query(
    "SELECT INDEX_NAME AS idx, COLUMN_NAME AS col, NULLABLE AS nullable, INDEX_TYPE AS type FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX /* mysql-dr inspector */",
    [db, table],
  );
  const indexes = new Map<string, { cols: string[]; usable: boolean; btree: boolean }>();
  for (const r of rows as { idx: string; col: string | null; nullable: string; type: string }[]) {
    const entry = indexes.get(r.idx) ?? { cols: [], usable: true, btree: r.type === "BTREE" };
    if (r.col === null || r.nullable === "YES" || byName.get(r.col)?.generated) entry.usable = false;
    else entry.cols.push(r.col);
    indexes.set(r.idx, entry);
  }
  let key: string[] | undefined;
  for (const { cols, usable } of indexes.values()) {
    if (usable && cols.length) {
      key = cols;
      break;
    }
  }
  const [tableRows] = await conn.query("SELECT ENGINE AS engine, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? /* mysql-dr inspector */", [db, table]);
  const [triggerRows] = await conn.query("SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY 1 /* mysql-dr inspector */", [db, table]);
  const info = (tableRows as { engine: string | null; type: string }[])[0];
  const keyIsOnlyUniqueIndex = key !== undefined && indexes.size === 1 && [...indexes.values()][0].btree;
  return { columns, key, keyIsOnlyUniqueIndex, engine: info?.engine ?? null, tableType: info?.type ?? null, triggers: (triggerRows as { name: string }[]).map((r) => r.name) };
}
