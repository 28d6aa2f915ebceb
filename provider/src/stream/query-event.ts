/**
 * A Query event decoded from its raw bytes: the statement exactly as the master logged it (in the
 * client's character set), its default database and its session context. Layout (MySQL and
 * MariaDB): after the 19-byte common header, thread id (4), execution time (4), database name
 * length (1), error code (2), status variables length (2), the status variables, the database
 * name and a NUL, then the statement up to the event's end (and its CRC32, when checksums are on).
 */
import * as zlib from "node:zlib";
import * as iconv from "iconv-lite";
import { type SessionContext, parseStatusVars } from "./session-context";

const COMMON_HEADER_BYTES = 19;
const POST_HEADER_BYTES = 13;
const CHECKSUM_BYTES = 4;
const QUERY_EVENT = 2;
/** MariaDB log_bin_compress=ON: the statement is a compressed envelope. */
const QUERY_COMPRESSED_EVENT = 0xa5;

export interface DecodedQuery {
  schema: string;
  raw: Buffer;
  context: SessionContext;
}

/** `event`: from the common header to the event's end (checksum included when `checksum`). */
export function decodeQueryEvent(event: Buffer, checksum: boolean): DecodedQuery {
  const type = event[4];
  if (type !== QUERY_EVENT && type !== QUERY_COMPRESSED_EVENT) throw new Error(`not a Query event (type ${type})`);
  const eventSize = event.readUInt32LE(9);
  const end = Math.min(event.length, eventSize) - (checksum ? CHECKSUM_BYTES : 0);
  const post = COMMON_HEADER_BYTES;
  const schemaLength = event[post + 8];
  const statusLength = event.readUInt16LE(post + 11);
  const statusStart = post + POST_HEADER_BYTES;
  const schemaStart = statusStart + statusLength;
  const queryStart = schemaStart + schemaLength + 1;
  if (queryStart > end) throw new Error("truncated Query event");
  const statement = event.subarray(queryStart, end);
  return {
    schema: event.toString("utf8", schemaStart, schemaStart + schemaLength),
    raw: Buffer.from(type === QUERY_COMPRESSED_EVENT ? inflateEnvelope(statement) : statement),
    context: parseStatusVars(event.subarray(statusStart, schemaStart), event.readUInt32LE(0)),
  };
}

/** MariaDB's compressed payload: a header byte (0x80 | algorithm << 4 | length bytes), the length, zlib data. */
function inflateEnvelope(envelope: Buffer): Buffer {
  const header = envelope[0];
  const lengthBytes = header & 0x07;
  if ((header & 0x80) === 0 || (header & 0x70) !== 0 || lengthBytes < 1 || lengthBytes > 4) {
    throw new Error(`unknown compressed Query event header 0x${header.toString(16)}`);
  }
  return zlib.inflateSync(envelope.subarray(1 + lengthBytes));
}

/**
 * The statement as text, for recognizing what it touches: decoded from the client character set
 * the master recorded (`charsetOf` maps a collation id to its character set name).
 */
export function statementText(raw: Buffer, context: SessionContext, charsetOf: (collationId: number) => string | undefined): string {
  const charset = context.charset ? charsetOf(context.charset.client) : "utf8mb4";
  return iconv.decode(raw, iconvName(charset ?? "utf8mb4"));
}

/** MySQL's latin1 is Windows-1252; the utf8 family decodes as UTF-8; unknown sets fall back to latin1. */
function iconvName(charset: string): string {
  if (/^utf8/.test(charset)) return "utf8";
  if (charset === "latin1") return "cp1252";
  if (charset === "binary") return "latin1";
  return iconv.encodingExists(charset) ? charset : "latin1";
}
