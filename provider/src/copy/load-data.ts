/**
 * The copy's fast path: a chunk's rows stream to the DR server as one LOAD DATA LOCAL INFILE
 * instead of multi-row INSERTs. The server parses tab-separated fields far more cheaply than
 * SQL literals, and the daemon passes the master's bytes through (each row packet as it came,
 * row-source.ts: no decoding, no literals), escaping only tab, newline, NUL and backslash.
 *
 * Exactness: the master sends text in the read session's utf8mb4 and binary columns as they are;
 * the load reads the file as utf8mb4, so the DR server converts text to each column's character
 * set as it does for the INSERT path's `_utf8mb4'...'` literals, and binary columns take the bytes
 * unchanged. ENUM and SET come as their index and bit mask (row-reads.ts) and go in through a
 * variable as a number. Under LOCAL the server cannot stop the client's file midway, so it turns
 * every error into a warning: each load's warnings are read, and anything but a duplicate key
 * (a row the applier already wrote, which the INSERT path keeps with ON DUPLICATE KEY UPDATE
 * k = k) refuses the load. The caller then rolls back to before it and writes the same rows with
 * INSERTs, whose errors are errors.
 */
import type { Socket } from "node:net";
import type { Readable as ReadableType } from "node:stream";
import { Readable } from "node:stream";
import { type FieldPacket, Types } from "mysql2";
import type { ColumnInfo } from "../catalog/table-shape";
import type { Connection } from "../core/db";
import { wireId, wireTable } from "../sql/literals";
import { SPATIAL_TYPES } from "../sql/row-reads";
import { PacketFields, type RowPacket, forEachRowPacket, rawConnection, rowFields } from "./row-source";

/** Bytes gathered before they are handed to the connection as one packet. */
const BLOCK_BYTES = 64 * 1024;
/** Unsent bytes on the DR server's socket past which the master's rows wait. */
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/** The byte after the backslash for each byte LOAD DATA's format gives a meaning (tab, newline, NUL, backslash); 0 for the rest. */
const ESCAPE = new Uint8Array(256);
ESCAPE[0x09] = 0x74;
ESCAPE[0x0a] = 0x6e;
ESCAPE[0x00] = 0x30;
ESCAPE[0x5c] = 0x5c;

const ER_DUP_ENTRY = 1062;
/** The server or the client refuses LOCAL (MySQL 1148, 3948; MariaDB 4166; client 2068). */
const LOCAL_REFUSED = new Set([1148, 3948, 4166, 2068]);

/** Why a load was refused; `scope` says what should not try loads again. */
export class LoadRefused extends Error {
  constructor(readonly scope: "server" | "table" | "chunk", reason: string) {
    super(`LOAD DATA refused: ${reason}`);
  }
}

/**
 * The LOAD DATA statement (wire text) for a table's copied columns, or null where a load could
 * not write them exactly: spatial columns (the server's internal form is not a field value every
 * server accepts) and sequences.
 */
export function loadStatement(db: string, table: string, stored: readonly ColumnInfo[], sequence: boolean): string | null {
  if (sequence || stored.some((c) => SPATIAL_TYPES.has(c.type))) return null;
  const targets: string[] = [];
  const sets: string[] = [];
  stored.forEach((c, i) => {
    if (c.type !== "enum" && c.type !== "set") return targets.push(wireId(c.name));
    targets.push(`@mysql_dr_f${i}`);
    sets.push(`${wireId(c.name)} = CAST(@mysql_dr_f${i} AS UNSIGNED)`);
  });
  return `LOAD DATA LOCAL INFILE 'mysql-dr' IGNORE INTO TABLE ${wireTable(db, table)} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${targets.join(", ")})${sets.length ? ` SET ${sets.join(", ")}` : ""} /* mysql-dr copy */`;
}

/**
 * Reads `select` on `source` (its rows as raw field bytes) and loads them on `target` with
 * `statement`, both at once. Returns how many rows and the last one, decoded (`fieldValue`).
 * Throws LoadRefused when the DR server would not take every row exactly (a duplicate key counts
 * as taken only with `keepDuplicates`); the rows it did write are the caller's to roll back.
 */
