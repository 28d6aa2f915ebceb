/**
 * Row-writing statements in wire text (see literals.ts), shared by the applier, the copier and
 * repair: multi-row INSERTs of bounded size, and the session switch around a row strict mode
 * would refuse to write back.
 */
import { RELAXED_WRITE_SQL_MODE, WRITE_SQL_MODE } from "../core/db";
import { type ValueKind, ValueWriter, needsRelaxedMode } from "./literals";

export const STATEMENT_MAX_ROWS = 500;
/** Statements (and round trips) stay well under the smallest common max_allowed_packet (4 MiB). */
export const STATEMENT_MAX_BYTES = 1024 * 1024;

/** Runs `statement` under the relaxed sql_mode, then returns the session to the strict one. */
export function relaxed(statement: string): string {
  return `SET SESSION sql_mode = '${RELAXED_WRITE_SQL_MODE}'; ${statement}; SET SESSION sql_mode = '${WRITE_SQL_MODE}'`;
}

/**
 * INSERTs of all `rows` (`prefix` ends with "VALUES "), at most STATEMENT_MAX_ROWS rows or about
 * STATEMENT_MAX_BYTES each; a row holding ENUM's empty value goes alone, under the relaxed mode.
 * Each yielded text is one statement, or three for a relaxed row (multipleStatements needed);
 * large values come with the statements that assemble them, yielded first.
 */
export function* insertStatements(prefix: string, kinds: readonly ValueKind[], rows: readonly unknown[][], suffix = ""): Generator<string> {
  const values = new ValueWriter();
  let tuples: string[] = [];
  let bytes = 0;
  const statement = (list: string[]) => `${prefix}${list.join(", ")}${suffix} /* mysql-dr */`;
  for (const row of rows) {
    const tuple = values.tuple(row, kinds);
    yield* values.takePreamble();
    if (needsRelaxedMode(row, kinds)) {
      yield relaxed(statement([tuple]));
      continue;
    }
    tuples.push(tuple);
    bytes += tuple.length;
    if (tuples.length >= STATEMENT_MAX_ROWS || bytes >= STATEMENT_MAX_BYTES) {
      yield statement(tuples);
      values.reset();
      tuples = [];
      bytes = 0;
    }
  }
  if (tuples.length) yield statement(tuples);
}
