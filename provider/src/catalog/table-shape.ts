/**
 * What the catalog says about one table: its columns and the key that identifies a row. Read from
 * information_schema; shared by the applier's plans, the copy planner and verification.
 */
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";

export interface ColumnInfo {
  name: string;
  generated: boolean;
  json: boolean;
  /** DATA_TYPE, lower case. */
  type: string;
}

export interface TableShape {
  columns: ColumnInfo[];
  /** The primary key, else the first unique key over NOT NULL, non-generated columns; undefined when none. */
  key: string[] | undefined;
}

/** A table's columns and identifying key, read from information_schema (empty columns: no such table). */
export async function readTableShape(conn: Connection, db: string, table: string, flavor: Flavor): Promise<TableShape> {
  const [colRows] = await conn.query(
    "SELECT COLUMN_NAME AS name, COALESCE(GENERATION_EXPRESSION, '') <> '' AS generated, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION /* mysql-dr inspector */",
    [db, table],
  );
  const columns = (colRows as { name: string; generated: number; type: string }[]).map((r) => ({
    name: r.name,
    generated: Number(r.generated) === 1,
    json: flavor === "mysql" && r.type === "json",
    type: r.type.toLowerCase(),
  }));
  const byName = new Map(columns.map((c) => [c.name, c]));
  const [rows] = await conn.query(
    "SELECT INDEX_NAME AS idx, COLUMN_NAME AS col, NULLABLE AS nullable FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX /* mysql-dr inspector */",
    [db, table],
  );
  const indexes = new Map<string, { cols: string[]; usable: boolean }>();
  for (const r of rows as { idx: string; col: string | null; nullable: string }[]) {
    const entry = indexes.get(r.idx) ?? { cols: [], usable: true };
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
  return { columns, key };
}