export async function loadRows(source: Connection, target: Connection, select: { sql: string; params: unknown[] }, statement: string, keepDuplicates: boolean): Promise<{ rows: number; last: unknown[] | null }> {
  const file = new RowFile((rawConnection(target) as unknown as { stream: Socket }).stream);
  const loading = target.query({ sql: statement, infileStreamFactory: () => file.stream } as never) as unknown as Promise<[{ affectedRows: number; warningStatus: number }]>;
  // A load that ends early (refused, or the server failed) must not leave the read waiting for room.
  let loadError: unknown;
  const loaded = loading.then(
    ([result]) => result,
    (err: unknown) => {
      loadError = err;
      file.close();
      return null;
    },
  );
  let rows = 0;
  // The last row's place in its bytes (the packet object is mysql2's to reuse).
  let lastBuffer = null as Buffer | null;
  let lastOffset = 0;
  let lastEnd = 0;
  let fields: FieldPacket[] = [];
  try {
    await forEachRowPacket(source, select.sql, select.params, (row) => {
      if (loadError !== undefined) throw loadError;
      rows++;
      lastBuffer = row.buffer;
      lastOffset = row.offset;
      lastEnd = row.end;
      return file.add(row, fields.length);
    }, (f) => (fields = f));
  } catch (err) {
    file.close(err);
    await loaded;
    throw refusal(loadError) ?? err;
  }
  file.close();
  const result = await loaded;
  if (!result) throw refusal(loadError) ?? loadError;
  const duplicates = await checkWarnings(target, result.warningStatus, keepDuplicates);
  // Every row read is written or a duplicate kept: a row lost to a misread line would show here.
  if (result.affectedRows + duplicates !== rows) throw new LoadRefused("table", `the DR server wrote ${result.affectedRows} of ${rows} rows (${duplicates} duplicate keys kept)`);
  const last = lastBuffer && rowFields({ buffer: lastBuffer, offset: lastOffset, end: lastEnd }, fields.length);
  return { rows, last: last && last.map((bytes, i) => fieldValue(bytes, fields[i])) };
}

/** A load error that says LOCAL is off, as a refusal for the whole copy. */
function refusal(err: unknown): LoadRefused | undefined {
  const errno = (err as { errno?: number } | undefined)?.errno;
  return errno !== undefined && LOCAL_REFUSED.has(errno) ? new LoadRefused("server", `LOCAL INFILE is disabled (error ${errno}); set local_infile = ON on the DR server for faster copies`) : undefined;
}

/**
 * Accepts a load without warnings, or (with `keepDuplicates`) whose warnings are all duplicate
 * keys, each of them read; returns how many duplicates were kept.
 */
async function checkWarnings(target: Connection, count: number, keepDuplicates: boolean): Promise<number> {
  if (count === 0) return 0;
  const [rows] = await target.query("SHOW WARNINGS /* mysql-dr copy */");
  const codes = (rows as { Code: number }[]).map((r) => Number(r.Code));
  const other = codes.filter((c) => !keepDuplicates || c !== ER_DUP_ENTRY);
  // Messages can quote row values: only the codes are named.
  if (other.length) throw new LoadRefused("table", `the DR server reported warning ${[...new Set(other)].join(", ")} while loading`);
  if (codes.length < count) throw new LoadRefused("chunk", `${count} warnings, more than the server lists`);
  return codes.length;
}

const BINARY_CHARSET = 63;

/**
 * A field's bytes as the read session's mysql2 decodes the same field (core/db.ts: big numbers,
 * decimals and dates as strings, binary as a Buffer), so the last key of a loaded chunk is the
 * value an INSERT copy keeps. JSON and spatial values, which are never keys, come as text or bytes.
 */
export function fieldValue(bytes: Buffer | null, field: Pick<FieldPacket, "columnType" | "characterSet">): unknown {
  if (bytes === null) return null;
  switch (field.columnType) {
    case Types.TINY:
    case Types.SHORT:
    case Types.LONG:
    case Types.INT24:
    case Types.YEAR:
    case Types.FLOAT:
    case Types.DOUBLE:
      return Number(bytes.toString("latin1"));
    case Types.LONGLONG:
    case Types.DECIMAL:
    case Types.NEWDECIMAL:
    case Types.DATE:
    case Types.NEWDATE:
    case Types.DATETIME:
    case Types.TIMESTAMP:
    case Types.TIME:
      return bytes.toString("latin1");
    default:
      return field.characterSet === BINARY_CHARSET ? Buffer.from(bytes) : bytes.toString("utf8");
  }
}

