/**
 * Decodes a rows event straight from its packet's bytes into the values the applier writes. This
 * was most of the daemon's reading work when zongji did it: zongji builds an object per row keyed
 * by column name and reads each value through a generic parser, much of it to be undone by the
 * reader's adjustments (binlog-reader.ts). Here each column gets one reader, chosen once per table
 * map, that returns exactly what zongji returns for that column after those adjustments, so the
 * rest of the pipeline cannot tell the two apart (the stream tests compare them event by event).
 *
 * Only tables whose every column has a type read here take this path: integers, FLOAT, DOUBLE,
 * DECIMAL, DATE and the MySQL 5.6 temporal formats, strings and BLOBs as raw bytes, ENUM, SET, BIT
 * and YEAR. Tables with any other column (JSON, MariaDB's compressed columns, UUID/INET, the
 * temporal formats from before 5.6) keep zongji's decoding, event for event.
 */
import type { ColumnInfo, ColumnSchema } from "@vlasky/zongji" with { "resolution-mode": "import" };
import type { RowOperation, RowValues } from "./change-events";

/** The bytes of one packet of the binlog connection (mysql2's Packet: 4-byte header, then the payload up to `end`). */
export interface RawPacket {
  buffer: Buffer;
  start: number;
  end: number;
}

/** A position in a packet's bytes, moved by the readers. */
interface Cursor {
  buf: Buffer;
  pos: number;
}

/** Reads one non-NULL value at the cursor and moves past it. */
export type ValueReader = (c: Cursor) => unknown;

/** Binlog column type codes (include/mysql.h, enum_field_types; 140 and 141 are MariaDB's compressed columns). */
export const COLUMN_TYPE = {
  TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, LONGLONG: 8, INT24: 9, DATE: 10, TIME: 11, YEAR: 13, VARCHAR: 15,
  BIT: 16, TIMESTAMP2: 17, DATETIME2: 18, TIME2: 19, BLOB_COMPRESSED: 140, VARCHAR_COMPRESSED: 141, JSON: 245,
  NEWDECIMAL: 246, ENUM: 247, SET: 248, TINY_BLOB: 249, MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253,
  STRING: 254, GEOMETRY: 255,
} as const;
const T = COLUMN_TYPE;

/** Event type codes of the rows events this module reads: v1 (MariaDB, MySQL 5.5) and v2 (MySQL 5.6+). */
const ROWS_EVENTS: Record<number, { op: RowOperation; v2: boolean }> = {
  23: { op: "insert", v2: false }, 24: { op: "update", v2: false }, 25: { op: "delete", v2: false },
  30: { op: "insert", v2: true }, 31: { op: "update", v2: true }, 32: { op: "delete", v2: true },
};

/** The OK marker, then the event header: timestamp (4), type (1), server id (4), length (4), next position (4), flags (2). */
const EVENT_START = 5;
const EVENT_HEADER_BYTES = 19;
const CHECKSUM_BYTES = 4;

/** The event type code of a binlog event packet, or undefined for any other packet (an error, EOF, a short one). */
function eventType(packet: RawPacket): number | undefined {
  const { buffer, start, end } = packet;
  return end - start < EVENT_START + EVENT_HEADER_BYTES || buffer[start + 4] !== 0x00 ? undefined : buffer[start + EVENT_START + 4];
}

/** The rows event type of a binlog packet, or undefined for any other packet. */
export function rowsEventKind(packet: RawPacket): { op: RowOperation; v2: boolean } | undefined {
  const type = eventType(packet);
  return type === undefined ? undefined : ROWS_EVENTS[type];
}

/** The table id of a rows or table map event packet (6 bytes after the header). */
export function eventTableId(packet: RawPacket): number {
  return packet.buffer.readUIntLE(packet.start + EVENT_START + EVENT_HEADER_BYTES, 6);
}

const TABLE_MAP_EVENT = 19;

/**
 * A table map event's body (table id, names, column types and metadata), or undefined for any
 * other packet: two table maps with the same body describe the same columns.
 */
export function tableMapBody(packet: RawPacket, checksum: boolean): Buffer | undefined {
  if (eventType(packet) !== TABLE_MAP_EVENT) return undefined;
  return packet.buffer.subarray(packet.start + EVENT_START + EVENT_HEADER_BYTES, packet.end - (checksum ? CHECKSUM_BYTES : 0));
}

export interface DecodedRows {
  op: RowOperation;
  /** The master session's flags for this statement (foreign_key_checks=0, unique_checks=0). */
  flags: number;
  timestampMs: number;
  rows: RowValues[];
  /** update only: the after images. */
  after?: RowValues[];
}

