/** Multi-row INSERT statements of bounded size, shared by the copier and the applier. */

export const STATEMENT_MAX_ROWS = 500;
export const STATEMENT_MAX_BYTES = 4 * 1024 * 1024;

/** `prefix` ends with "VALUES "; `suffix` (e.g. ON DUPLICATE KEY UPDATE ...) follows the rows. */
export function multiRowSql(prefix: string, rowPlaceholders: string, rows: number, suffix = ""): string {
  return `${prefix}${Array(rows).fill(rowPlaceholders).join(", ")}${suffix} /* mysql-dr */`;
}

/** Splits rows into statements of at most STATEMENT_MAX_ROWS rows or about STATEMENT_MAX_BYTES. */
export function* multiRowInsert(prefix: string, columns: number, rows: unknown[][]): Generator<{ sql: string; params: unknown[] }> {
  const placeholders = `(${Array(columns).fill("?").join(", ")})`;
  let params: unknown[] = [];
  let count = 0;
  let bytes = 0;
  for (const row of rows) {
    for (const v of row) params.push(v);
    count++;
    bytes += estimateBytes(row);
    if (count >= STATEMENT_MAX_ROWS || bytes >= STATEMENT_MAX_BYTES) {
      yield { sql: multiRowSql(prefix, placeholders, count), params };
      params = [];
      count = 0;
      bytes = 0;
    }
  }
  if (count) yield { sql: multiRowSql(prefix, placeholders, count), params };
}

export function estimateBytes(values: unknown[]): number {
  let n = 0;
  for (const v of values) n += typeof v === "string" || Buffer.isBuffer(v) ? v.length * 2 + 4 : 12;
  return n;
}
