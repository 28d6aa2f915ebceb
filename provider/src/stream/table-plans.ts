/**
 * Per-table apply plans: the INSERT/UPDATE/DELETE text for a table, built once from the DR
 * server's metadata and the binlog's column list, and reused until a DDL touches the schema.
 */
import { type Connection, quoteId, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { type ColumnInfo, readTableShape } from "../catalog/table-shape";

export interface TablePlan {
  table: string;
  /** Indexes into the binlog's column list of the columns written (generated ones are not). */
  writeIdx: number[];
  /** Indexes of the columns that identify a row in WHERE clauses. */
  keyIdx: number[];
  /** True when no unique key exists: rows are matched on every column, one at a time. */
  keyless: boolean;
  insertPrefix: string;
  /** Appended to a multi-row INSERT to make it an upsert (while a copied table catches up). */
  upsertSuffix: string;
  rowPlaceholders: string;
  updateSql: string;
  deleteSql: string;
  /** DELETE ... WHERE key IN (...) prefix, for single-column keys. */
  deleteInPrefix?: string;
}

export class TablePlans {
  private readonly plans = new Map<string, TablePlan>();

  constructor(private readonly conn: Connection, private readonly flavor: Flavor) {}

  /** Forgets every plan: after DDL the tables' shapes may have changed. */
  invalidate(): void {
    this.plans.clear();
  }

  async plan(db: string, table: string, binlogColumns: string[]): Promise<TablePlan> {
    const cacheKey = `${db}\u0000${table}\u0000${binlogColumns.join("\u0000")}`;
    let plan = this.plans.get(cacheKey);
    if (!plan) {
      plan = await this.build(db, table, binlogColumns);
      this.plans.set(cacheKey, plan);
    }
    return plan;
  }

  private async build(db: string, table: string, binlogColumns: string[]): Promise<TablePlan> {
    const shape = await readTableShape(this.conn, db, table, this.flavor);
    const targetColumns = new Map(shape.columns.map((c) => [c.name, c]));
    const quoted = quoteTable(db, table);
    if (targetColumns.size === 0) {
      throw new DrError("APPLY_FAILED", `Table ${quoted} does not exist on the DR server; create it there (or recreate the link with --initial full).`, { errno: 1146 });
    }
    const missing = binlogColumns.filter((c) => !targetColumns.has(c));
    if (missing.length) {
      throw new DrError("APPLY_FAILED", `Table ${quoted} on the DR server lacks column(s) ${missing.join(", ")} that the master writes; align its definition with the master's.`, { errno: 1054 });
    }
    const writeIdx = binlogColumns.flatMap((c, i) => (targetColumns.get(c)!.generated ? [] : [i]));
    const keyColumns = shape.key;
    const keyless = keyColumns === undefined;
    const keyIdx = keyless ? writeIdx : keyColumns.map((c) => binlogColumns.indexOf(c));
    if (keyIdx.some((i) => i < 0)) {
      throw new DrError("APPLY_FAILED", `The key of ${quoted} on the DR server uses columns the master does not write; align its definition with the master's.`);
    }
    const value = (i: number) => (targetColumns.get(binlogColumns[i])!.json ? "CAST(? AS JSON)" : "?");
    const where = keyIdx.map((i) => `${quoteId(binlogColumns[i])} ${keyless ? "<=>" : "="} ${value(i)}`).join(" AND ");
    const limit = keyless ? " LIMIT 1" : "";
    const setList = writeIdx.map((i) => `${quoteId(binlogColumns[i])} = ?`).join(", ");
    const written = writeIdx.map((i) => quoteId(binlogColumns[i]));
    return {
      table: quoted,
      writeIdx,
      keyIdx,
      keyless,
      insertPrefix: `INSERT INTO ${quoted} (${written.join(", ")}) VALUES `,
      upsertSuffix: ` ON DUPLICATE KEY UPDATE ${written.map((c) => `${c} = VALUES(${c})`).join(", ")}`,
      rowPlaceholders: `(${writeIdx.map(() => "?").join(", ")})`,
      updateSql: `UPDATE ${quoted} SET ${setList} WHERE ${where}${limit} /* mysql-dr applier */`,
      deleteSql: `DELETE FROM ${quoted} WHERE ${where}${limit} /* mysql-dr applier */`,
      deleteInPrefix: !keyless && keyIdx.length === 1 && !targetColumns.get(binlogColumns[keyIdx[0]])!.json ? `DELETE FROM ${quoted} WHERE ${quoteId(binlogColumns[keyIdx[0]])} IN ` : undefined,
    };
  }
}