/** Decodes a rows event packet (`rowsEventKind` said it is one) with the table's readers. */
export function decodeRowsEvent(packet: RawPacket, checksum: boolean, readers: readonly ValueReader[]): DecodedRows {
  const kind = rowsEventKind(packet)!;
  const buf = packet.buffer;
  const eventStart = packet.start + EVENT_START;
  const c: Cursor = { buf, pos: eventStart + EVENT_HEADER_BYTES + 6 };
  const flags = buf.readUInt16LE(c.pos);
  c.pos += 2;
  if (kind.v2) c.pos += buf.readUInt16LE(c.pos);
  const columnCount = lengthCoded(c);
  if (columnCount !== readers.length) throw new Error(`a rows event has ${columnCount} columns and its table map ${readers.length}`);
  const bitmapBytes = (columnCount + 7) >> 3;
  const present = buf.subarray(c.pos, c.pos + bitmapBytes);
  c.pos += bitmapBytes;
  const presentAfter = kind.op === "update" ? buf.subarray(c.pos, c.pos + bitmapBytes) : present;
  if (kind.op === "update") c.pos += bitmapBytes;
  const end = packet.end - (checksum ? CHECKSUM_BYTES : 0);
  const rows: RowValues[] = [];
  const after: RowValues[] = [];
  while (c.pos < end) {
    rows.push(readRow(c, readers, present));
    if (kind.op === "update") after.push(readRow(c, readers, presentAfter));
  }
  if (c.pos !== end) throw new Error(`a rows event's values ran ${c.pos - end} bytes past its end: the table map does not describe its rows`);
  return { op: kind.op, flags, timestampMs: buf.readUInt32LE(eventStart) * 1000, rows, after: kind.op === "update" ? after : undefined };
}

/** One row image: a NULL bitmap over the columns present, then their non-NULL values (zongji's readRow). */
function readRow(c: Cursor, readers: readonly ValueReader[], present: Buffer): RowValues {
  let presentCount = 0;
  for (const byte of present) presentCount += BITS_SET[byte];
  const nulls = c.pos;
  c.pos += (presentCount + 7) >> 3;
  const row: unknown[] = new Array(readers.length);
  for (let i = 0, bit = 0; i < readers.length; i++) {
    if (!(present[i >> 3] & (1 << (i & 7)))) {
      row[i] = null;
      continue;
    }
    row[i] = c.buf[nulls + (bit >> 3)] & (1 << (bit & 7)) ? null : readers[i](c);
    bit++;
  }
  return row;
}

const BITS_SET = Array.from({ length: 256 }, (_, byte) => byte.toString(2).replace(/0/g, "").length);

function lengthCoded(c: Cursor): number {
  const first = c.buf[c.pos++];
  if (first < 251) return first;
  if (first === 251 || first === 255) throw new Error(`a rows event's column count is not a length-coded number (first byte ${first})`);
  const size = first === 252 ? 2 : first === 253 ? 3 : 8;
  const value = size === 8 ? Number(c.buf.readBigUInt64LE(c.pos)) : c.buf.readUIntLE(c.pos, size);
  c.pos += size;
  return value;
}

/**
 * The readers of a table's columns, or undefined when a column has a type not read here. `finish`
 * holds the reader's own last step for a column (binlog-reader.ts: TIME from its raw bytes, YEAR
 * 0000, SET as a bit mask), applied as it is to zongji's values.
 */
export function planReaders(columns: readonly ColumnInfo[], schemas: readonly ColumnSchema[], finish: readonly (((v: unknown) => unknown) | undefined)[]): ValueReader[] | undefined {
  const readers: ValueReader[] = [];
  for (let i = 0; i < columns.length; i++) {
    const read = columnReader(columns[i], schemas[i]);
    if (!read) return undefined;
    const done = finish[i];
    readers.push(done ? (c) => done(read(c)) : read);
  }
  return readers;
}

