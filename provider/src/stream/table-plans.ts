/**
 * Per-table apply plans: how rows of a table are written on the DR server (INSERT/UPDATE/DELETE
 * in wire text), built once from the DR server's catalog and the binlog's columns, and reused
 * until a DDL touches the schema. A table that cannot take rows exactly once (a non-transactional
 * engine, triggers, system versioning) has no plan: the link stops and says why.
 */
import { ForeignKeyGraph, type ForeignKeyLinks, type TableId, readForeignKeys, tableId } from "../catalog/foreign-keys";
import { type ColumnInfo, readTableShape, unsafeToApply } from "../catalog/table-shape";
import { type Connection, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { type ValueKind, type ValueWriter, literal, wireId, wireTable } from "../sql/literals";
import type { RowValues, TableColumns } from "./change-events";
import type { Footprint, SessionFlags } from "./statement-window";

/**
 * What an update changes, for how it may be applied: "values" only (the row keeps its key and
 * its foreign keys: an upsert of the after image can apply it, and it moves past other tables'
 * changes), its "key", its "foreign-key" columns (checks or cascades reach other tables), or
 * nothing the DR server stores.
 */
export type UpdateKind = "values" | "key" | "foreign-key" | "unchanged";

export class TablePlan {
  /** `db`.`table` for messages (UTF-8). */
  readonly name: string;
  readonly insertPrefix: string;
  /** Appended to a multi-row INSERT to make it an upsert (while a copied table catches up). */
  readonly upsertSuffix: string;
  /** `DELETE ... WHERE key IN (`, for single-column keys. */
  readonly deleteInPrefix?: string;
  /** The key's column names, for messages. */
  readonly keyNames: string[];
  readonly kinds: readonly ValueKind[];
  readonly id: TableId;
  /**
   * The key is the table's only unique index and every column the DR server has comes from the
   * binlog. So an update of values can be written as an upsert of the after image (several rows
   * in one statement), which finds the row by the key and by nothing else; and changes of
   * different rows commute, since no other row's change can collide with this one's (foreign
   * keys aside, which footprints cover).
   */
  readonly upsertUpdates: boolean;
  private readonly parents: readonly TableId[];
  /** Some foreign key references the table: deleting a row checks or cascades into its children. */
  private readonly hasChildren: boolean;
  private readonly table: string;
  private readonly setColumns: string[];
  private readonly whereColumns: string[];
  private readonly foreignKeyIdx: ReadonlySet<number>;
  private readonly generatedForeignKey: boolean;
  private readonly keyIdxSet: ReadonlySet<number>;

  constructor(
    db: string,
    table: string,
    columns: TableColumns,
    /** Indexes into the binlog's columns of the columns written (generated ones are not). */
    readonly writeIdx: number[],
    /** Indexes of the columns that identify a row in WHERE clauses. */
    readonly keyIdx: number[],
    /** No unique key: rows are matched on every column, one at a time. */
    readonly keyless: boolean,
    /** Indexes of the columns an UPDATE always sets (ON UPDATE CURRENT_TIMESTAMP: left out, the DR server would set its own time). */
    private readonly alwaysSetIdx: ReadonlySet<number> = new Set(),
    /** The DR server's foreign keys to and from the table. */
    foreignKeys: ForeignKeyLinks = { parents: [], hasChildren: false, columns: new Set() },
    /** See upsertUpdates. */
    keyIsOnlyUniqueIndex = false,
  ) {
    this.name = quoteTable(db, table);
    this.id = tableId(db, table);
    this.foreignKeyIdx = new Set(columns.names.flatMap((c, i) => (foreignKeys.columns.has(c) ? [i] : [])));
    // A generated column in a foreign key changes with columns that are not: any update may reach it.
    this.generatedForeignKey = [...this.foreignKeyIdx].some((i) => !writeIdx.includes(i));
    this.keyIdxSet = new Set(keyIdx);
    this.upsertUpdates = !keyless && keyIsOnlyUniqueIndex;
    this.parents = foreignKeys.parents;
    this.hasChildren = foreignKeys.hasChildren;
    this.table = wireTable(db, table);
    this.kinds = columns.kinds;
    const ids = columns.names.map(wireId);
    this.setColumns = writeIdx.map((i) => ids[i]);
    this.whereColumns = keyIdx.map((i) => `${ids[i]} ${keyless ? "<=>" : "="} `);
    this.keyNames = keyIdx.map((i) => columns.names[i]);
    this.insertPrefix = `INSERT INTO ${this.table} (${this.setColumns.join(", ")}) VALUES `;
    this.upsertSuffix = ` ON DUPLICATE KEY UPDATE ${this.setColumns.map((c) => `${c} = VALUES(${c})`).join(", ")}`;
    if (!keyless && keyIdx.length === 1) this.deleteInPrefix = `DELETE FROM ${this.table} WHERE ${ids[keyIdx[0]]} IN (`;
  }

  /** `(v1, v2, ...)` of the written columns. */
  insertTuple(row: RowValues, w: ValueWriter): string {
    return w.tuple(row, this.kinds, this.writeIdx);
  }

  keyLiteral(row: RowValues, w: ValueWriter): string {
    return w.literal(row[this.keyIdx[0]], this.kinds[this.keyIdx[0]]);
  }

  /** What the update from `before` to `after` changes (see UpdateKind). */
  updateKind(before: RowValues, after: RowValues): UpdateKind {
    if (this.generatedForeignKey) return "foreign-key";
    let kind: UpdateKind = "unchanged";
    for (const i of this.writeIdx) {
      if (sameValue(before[i], after[i])) continue;
      if (this.foreignKeyIdx.has(i)) return "foreign-key";
      if (this.keyIdxSet.has(i)) kind = "key";
      else if (kind === "unchanged") kind = "values";
    }
    return kind;
  }

  /** An insert of `row`: it may be a parent children need, and it needs its own parents when checked. */
  insertFootprint(row: RowValues, flags: SessionFlags): Footprint {
    return { table: this.id, row: this.rowId(row), adds: this.hasChildren, needs: flags.foreignKeyChecks ? this.parents : undefined };
  }

  /** A delete of `row`: its own row, unless foreign keys reach its children. */
  deleteFootprint(row: RowValues): Footprint {
    return this.hasChildren ? { table: this.id, barrier: true } : { table: this.id, row: this.rowId(row) };
  }

  /** An update of `before`, of the given kind: its own row, or its whole table when the key moves, unless foreign keys reach further. */
  updateFootprint(kind: UpdateKind, before: RowValues): Footprint {
    if (kind === "foreign-key") return { table: this.id, barrier: true };
    return kind === "key" ? { table: this.id } : { table: this.id, row: this.rowId(before) };
  }

  /** The row's key as text, where changes of different rows commute; undefined (the whole table) elsewhere. */
  private rowId(row: RowValues): string | undefined {
    if (!this.upsertUpdates) return undefined;
    let id = "";
    for (const i of this.keyIdx) id += `${literal(row[i], this.kinds[i])},`;
    return id;
  }

  /**
   * Sets the columns whose value changed (and those the server would otherwise set itself), as the
   * master's row event says: the statement is what the master changed, not the whole row again.
   * A change that leaves every value as it was still sets them all, so it must find its row.
   */
  update(before: RowValues, after: RowValues, w: ValueWriter): string {
    const set: string[] = [];
    this.writeIdx.forEach((i, n) => {
      if (this.alwaysSetIdx.has(i) || !sameValue(before[i], after[i])) set.push(`${this.setColumns[n]} = ${w.literal(after[i], this.kinds[i])}`);
    });
    if (set.length === 0) this.writeIdx.forEach((i, n) => set.push(`${this.setColumns[n]} = ${w.literal(after[i], this.kinds[i])}`));
    return `UPDATE ${this.table} SET ${set.join(", ")} WHERE ${this.where(before, w)} /* mysql-dr applier */`;
  }

  delete(before: RowValues, w: ValueWriter): string {
    return `DELETE FROM ${this.table} WHERE ${this.where(before, w)} /* mysql-dr applier */`;
  }

  private where(row: RowValues, w: ValueWriter): string {
    const where = this.keyIdx.map((i, n) => `${this.whereColumns[n]}${w.literal(row[i], this.kinds[i])}`).join(" AND ");
    return this.keyless ? `${where} LIMIT 1` : where;
  }
}

export class TablePlans {
  private readonly plans = new Map<string, TablePlan>();

  /** `conn` reads the DR server's catalog (a plain connection, not the applier's). */
  constructor(private readonly conn: Connection, private readonly flavor: Flavor) {}

  /** The DR server's foreign keys, read once per generation of plans. */
  private foreignKeys?: Promise<ForeignKeyGraph>;

  /** Forgets every plan: after DDL the tables' shapes (and foreign keys) may have changed. */
  invalidate(): void {
    this.plans.clear();
    this.foreignKeys = undefined;
  }

  async plan(db: string, table: string, columns: TableColumns): Promise<TablePlan> {
    const cacheKey = `${db}\u0000${table}\u0000${columns.names.join("\u0000")}`;
    let plan = this.plans.get(cacheKey);
    if (!plan) {
      plan = await this.build(db, table, columns);
      this.plans.set(cacheKey, plan);
    }
    return plan;
  }

  private async build(db: string, table: string, columns: TableColumns): Promise<TablePlan> {
    const shape = await readTableShape(this.conn, db, table, this.flavor);
    const targetColumns = new Map<string, ColumnInfo>(shape.columns.map((c) => [c.name, c]));
    const quoted = quoteTable(db, table);
    if (targetColumns.size === 0) {
      throw new DrError("APPLY_FAILED", `Table ${quoted} does not exist on the DR server; create it there (or recreate the link with --initial full).`, { errno: 1146 });
    }
    const unsafe = unsafeToApply(shape, `Table ${quoted}`);
    if (unsafe) throw new DrError("APPLY_FAILED", unsafe);
    const missing = columns.names.filter((c) => !targetColumns.has(c));
    if (missing.length) {
      throw new DrError("APPLY_FAILED", `Table ${quoted} on the DR server lacks column(s) ${missing.join(", ")} that the master writes; align its definition with the master's.`, { errno: 1054 });
    }
    const writeIdx = columns.names.flatMap((c, i) => (targetColumns.get(c)!.generated ? [] : [i]));
    const keyless = shape.key === undefined;
    const keyIdx = keyless ? writeIdx : shape.key!.map((c) => columns.names.indexOf(c));
    if (keyIdx.some((i) => i < 0)) {
      throw new DrError("APPLY_FAILED", `The key of ${quoted} on the DR server uses columns the master does not write; align its definition with the master's.`);
    }
    const alwaysSetIdx = new Set(writeIdx.filter((i) => targetColumns.get(columns.names[i])!.autoUpdated));
    const graph = await (this.foreignKeys ??= readForeignKeys(this.conn).then(
      (keys) => new ForeignKeyGraph(keys),
      (err: unknown) => {
        this.foreignKeys = undefined;
        throw err;
      },
    ));
    const allFromBinlog = shape.columns.every((c) => c.generated || columns.names.includes(c.name));
    return new TablePlan(db, table, columns, writeIdx, keyIdx, keyless, alwaysSetIdx, graph.of(db, table), shape.keyIsOnlyUniqueIndex && allFromBinlog);
  }
}

/**
 * Whether two binlog values are the same value: primitives by Object.is (0 and -0 are different
 * doubles), bytes by content; anything else counts as changed, which only costs a wider SET.
 */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
}
