/**
 * Row-writing statements in wire text (see literals.ts), shared by the applier, the copier and
 * repair: multi-row INSERTs of bounded size, and the session switch around a row strict mode
 * would refuse to write back.
 */
import { RELAXED_WRITE_SQL_MODE, WRITE_SQL_MODE } from "../core/db";
import { type ValueKind, literal, needsRelaxedMode } from "./literals";

export const STATEMENT_MAX_ROWS = 500;
export const STATEMENT_MAX_BYTES = 4 * 1024 * 1024;

/** `(v1, v2, ...)` of the values at `idx` (all of them when omitted). */
export function rowTuple(row: readonly unknown[], kinds: readonly ValueKind[], idx?: readonly number[]): string {
  const parts: string[] = [];
  if (idx) for (const i of idx) parts.push(literal(row[i], kinds[i]));
  else for (let i = 0; i < row.length; i++) parts.push(literal(row[i], kinds[i]));
  return `(${parts.join(", ")})`;
}

/** Runs `statement` under the relaxed sql_mode, then returns the session to the strict one. */
export function relaxed(statement: string): string {
  return `SET SESSION sql_mode = '${RELAXED_WRITE_SQL_MODE}'; ${statement}; SET SESSION sql_mode = '${WRITE_SQL_MODE}'`;
}

/**
 * INSERTs of all `rows` (`prefix` ends with "VALUES "), at most STATEMENT_MAX_ROWS rows or about
 * STATEMENT_MAX_BYTES each; a row holding ENUM's empty value goes alone, under the relaxed mode.
 * Each yielded text is one statement, or three for a relaxed row (multipleStatements needed).
 */
export function* insertStatements(prefix: string, kinds: readonly ValueKind[], rows: readonly unknown[][], suffix = ""): Generator<string> {
  let tuples: string[] = [];
  let bytes = 0;
  const statement = (list: string[]) => `${prefix}${list.join(", ")}${suffix} /* mysql-dr */`;
  for (const row of rows) {
    const tuple = rowTuple(row, kinds);
    if (needsRelaxedMode(row, kinds)) {
      yield relaxed(statement([tuple]));
      continue;
    }
    tuples.push(tuple);
    bytes += tuple.length;
    if (tuples.length >= STATEMENT_MAX_ROWS || bytes >= STATEMENT_MAX_BYTES) {
      yield statement(tuples);
      tuples = [];
      bytes = 0;
    }
  }
  if (tuples.length) yield statement(tuples);
}