function columnReader(column: ColumnInfo, schema: ColumnSchema): ValueReader | undefined {
  const meta = column.metadata ?? {};
  const unsigned = schema.UNSIGNED ?? schema.COLUMN_TYPE.includes("unsigned");
  switch (column.type) {
    case T.TINY:
      return unsigned ? fixed(1, (b, p) => b.readUInt8(p)) : fixed(1, (b, p) => b.readInt8(p));
    case T.SHORT:
      return unsigned ? fixed(2, (b, p) => b.readUInt16LE(p)) : fixed(2, (b, p) => b.readInt16LE(p));
    case T.INT24:
      return unsigned ? fixed(3, (b, p) => b.readUIntLE(p, 3)) : fixed(3, (b, p) => b.readIntLE(p, 3));
    case T.LONG:
      return unsigned ? fixed(4, (b, p) => b.readUInt32LE(p)) : fixed(4, (b, p) => b.readInt32LE(p));
    case T.LONGLONG:
      return unsigned ? fixed(8, uint64) : fixed(8, int64);
    case T.FLOAT:
      return fixed(4, (b, p) => b.readFloatLE(p));
    case T.DOUBLE:
      return fixed(8, (b, p) => b.readDoubleLE(p));
    case T.NEWDECIMAL:
      return decimalReader(Number(meta.precision), Number(meta.decimals));
    case T.DATE:
      return fixed(3, (b, p) => {
        const v = b.readUIntLE(p, 3);
        return `${pad(v >> 9, 4)}-${pad((v >> 5) & 15, 2)}-${pad(v & 31, 2)}`;
      });
    case T.DATETIME2:
      return datetime2Reader(Number(meta.decimals ?? 0));
    case T.TIMESTAMP2:
      return timestamp2Reader(Number(meta.decimals ?? 0));
    case T.YEAR:
      // zongji adds 1900 to every value, 0 (year 0000) included.
      return fixed(1, (b, p) => b[p] + 1900);
    case T.ENUM: {
      // The reader's table map makes zongji return the member's index (ENUM_INDEXES).
      const size = Number(meta.size);
      return fixed(size, (b, p) => b.readUIntLE(p, size));
    }
    case T.SET: {
      // zongji returns the member bits as "0,3"; the reader's finishing step turns that into the
      // mask, so the bits are given in that form.
      const size = Number(meta.size);
      return fixed(size, (b, p) => setBits(size === 8 ? b.readBigUInt64LE(p) : BigInt(b.readUIntLE(p, size))));
    }
    case T.BIT: {
      const size = (Number(meta.bits) + 7) >> 3;
      return (c) => c.buf.subarray(c.pos, (c.pos += size));
    }
    // VAR_STRING, which zongji reads as UTF-8 text, does not occur in row images.
    case T.VARCHAR:
    case T.STRING:
      return stringReader(Number(meta.max_length), schema.COLUMN_TYPE);
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB: {
      // The reader's table map sets the charset of text BLOBs to null: zongji returns their bytes.
      if (column.charset !== null) return undefined;
      const lengthSize = Number(meta.length_size);
      return (c) => {
        const length = c.buf.readUIntLE(c.pos, lengthSize);
        c.pos += lengthSize;
        return c.buf.subarray(c.pos, (c.pos += length));
      };
    }
    default:
      return undefined;
  }
}

function fixed(size: number, read: (b: Buffer, p: number) => unknown): ValueReader {
  return (c) => {
    const value = read(c.buf, c.pos);
    c.pos += size;
    return value;
  };
}

