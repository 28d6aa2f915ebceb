/**
 * The chunks of a keyed table, checksummed on the master and the DR server at once: shared by the
 * live and the barrier verifier, which differ only in what a mismatch means.
 *
 * Where the key allows it (one column whose MAX() orders as ORDER BY does), a chunk costs one query
 * on each server: the checksum of the next `rows` rows in key order together with the last key among
 * them, which is where the next chunk starts. Both servers run the same query, so the DR does not
 * wait for a boundary the master computed first, and each row's hash is computed once (the rows are
 * materialized by the LIMIT; a merged derived table would evaluate it once per aggregate). Other
 * keys read the bound on the master first, then checksum the range on both.
 *
 * A large table is cut into segments (key ranges) that several sessions walk at once.
 */
import { type Connection, quoteId, quoteTable } from "../core/db";
import { sameChecksum } from "./differences";
import { type HashedTable, boundarySql, chunkChecksumSql, keyRange, rowHashSql } from "./row-hash";

export interface ServerPair {
  master: Connection;
  dr: Connection;
}

export interface KeyRange {
  sql: string;
  params: unknown[];
}

/** Keys after `lo` up to and including `hi` of one table (null: unbounded on that side). */
export interface Segment {
  table: HashedTable;
  lo: unknown[] | null;
  hi: unknown[] | null;
}

export interface Chunk {
  /** The chunk's keys as the master had them: what a recheck or a drill-down reads. */
  range: KeyRange;
  /** The chunk's last key on the master, where the next chunk starts; null when the segment ends with this chunk. */
  last: unknown[] | null;
  /** The master's checksum row: cnt, total, xored. */
  master: Record<string, unknown>;
  /** Both servers returned the same checksum for the chunk. */
  agreed: boolean;
}

/** Key types whose MAX() is the last row in ORDER BY (not ENUM/SET, which MAX() compares as text; not floats). */
const FOLDABLE_KEY_TYPES = new Set(["tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "date", "datetime", "timestamp", "time", "year", "char", "varchar", "binary", "varbinary"]);

/**
 * The table as `count` segments of about equal rows (fewer for a small table), by the server's row
 * estimate; bounds are read on the master with one pass over the key. Each segment holds a whole
 * number of chunks, so the chunks are the same however many segments there are (a barrier proof
 * lists them).
 */
export async function segmentsOf(master: Connection, t: HashedTable, count: number, chunkRows: number): Promise<Segment[]> {
  if (!t.key || count <= 1) return [{ table: t, lo: null, hi: null }];
  const [estimate] = await master.query("SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", [t.db, t.table]);
  const rows = Number((estimate as { n: unknown }[])[0]?.n ?? 0);
  const parts = Math.min(count, Math.floor(rows / (chunkRows * 2)));
  if (parts <= 1) return [{ table: t, lo: null, hi: null }];
  const step = Math.ceil(rows / parts / chunkRows) * chunkRows;
  const segments: Segment[] = [];
  let lo: unknown[] | null = null;
  for (let i = 1; i < parts; i++) {
    const after = keyRange(t.key, lo, null);
    const [bound] = await master.query({ sql: boundarySql(t, after.sql, step), values: after.params, rowsAsArray: true });
    const hi = (bound as unknown[][])[0] ?? null;
    if (hi === null) break;
    segments.push({ table: t, lo, hi });
    lo = hi;
  }
  segments.push({ table: t, lo, hi: null });
  return segments;
}

/** Every chunk of a segment, in key order, each compared on both servers at once. */
export async function* chunksOf(pair: ServerPair, segment: Segment, rows: number): AsyncGenerator<Chunk> {
  const fold = foldable(segment.table);
  for (let lo = segment.lo; ;) {
    const chunk = fold ? await foldedChunk(pair, segment, lo, rows) : await boundedChunk(pair, segment, lo, rows);
    yield chunk;
    if (chunk.last === null || (segment.hi !== null && sameKeys(chunk.last, segment.hi))) return;
    lo = chunk.last;
  }
}

function foldable(t: HashedTable): boolean {
  if (t.key?.length !== 1) return false;
  const column = t.columns.find((c) => c.name === t.key![0]);
  return column !== undefined && FOLDABLE_KEY_TYPES.has(column.type);
}

async function foldedChunk(pair: ServerPair, segment: Segment, lo: unknown[] | null, rows: number): Promise<Chunk> {
  const t = segment.table;
  const key = quoteId(t.key![0]);
  const where = keyRange(t.key!, lo, segment.hi);
  const sql = `SELECT COUNT(*) AS cnt, MAX(chunk_key) AS last_key, COALESCE(SUM(row_hash), 0) AS total, COALESCE(BIT_XOR(row_hash), 0) AS xored FROM (SELECT ${key} AS chunk_key, ${rowHashSql(t)} AS row_hash FROM ${quoteTable(t.db, t.table)} WHERE ${where.sql} ORDER BY ${key} LIMIT ${rows}) AS rows_in_chunk /* mysql-dr verify */`;
  const [m, d] = await bothAtOnce(pair, sql, where.params);
  // A full chunk ends at its last key; a short one is the rest of the segment.
  const last = Number(m.cnt) === rows ? [m.last_key] : null;
  const range = last ? keyRange(t.key!, lo, last) : where;
  return { range, last, master: m, agreed: sameChecksum(m, d) && sameKey(m.last_key, d.last_key) };
}

async function boundedChunk(pair: ServerPair, segment: Segment, lo: unknown[] | null, rows: number): Promise<Chunk> {
  const t = segment.table;
  const after = keyRange(t.key!, lo, segment.hi);
  const [bound] = await pair.master.query({ sql: boundarySql(t, after.sql, rows), values: after.params, rowsAsArray: true });
  const last = (bound as unknown[][])[0] ?? null;
  const range = last ? keyRange(t.key!, lo, last) : after;
  const [m, d] = await bothAtOnce(pair, chunkChecksumSql(t, range.sql), range.params);
  return { range, last, master: m, agreed: sameChecksum(m, d) };
}

async function bothAtOnce(pair: ServerPair, sql: string, params: unknown[]): Promise<[Record<string, unknown>, Record<string, unknown>]> {
  const [[m], [d]] = await Promise.all([pair.master.query(sql, params), pair.dr.query(sql, params)]);
  return [(m as Record<string, unknown>[])[0], (d as Record<string, unknown>[])[0]];
}

function sameKeys(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => sameKey(v, b[i]));
}

/** Key values as the sessions return them: binary as Buffers, everything else as text or numbers (core/db: dateStrings). */
function sameKey(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  return String(a) === String(b);
}
