/**
 * A server's foreign keys as a graph: which tables each table references and which reference it,
 * over which columns. The copy orders parents before children with it; the applier uses it to
 * know which row changes a foreign key check or cascade can connect.
 */
import type { Connection } from "../core/db";

/** One foreign key: `table`(`columns`) references `parentTable`(`parentColumns`). */
export interface ForeignKey {
  db: string;
  table: string;
  columns: string[];
  parentDb: string;
  parentTable: string;
  parentColumns: string[];
}

/** Every foreign key on the server, read in one query (the server keeps them in its catalog). */
export async function readForeignKeys(conn: Connection): Promise<ForeignKey[]> {
  const [rows] = await conn.query(
    `SELECT CONSTRAINT_SCHEMA AS cdb, CONSTRAINT_NAME AS name, TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS col,
        REFERENCED_TABLE_SCHEMA AS pdb, REFERENCED_TABLE_NAME AS ptbl, REFERENCED_COLUMN_NAME AS pcol
      FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION /* mysql-dr inspector */`,
  );
  const keys = new Map<string, ForeignKey>();
  for (const r of rows as { cdb: string; name: string; db: string; tbl: string; col: string; pdb: string; ptbl: string; pcol: string }[]) {
    const id = JSON.stringify([r.cdb, r.tbl, r.name]);
    let fk = keys.get(id);
    if (!fk) keys.set(id, (fk = { db: r.db, table: r.tbl, columns: [], parentDb: r.pdb, parentTable: r.ptbl, parentColumns: [] }));
    fk.columns.push(r.col);
    fk.parentColumns.push(r.pcol);
  }
  return [...keys.values()];
}

/** A table's place in the foreign key graph. */
export interface ForeignKeyLinks {
  /** The tables its foreign keys reference (itself included, for a self-reference). */
  parents: TableId[];
  /** Some foreign key references it. */
  hasChildren: boolean;
  /** Its columns that take part in a foreign key, on either side. */
  columns: Set<string>;
}

/** A table's identity in the graph (unambiguous, unlike "db.table"). */
export type TableId = string;

export function tableId(db: string, table: string): TableId {
  return `${db}\u0000${table}`;
}

export class ForeignKeyGraph {
  private readonly links = new Map<TableId, ForeignKeyLinks>();

  constructor(keys: readonly ForeignKey[]) {
    for (const fk of keys) {
      const child = this.entry(tableId(fk.db, fk.table));
      const parentId = tableId(fk.parentDb, fk.parentTable);
      if (!child.parents.includes(parentId)) child.parents.push(parentId);
      fk.columns.forEach((c) => child.columns.add(c));
      const parent = this.entry(parentId);
      parent.hasChildren = true;
      fk.parentColumns.forEach((c) => parent.columns.add(c));
    }
  }

  of(db: string, table: string): ForeignKeyLinks {
    return this.links.get(tableId(db, table)) ?? { parents: [], hasChildren: false, columns: new Set() };
  }

  private entry(id: TableId): ForeignKeyLinks {
    let links = this.links.get(id);
    if (!links) this.links.set(id, (links = { parents: [], hasChildren: false, columns: new Set() }));
    return links;
  }
}