/** Integers beyond Number's exact range come as exact decimal strings, as zongji gives them. */
function exactInteger(value: bigint): number | string {
  return value >= -MAX_SAFE && value <= MAX_SAFE ? Number(value) : value.toString();
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function uint64(b: Buffer, p: number): number | string {
  const high = b.readUInt32LE(p + 4);
  return high < 0x200000 ? high * 0x1_0000_0000 + b.readUInt32LE(p) : exactInteger(b.readBigUInt64LE(p));
}

function int64(b: Buffer, p: number): number | string {
  const high = b.readInt32LE(p + 4);
  return high >= -0x200000 && high < 0x200000 ? exactInteger(BigInt(high) * 0x1_0000_0000n + BigInt(b.readUInt32LE(p))) : exactInteger(b.readBigInt64LE(p));
}

function setBits(mask: bigint): string {
  const bits: number[] = [];
  for (let bit = 0; mask > 0n; bit++, mask >>= 1n) if (mask & 1n) bits.push(bit);
  return bits.join(",");
}

/**
 * A CHAR/VARCHAR/BINARY/VARBINARY value: a 1- or 2-byte length, then the bytes. The reader's
 * table map types text columns as varbinary, so every value here is its raw bytes; BINARY(n)
 * comes back padded to n with the zero bytes the row image strips, as zongji pads it. MariaDB's
 * UUID and INET types, which zongji formats, keep zongji's decoding.
 */
function stringReader(maxLength: number, columnType: string): ValueReader | undefined {
  const prefix = maxLength > 255 ? 2 : 1;
  const binaryWidth = /^binary\((\d+)\)/.exec(columnType);
  if (!binaryWidth && !/^(varbin|vector)/.test(columnType)) return undefined;
  const width = binaryWidth ? Number(binaryWidth[1]) : 0;
  return (c) => {
    const length = prefix === 1 ? c.buf[c.pos] : c.buf.readUInt16LE(c.pos);
    c.pos += prefix;
    const bytes = c.buf.subarray(c.pos, (c.pos += length));
    if (!width) return bytes;
    const padded = Buffer.alloc(width);
    bytes.copy(padded);
    return padded;
  };
}

/** Bytes of a DECIMAL's digit groups by number of leftover digits (strings/decimal.c, dig2bytes). */
const DECIMAL_GROUP_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const DIGITS_PER_GROUP = 9;

/**
 * DECIMAL(precision, scale) in its binary form: big-endian groups of 9 digits, the sign in the
 * top bit (inverted), negative numbers with every bit flipped. Written as zongji writes it:
 * no leading zeros, exactly `scale` decimals.
 */
function decimalReader(precision: number, scale: number): ValueReader {
  const intDigits = precision - scale;
  const intLead = intDigits % DIGITS_PER_GROUP;
  const intGroups = (intDigits - intLead) / DIGITS_PER_GROUP;
  const fracTail = scale % DIGITS_PER_GROUP;
  const fracGroups = (scale - fracTail) / DIGITS_PER_GROUP;
  const size = DECIMAL_GROUP_BYTES[intLead] + intGroups * 4 + fracGroups * 4 + DECIMAL_GROUP_BYTES[fracTail];
  return (c) => {
    const start = c.pos;
    c.pos += size;
    const positive = (c.buf[start] & 0x80) !== 0;
    const mask = positive ? 0 : 0xff;
    // The group at `at` of `bytes` bytes, sign bit restored and bits unflipped.
    const group = (at: number, bytes: number) => {
      let value = 0;
      for (let i = 0; i < bytes; i++) {
        let byte = c.buf[start + at + i] ^ mask;
        if (at + i === 0) byte ^= 0x80;
        value = value * 256 + byte;
      }
      return value;
    };
    let at = 0;
    let integer = "";
    if (DECIMAL_GROUP_BYTES[intLead]) {
      integer += group(0, DECIMAL_GROUP_BYTES[intLead]);
      at += DECIMAL_GROUP_BYTES[intLead];
    }
    for (let g = 0; g < intGroups; g++, at += 4) integer += pad(group(at, 4), DIGITS_PER_GROUP);
    integer = integer.replace(/^0+(?=\d)/, "") || "0";
    let fraction = "";
    for (let g = 0; g < fracGroups; g++, at += 4) fraction += pad(group(at, 4), DIGITS_PER_GROUP);
    if (fracTail) fraction += pad(group(at, DECIMAL_GROUP_BYTES[fracTail]), fracTail);
    return `${positive ? "" : "-"}${integer}${scale > 0 ? `.${fraction}` : ""}`;
  };
}

/** Bytes of the fractional part of TIME2/DATETIME2/TIMESTAMP2 per number of decimals. */
export const FRACTION_BYTES = [0, 1, 1, 2, 2, 3, 3];

/** ".ffffff" with `decimals` digits, stored big-endian in 1 to 3 bytes (an odd count stores one digit more). */
function fraction(b: Buffer, p: number, decimals: number): string {
  if (!decimals) return "";
  const value = b.readUIntBE(p, FRACTION_BYTES[decimals]);
  return `.${pad(decimals % 2 ? value / 10 : value, decimals)}`;
}

/**
 * DATETIME2: 40 bits big-endian (sign, year * 13 + month in 17 bits, day 5, hour 5, minute 6,
 * second 6), then the fraction; written "YYYY-MM-DD hh:mm:ss[.f]".
 */
function datetime2Reader(decimals: number): ValueReader {
  const size = 5 + FRACTION_BYTES[decimals];
  return fixed(size, (b, p) => {
    const high = b.readUIntBE(p, 3);
    const low = b.readUInt16BE(p + 3);
    const yearMonth = (high >> 6) & 0x1ffff;
    const day = (high >> 1) & 31;
    const hour = ((high & 1) << 4) | (low >> 12);
    return `${pad(Math.floor(yearMonth / 13), 4)}-${pad(yearMonth % 13, 2)}-${pad(day, 2)} ${pad(hour, 2)}:${pad((low >> 6) & 63, 2)}:${pad(low & 63, 2)}${fraction(b, p + 5, decimals)}`;
  });
}

/** TIMESTAMP2: seconds since the epoch, 4 bytes big-endian, then the fraction; written in UTC ('0000-00-00 00:00:00' for 0). */
function timestamp2Reader(decimals: number): ValueReader {
  const size = 4 + FRACTION_BYTES[decimals];
  return fixed(size, (b, p) => {
    const seconds = b.readUInt32BE(p);
    const frac = fraction(b, p + 4, decimals);
    if (seconds === 0 && !/[1-9]/.test(frac)) return `0000-00-00 00:00:00${frac}`;
    const d = new Date(seconds * 1000);
    return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${frac}`;
  });
}

/** `n` in decimal with leading zeros to `digits` digits. */
export function pad(n: number | bigint, digits: number): string {
  return String(n).padStart(digits, "0");
}
