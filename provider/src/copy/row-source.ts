/** Rows of a SELECT handed out as they arrive, decoded or as the packets they came in, for the copy's writers (table-stream.ts, load-data.ts). */
import type { FieldPacket } from "mysql2";
import type { Connection } from "../core/db";

/**
 * Runs a SELECT on `source` and hands each row (an array) to `onRow` as it arrives, keeping no
 * result set; while the promise `onRow` may return is pending, the read pauses. Resolves once
 * the result has ended and the last promise settled; fails with the first error. `onFields`
 * receives the result's column metadata before the first row.
 */
export function forEachRow(source: Connection, sql: string, values: unknown[], onRow: (row: unknown[]) => Promise<void> | undefined, options: { onFields?: (fields: FieldPacket[]) => void } = {}): Promise<void> {
  return forEachResult(source, { sql, values, rowsAsArray: true }, false, onRow as (row: unknown) => Promise<void> | undefined, options.onFields);
}

/**
 * A row as the server sent it (text protocol): one length-encoded string per column, 0xFB for
 * NULL, from `offset` to `end` of `buffer`. mysql2 reuses the object for the next packet, not the
 * bytes: keep `buffer`, `offset` and `end` (not the object) to read a row after `onRow` returned.
 */
export interface RowPacket {
  readonly buffer: Buffer;
  readonly offset: number;
  readonly end: number;
}

/**
 * forEachRow, each row handed out as its packet, undecoded: no value, array or Buffer per field is
 * made, so a copy that only passes the bytes on does not pay mysql2's row parsing.
 */
export function forEachRowPacket(source: Connection, sql: string, values: unknown[], onRow: (row: RowPacket) => Promise<void> | undefined, onFields: (fields: FieldPacket[]) => void): Promise<void> {
  return forEachResult(source, { sql, values }, true, onRow as (row: unknown) => Promise<void> | undefined, onFields);
}

/** A row packet's fields, each its bytes as sent, or null. */
export function rowFields(row: RowPacket, columns: number): (Buffer | null)[] {
  const fields = new PacketFields(row);
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < columns; i++) {
    const length = fields.next();
    values.push(length < 0 ? null : row.buffer.subarray(fields.at, (fields.at += length)));
  }
  fields.end();
  return values;
}

/**
 * Walks a text-protocol row: `next()` reads a field's length-encoded header and leaves `at` on its
 * first byte (the caller moves `at` past the field); -1 for NULL.
 */
export class PacketFields {
  at: number;

  constructor(private readonly row: RowPacket) {
    this.at = row.offset;
  }

  next(): number {
    const bytes = this.row.buffer;
    const first = bytes[this.at];
    if (first < 0xfb) {
      this.at += 1;
      return first;
    }
    if (first === 0xfb) {
      this.at += 1;
      return -1;
    }
    if (first === 0xfc) {
      this.at += 3;
      return bytes.readUInt16LE(this.at - 2);
    }
    if (first === 0xfd) {
      this.at += 4;
      return bytes.readUIntLE(this.at - 3, 3);
    }
    this.at += 9;
    return bytes.readUInt32LE(this.at - 8) + bytes.readUInt32LE(this.at - 4) * 2 ** 32;
  }

  /** Every column read: a row that does not end where its packet ends was misread, and nothing of it may load. */
  end(): void {
    if (this.at !== this.row.end) throw new Error(`a row packet ended at byte ${this.at - this.row.offset} of ${this.row.end - this.row.offset}: the field count does not match the result`);
  }
}

/**
 * mysql2 turns each row packet into values with the parser it builds once the columns are known
 * (Query._rowParser, read by Query.row only). Pinning that property to a parser that hands back the
 * packet itself keeps mysql2's protocol handling and skips the decoding; copy/load-data.test checks
 * the bytes end to end, so a mysql2 that changes this fails there.
 */
const PACKET_PASSTHROUGH = { next: (packet: RowPacket) => packet };

function forEachResult(source: Connection, query: { sql: string; values: unknown[]; rowsAsArray?: boolean }, packets: boolean, onRow: (row: unknown) => Promise<void> | undefined, onFields?: (fields: FieldPacket[]) => void): Promise<void> {
  const conn = rawConnection(source);
  return new Promise((resolve, reject) => {
    let failed = false;
    let waiting: Promise<void> | undefined;
    let ended = false;
    const fail = (err: unknown) => {
      failed = true;
      reject(err);
    };
    const command = conn.query(query);
    if (packets) Object.defineProperty(command, "_rowParser", { get: () => PACKET_PASSTHROUGH, set: () => undefined });
    command
      .on("result", (row) => {
        if (failed) return;
        try {
          waiting = onRow(row);
        } catch (err) {
          return fail(err);
        }
        if (!waiting) return;
        conn.pause();
        waiting.then(
          () => {
            waiting = undefined;
            conn.resume();
            if (ended) resolve();
          },
          (err: unknown) => {
            conn.resume();
            fail(err);
          },
        );
      })
      .on("fields", (fields) => onFields?.(fields as unknown as FieldPacket[]))
      .on("error", fail)
      .on("end", () => {
        ended = true;
        if (!waiting && !failed) resolve();
      });
  });
}

/** The callback connection under the promise wrapper: only it can hand rows out as they arrive. */
export function rawConnection(conn: Connection): import("mysql2").Connection {
  return (conn as unknown as { connection: import("mysql2").Connection }).connection;
}
