/**
 * Repair: rewrites rows of the DR server from the master's copy. Keyed tables row by row (delete
 * the DR's row with that key, insert the master's, if it has one); keyless tables by row hash
 * (delete the DR's surplus copies, insert the master's missing ones). Rows are written in wire
 * text (exact bytes), with foreign_key_checks off: the master's copy decides. Used by the live
 * verification and by the barrier one (where the master is read in its snapshot and the link is
 * held, so the rows written are exactly the ones the DR server must hold there).
 */
import { type Connection, DATA_QUERY_TIMEOUT_MS, openWireConnection, quoteId, quoteTable, wire } from "../core/db";
import type { ServerAddress } from "../core/connection-url";
import type { Flavor } from "../core/flavor";
import { writeAsLink } from "../dr-state/link-writer";
import { PLAIN, literal, wireId, wireTable } from "../sql/literals";
import { exactRead } from "../sql/row-reads";
import { insertStatements } from "../sql/statements";
import { diffCounts, keyIn } from "./differences";
import { type HashedTable, hashCountsSql, rowHashSql } from "./row-hash";

/**
 * A session that writes repaired rows to the DR server: wire text, several statements, foreign keys
 * unchecked; with `asLink`, its commits are the link's own (dr-state/link-writer.ts), not errant ones.
 */
export async function openRepairWriter(target: ServerAddress, asLink?: { link: string; flavor: Flavor }): Promise<Connection> {
  const writer = await openWireConnection(target, "target", { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS, multipleStatements: true });
  try {
    if (asLink) await writeAsLink(writer, asLink.link, asLink.flavor);
    await writer.query("SET SESSION foreign_key_checks = 0");
    return writer;
  } catch (err) {
    writer.destroy();
    throw err;
  }
}

/** `INSERT INTO t (stored columns) VALUES ` in wire text. */
function insertPrefix(t: HashedTable): string {
  return `INSERT INTO ${wireTable(t.db, t.table)} (${t.columns.map((c) => wireId(c.name)).join(", ")}) VALUES `;
}

/** Gives the rows with these keys on the DR server the master's content (or removes them), in one transaction. Returns the keys rewritten. */
export async function rewriteRows(master: Connection, writer: Connection, t: HashedTable, keys: unknown[][]): Promise<number> {
  const read = exactRead(t.columns);
  const insert = insertPrefix(t);
  let changed = 0;
  await writer.query("START TRANSACTION");
  for (const key of keys) {
    const where = keyIn(t.key!, [key]);
    const [rows] = await master.query({ sql: `SELECT ${read.select.join(", ")} FROM ${quoteTable(t.db, t.table)} WHERE ${where.sql}`, values: where.params, rowsAsArray: true });
    const match = t.key!.map((k, i) => `${wireId(k)} = ${literal(key[i], PLAIN)}`).join(" AND ");
    await writer.query(`DELETE FROM ${wireTable(t.db, t.table)} WHERE ${match} /* mysql-dr repair */`);
    for (const sql of insertStatements(insert, read.kinds, rows as unknown[][])) await writer.query(sql);
    changed++;
  }
  await writer.query("COMMIT");
  return changed;
}

/** Makes a keyless table's rows on the DR server the same multiset as the master's, in one transaction. Returns the rows changed. */
export async function repairKeylessTable(master: Connection, dr: Connection, writer: Connection, t: HashedTable): Promise<number> {
  const [m, d] = await Promise.all([master.query(hashCountsSql(t)), dr.query(hashCountsSql(t))]);
  const read = exactRead(t.columns);
  let changed = 0;
  await writer.query("START TRANSACTION");
  for (const x of diffCounts(m[0] as Record<string, unknown>[], d[0] as Record<string, unknown>[])) {
    const n = Math.abs(x.master - x.dr);
    if (x.dr > x.master) {
      await writer.query(wire(`DELETE FROM ${quoteTable(t.db, t.table)} WHERE ${rowHashSql(t)} = ? LIMIT ${n} /* mysql-dr repair */`), [x.hash]);
    } else {
      const row = await rowWithHash(master, t, x.hash, read.select);
      for (const sql of insertStatements(insertPrefix(t), read.kinds, Array(n).fill(row))) await writer.query(sql);
    }
    changed += n;
  }
  await writer.query("COMMIT");
  return changed;
}

/** One row whose hash is `hash` (its stored columns, or `select`). */
export async function rowWithHash(conn: Connection, t: HashedTable, hash: string, select = t.columns.map((c) => quoteId(c.name))): Promise<unknown[]> {
  const [rows] = await conn.query({ sql: `SELECT ${select.join(", ")} FROM ${quoteTable(t.db, t.table)} WHERE ${rowHashSql(t)} = ? LIMIT 1`, values: [hash], rowsAsArray: true });
  return (rows as unknown[][])[0] ?? [];
}
