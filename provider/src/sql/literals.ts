/**
 * SQL text that carries values exactly, for every statement that writes rows on the DR server
 * (applier, copier, repair). mysql2's own formatting turns a Buffer into a hex literal (twice its
 * size: a BLOB over half of max_allowed_packet cannot be written) and sends text in the
 * connection's character set (a latin1 value the JavaScript decoder could not map comes out as
 * '?'). Here a value's bytes go on the wire as they were read: text with the introducer of its
 * column's character set (`_latin1'...'`, so the server neither converts it nor loses the index on
 * the column), binary as `_binary'...'`, both escaped like mysql_real_escape_string does.
 *
 * Statements are "wire text": a JavaScript string whose char codes are the bytes to send, which a
 * connection opened by `openWireConnection` (core/db.ts) sends one byte per char. Anything that is
 * not ASCII must pass through `wire` (UTF-8 text) or a literal function before it joins the text.
 */
import { wire } from "../core/db";

export { wire };

/** How a column's values are written back, decided from the binlog's table map or the catalog. */
export type ValueKind =
  /** Raw bytes in the column's character set (CHAR, VARCHAR, TEXT). */
  | { kind: "text"; charset: string }
  /** Raw bytes (BINARY, VARBINARY, BLOB, BIT, GEOMETRY, VECTOR). */
  | { kind: "binary" }
  /** The 1-based index of the member; 0 is the empty "error" value. */
  | { kind: "enum" }
  /** The members' bit mask, as a decimal string. */
  | { kind: "set" }
  /** JSON text (MySQL's JSON type). */
  | { kind: "json" }
  /** Numbers and exact ASCII forms: integers, DECIMAL, floats, temporal values. */
  | { kind: "plain" };

export const PLAIN: ValueKind = { kind: "plain" };

const NON_ASCII = /[^\x00-\x7f]/;
const ESCAPED = /[\0\n\r\x1a'\\]/g;
const ESCAPES: Record<string, string> = { "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z", "'": "\\'", "\\": "\\\\" };

/** A backtick-quoted identifier in wire form. */
export function wireId(name: string): string {
  return "`" + wire(name).replace(/`/g, "``") + "`";
}

export function wireTable(db: string, table: string): string {
  return `${wireId(db)}.${wireId(table)}`;
}

/** A literal of raw bytes read as `charset` ("binary" for bytes without one). */
export function bytesLiteral(bytes: Buffer, charset: string): string {
  return `_${charset}'${escape(bytes.toString("latin1"))}'`;
}

/** One value as a literal for a column of the given kind. */
export function literal(value: unknown, kind: ValueKind): string {
  if (value === null || value === undefined) return "NULL";
  if (Buffer.isBuffer(value)) return bytesLiteral(value, kind.kind === "text" ? kind.charset : "binary");
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) throw new Error(`cannot write the number ${value} as SQL`);
      return String(value);
    case "bigint":
      return value.toString();
    case "string": {
      const text = stringLiteral(value);
      return kind.kind === "json" ? `CAST(${text} AS JSON)` : text;
    }
    case "boolean":
      return value ? "1" : "0";
    default:
      throw new Error(`cannot write a value of type ${typeof value} as SQL`);
  }
}

/** A JavaScript string (UTF-8 text) as a literal. */
export function stringLiteral(text: string): string {
  return NON_ASCII.test(text) ? bytesLiteral(Buffer.from(text, "utf8"), "utf8mb4") : `'${escape(text)}'`;
}

/**
 * Values longer than this are not written inline: they are assembled on the server in a session
 * variable, this many bytes per statement, so no statement grows past max_allowed_packet however
 * large the value (the server's own limit for a value is the same variable, checked when a link
 * is created).
 */
export const SPILL_BYTES = 64 * 1024;

/**
 * Writes literals like `literal`, but a large value becomes a session variable (`@mysql_dr_v0`)
 * set by statements that must run first: `takePreamble()` hands them out. Variable names are
 * reused after `reset()`, once the statements that referenced them have run.
 */
