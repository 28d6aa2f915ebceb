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
 * INSERTs of rows added one at a time (`prefix` ends with "VALUES "), at most STATEMENT_MAX_ROWS
 * rows or about STATEMENT_MAX_BYTES each; a row holding ENUM's empty value goes alone, under the
 * relaxed mode. Each statement text is one statement, or three for a relaxed row
 * (multipleStatements needed); large values come with the statements that assemble them, first.
 * The statements must run in the order they are taken (session variables are reused).
 */
export class InsertBuilder {
  private readonly values = new ValueWriter();
  private tuples: string[] = [];
  private bytes = 0;
  private ready: string[] = [];

  constructor(private readonly prefix: string, private readonly kinds: readonly ValueKind[], private readonly suffix = "") {}

  add(row: readonly unknown[]): void {
    const tuple = this.values.tuple(row, this.kinds);
    this.ready.push(...this.values.takePreamble());
    if (needsRelaxedMode(row, this.kinds)) {
      this.ready.push(relaxed(this.statement([tuple])));
      return;
    }
    this.tuples.push(tuple);
    this.bytes += tuple.length;
    if (this.tuples.length >= STATEMENT_MAX_ROWS || this.bytes >= STATEMENT_MAX_BYTES) this.flush();
  }

  /** Statements are complete and not yet taken. */
  get pending(): boolean {
    return this.ready.length > 0;
  }

  /** The statements complete so far (all of them after `end`), each handed out once. */
  take(): string[] {
    const statements = this.ready;
    this.ready = [];
    return statements;
  }

  /** Closes the last statement. */
  end(): void {
    if (this.tuples.length) this.flush();
  }

  private flush(): void {
    this.ready.push(this.statement(this.tuples));
    this.values.reset();
    this.tuples = [];
    this.bytes = 0;
  }

  private statement(list: string[]): string {
    return `${this.prefix}${list.join(", ")}${this.suffix} /* mysql-dr */`;
  }
}

/** InsertBuilder's statements for all `rows`, built as they are taken. */
export function* insertStatements(prefix: string, kinds: readonly ValueKind[], rows: readonly unknown[][], suffix = ""): Generator<string> {
  const builder = new InsertBuilder(prefix, kinds, suffix);
  for (const row of rows) {
    builder.add(row);
    yield* builder.take();
  }
  builder.end();
  yield* builder.take();
}