/**
 * The rows as LOAD DATA's tab-separated file, handed out in blocks through a Readable that mysql2
 * sends on. `add` returns a promise while the DR server's socket holds more than MAX_UNSENT_BYTES:
 * the caller pauses the master's rows until it drained.
 */
class RowFile {
  readonly stream: ReadableType;
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private used = 0;
  private wanted: (() => void) | null = null;
  private full = false;
  private closed = false;

  constructor(private readonly socket: Socket) {
    // Room for the first rows while the load's request for the file is on its way.
    this.stream = new Readable({ highWaterMark: 1024 * 1024, read: () => this.wake() });
  }

  /** One row's line: its `columns` fields, read from the packet and escaped into the block. */
  add(row: RowPacket, columns: number): Promise<void> | undefined {
    if (this.closed) return undefined;
    const fields = new PacketFields(row);
    for (let i = 0; i < columns; i++) {
      if (i > 0) this.byte(0x09);
      const length = fields.next();
      if (length < 0) {
        this.byte(0x5c);
        this.byte(0x4e);
      } else this.escaped(row.buffer, fields.at, (fields.at += length));
    }
    fields.end();
    this.byte(0x0a);
    return this.room();
  }

  /** No more rows (after `err`, the load is cut short and the server answers with an error). */
  close(err?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    if (err !== undefined) this.stream.destroy(err instanceof Error ? err : new Error(String(err)));
    else {
      this.hand();
      this.stream.push(null);
    }
    this.wake();
  }

  /** Resolves once the stream wants data and the socket has room again (at once when closed). */
  private room(): Promise<void> | undefined {
    const ready = () => this.closed || (!this.full && this.socket.writableLength <= MAX_UNSENT_BYTES);
    if (ready()) return undefined;
    return new Promise((resolve) => {
      const check = () => {
        if (!ready()) return;
        this.socket.removeListener("drain", check);
        this.wanted = null;
        resolve();
      };
      this.wanted = check;
      this.socket.on("drain", check);
    });
  }

  /** The stream asks for more (its buffer is below the high-water mark), or the file closed. */
  private wake(): void {
    this.full = false;
    this.wanted?.();
  }

  /**
   * `bytes[start..end)` with LOAD DATA's escapes (ESCAPE). A field that fits a block is escaped
   * byte by byte straight into it (cheaper than a copy call per field).
   */
  private escaped(bytes: Buffer, start: number, end: number): void {
    const n = end - start;
    if (2 * n > BLOCK_BYTES - this.used) {
      if (2 * n > BLOCK_BYTES) return this.escapedLarge(bytes, start, end);
      this.hand();
    }
    const block = this.block;
    let used = this.used;
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      const escape = ESCAPE[b];
      if (escape !== 0) {
        block[used++] = 0x5c;
        block[used++] = escape;
      } else block[used++] = b;
    }
    this.used = used;
    if (used === BLOCK_BYTES) this.hand();
  }

  /** A field larger than half a block: clean runs copied, blocks handed out as they fill. */
  private escapedLarge(bytes: Buffer, start: number, end: number): void {
    let clean = start;
    for (let i = start; i < end; i++) {
      const escape = ESCAPE[bytes[i]];
      if (escape === 0) continue;
      this.raw(bytes, clean, i);
      this.byte(0x5c);
      this.byte(escape);
      clean = i + 1;
    }
    this.raw(bytes, clean, end);
  }

  private raw(bytes: Buffer, start: number, end: number): void {
    while (start < end) {
      const n = Math.min(end - start, BLOCK_BYTES - this.used);
      bytes.copy(this.block, this.used, start, start + n);
      this.used += n;
      start += n;
      if (this.used === BLOCK_BYTES) this.hand();
    }
  }

  private byte(b: number): void {
    this.block[this.used++] = b;
    if (this.used === BLOCK_BYTES) this.hand();
  }

  /** Hands the block filled so far to the stream (each becomes one packet) and starts a new one. */
  private hand(): void {
    if (this.used === 0) return;
    // False while the stream holds a high-water mark's worth: it calls read() when it wants more.
    if (!this.stream.push(this.block.subarray(0, this.used))) this.full = true;
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.used = 0;
  }
}
