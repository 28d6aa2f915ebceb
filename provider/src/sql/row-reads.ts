/**
 * How the copier and repair read a table's rows from the master so that writing them back (with
 * literals.ts) reproduces them exactly: ENUM and SET as their index and bit mask (the empty ENUM
 * value survives), spatial values in the server's internal form (mysql2 would parse them into
 * shapes), FLOAT through DOUBLE (its text form has too few digits to name the same float).
 */
import type { ColumnInfo } from "../catalog/table-shape";
import { quoteId } from "../core/db";
import { PLAIN, type ValueKind } from "./literals";

export const SPATIAL_TYPES: ReadonlySet<string> = new Set(["geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection"]);

export interface ExactRead {
  /** SELECT list expressions (UTF-8 SQL for the master's ordinary connection). */
  select: string[];
  kinds: ValueKind[];
}

/** The stored (non-generated) columns' select expressions and value kinds, in table order. */
export function exactRead(columns: readonly ColumnInfo[]): ExactRead {
  const select: string[] = [];
  const kinds: ValueKind[] = [];
  for (const c of columns) {
    if (c.generated) continue;
    const id = quoteId(c.name);
    if (c.type === "enum" || c.type === "set") {
      select.push(`(${id} + 0) AS ${id}`);
      kinds.push({ kind: c.type });
    } else if (SPATIAL_TYPES.has(c.type)) {
      select.push(`CAST(${id} AS BINARY) AS ${id}`);
      kinds.push({ kind: "binary" });
    } else if (c.type === "float") {
      select.push(`(${id} + 0E0) AS ${id}`);
      kinds.push(PLAIN);
    } else {
      select.push(id);
      kinds.push(c.json ? { kind: "json" } : PLAIN);
    }
  }
  return { select, kinds };
}