export class ValueWriter {
  private next = 0;
  private preamble: string[] = [];

  literal(value: unknown, kind: ValueKind): string {
    const bytes = Buffer.isBuffer(value) ? value : typeof value === "string" && value.length > SPILL_BYTES / 4 ? Buffer.from(value, "utf8") : undefined;
    if (bytes === undefined || bytes.length <= SPILL_BYTES) return literal(value, kind);
    const charset = !Buffer.isBuffer(value) ? "utf8mb4" : kind.kind === "text" ? kind.charset : "binary";
    const name = `@mysql_dr_v${this.next++}`;
    for (let offset = 0; offset < bytes.length; offset += SPILL_BYTES) {
      const chunk = bytesLiteral(bytes.subarray(offset, offset + SPILL_BYTES), charset);
      this.preamble.push(offset === 0 ? `SET ${name} = ${chunk}` : `SET ${name} = CONCAT(${name}, ${chunk})`);
    }
    // CONCAT past the server's max_allowed_packet gives NULL with only a warning: make that an
    // error (a sql_mode that cannot be set), so a value never silently lands as NULL.
    this.preamble.push(`SET SESSION sql_mode = IF(LENGTH(${name}) <=> ${bytes.length}, @@session.sql_mode, 'mysql-dr: a value of ${bytes.length} bytes does not fit the max_allowed_packet of the DR server; raise it to at least the master''s')`);
    return kind.kind === "json" ? `CAST(${name} AS JSON)` : name;
  }

  /** `(v1, v2, ...)` of the values at `idx` (all of them when omitted). */
  tuple(row: readonly unknown[], kinds: readonly ValueKind[], idx?: readonly number[]): string {
    const parts: string[] = [];
    if (idx) for (const i of idx) parts.push(this.literal(row[i], kinds[i]));
    else for (let i = 0; i < row.length; i++) parts.push(this.literal(row[i], kinds[i]));
    return `(${parts.join(", ")})`;
  }

  /** The statements that set the variables written since the last call. */
  takePreamble(): string[] {
    const statements = this.preamble;
    this.preamble = [];
    return statements;
  }

  reset(): void {
    this.next = 0;
    this.preamble = [];
  }
}

/**
 * Whether a row holds ENUM's empty error value (index 0), which strict mode refuses to write back:
 * such a row is written on its own under a relaxed sql_mode (see `relaxed` in statements.ts).
 */
export function needsRelaxedMode(row: readonly unknown[], kinds: readonly ValueKind[]): boolean {
  for (let i = 0; i < row.length; i++) if (kinds[i].kind === "enum" && row[i] === 0) return true;
  return false;
}

function escape(latin1: string): string {
  return latin1.replace(ESCAPED, (c) => ESCAPES[c]);
}

/** Quoted strings (with either escape style), hex and bit literals, and numbers standing alone. */
const LITERAL = /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|\b[xXbB]'[0-9a-fA-F]*'|\b0x[0-9a-fA-F]+\b|(?<![\w$`])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w$`])/g;
const MESSAGE_SQL_MAX_CHARS = 200;

/**
 * A statement as error messages may show it: its shape with every literal replaced by `?` (a
 * statement can carry row values, which never go into errors or status), cut to a readable length.
 */
export function statementForMessage(sql: string): string {
  const shape = sql.replace(LITERAL, "?").replace(/\s+/g, " ").trim();
  return shape.length > MESSAGE_SQL_MAX_CHARS ? `${shape.slice(0, MESSAGE_SQL_MAX_CHARS)}...` : shape;
}

/**
 * `text` with its strings, quoted names and comments blanked character for character, so words
 * inside them are not read as clauses and positions still match the text.
 */
export function maskLiterals(text: string, ansiQuotes = false): string {
  const literal = ansiQuotes ? /`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|"(?:[^"]|"")*"|\/\*[\s\S]*?\*\//gs : /`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|\/\*[\s\S]*?\*\//gs;
  return text.replace(literal, (m) => " ".repeat(m.length));
}
