/**
 * `mysql-dr verify`: compares the selected tables of a master and its DR copy chunk by chunk with
 * checksums computed on each server, drills mismatched chunks down to rows, and optionally
 * repairs them from the master. Correct while a link runs and the master takes writes: each
 * comparison waits until the DR server has applied what the master had when it was read, and a
 * difference counts only if it survives several such rounds, so rows that are merely behind are
 * never reported.
 */
import { listSelectedTables } from "../catalog/selected-tables";
import { readTableShape } from "../catalog/table-shape";
import type { ServerAddress } from "../core/connection-url";
import { type Connection, DATA_QUERY_TIMEOUT_MS, openConnection, openWireConnection, quoteId, quoteTable, wire } from "../core/db";
import type { Flavor } from "../core/flavor";
import { gtidCovers } from "../core/gtid";
import { ObjectFilter, type ObjectSelection } from "../core/object-filter";
import { currentGtidPosition, inspectServer } from "../core/server-inspector";
import { writeAsLink } from "../dr-state/link-writer";
import { PLAIN, literal, wireId, wireTable } from "../sql/literals";
import { exactRead } from "../sql/row-reads";
import { insertStatements } from "../sql/statements";
import { type HashedTable, boundarySql, chunkChecksumSql, chunkRowsSql, hashCountsSql, keyRange, rowHashSql } from "./row-hash";

/** Checksums of whole chunks (and of keyless tables) take longer than control statements. */
const DATA_SESSION = { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS };

export const VERIFY_CHUNK_ROWS = 10_000;
/** Tables compared at once: the work is on the servers, so a few sessions keep both busy. */
export const DEFAULT_VERIFY_PARALLELISM = 4;
/** Rounds a difference must survive (each after the DR caught up with the master's read). */
export const RECHECK_ROUNDS = 5;
const RECHECK_DELAY_MS = 200;
/** How long one comparison waits for the DR server to apply what the master had. */
export const CATCH_UP_WAIT_MS = 15_000;
const POSITION_POLL_MS = 50;
/** A link whose checkpoint moved this recently is running (heartbeats move it every 250 ms). */
const LIVE_LINK_SECONDS = 30;
export const DIFFERENCES_SHOWN = 20;

export interface VerifyOptions {
  source: ServerAddress;
  target: ServerAddress;
  objects: ObjectSelection;
  repair?: boolean;
  parallelism?: number;
  chunkRows?: number;
  /** Master GTIDs applied on the DR server; default: read from its mysql_dr.checkpoint rows for this master. */
  appliedPosition?: () => Promise<string | undefined>;
  /** The link whose copy this is: repairs are written as its writes (see dr-state/link-writer.ts). */
  link?: string;
}

export interface TableReport {
  table: string;
  keyless: boolean;
  rowsCompared: number;
  chunks: number;
  chunksMismatched: number;
  /** Keys (the whole row for a keyless table) of rows the DR lacks, has in excess, or has different. */
  missingOnDr: unknown[][];
  extraOnDr: unknown[][];
  different: unknown[][];
  /** Differences beyond the ones listed. */
  moreDifferences: number;
  rowsRepaired: number;
}

export interface VerifyReport {
  identical: boolean;
  tables: TableReport[];
  rowsCompared: number;
  rowsPerSecond: number;
  durationMs: number;
  repaired: boolean;
  /** True when some comparison could not wait for the DR to catch up (no running link): differences may be lag. */
  catchUpTimedOut: boolean;
}

interface Session {
  master: Connection;
  dr: Connection;
}

interface Difference {
  kind: "missingOnDr" | "extraOnDr" | "different";
  key: unknown[];
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const v = await Verifier.open(o);
  try {
    let reports = await v.compareAll(await v.tables());
    if (o.repair && reports.some(hasDifferences)) {
      const repaired = await v.repair(reports);
      reports = await v.compareAll(reports.map((r) => v.tableByName(r.table)!));
      for (const r of reports) r.rowsRepaired = repaired.get(r.table) ?? 0;
    }
    const rowsCompared = reports.reduce((n, r) => n + r.rowsCompared, 0);
    const durationMs = Date.now() - started;
    return {
      identical: !reports.some(hasDifferences),
      tables: reports,
      rowsCompared,
      rowsPerSecond: Math.round(rowsCompared / Math.max(0.001, durationMs / 1000)),
      durationMs,
      repaired: o.repair === true,
      catchUpTimedOut: v.catchUpTimedOut,
    };
  } finally {
    await v.close();
  }
}

/** `INSERT INTO t (stored columns) VALUES ` in wire text. */
function insertPrefix(t: HashedTable): string {
  return `INSERT INTO ${wireTable(t.db, t.table)} (${t.columns.map((c) => wireId(c.name)).join(", ")}) VALUES `;
}

function hasDifferences(r: TableReport): boolean {
  return r.missingOnDr.length + r.extraOnDr.length + r.different.length + r.moreDifferences > 0;
}

class Verifier {
  catchUpTimedOut = false;
  private readonly sessions: Session[] = [];
  private hashed: HashedTable[] = [];

  private constructor(private readonly o: VerifyOptions, private readonly flavor: Flavor, private readonly masterIdentity: string) {}

  static async open(o: VerifyOptions): Promise<Verifier> {
    const master = await openConnection(o.source, "source", DATA_SESSION);
    const dr = await openConnection(o.target, "target", DATA_SESSION).catch(async (err) => {
      master.destroy();
      throw err;
    });
    const facts = await inspectServer(master);
    const v = new Verifier(o, facts.flavor, facts.identity);
    v.sessions.push({ master, dr });
    for (let i = 1; i < Math.max(1, o.parallelism ?? DEFAULT_VERIFY_PARALLELISM); i++) {
      v.sessions.push({ master: await openConnection(o.source, "source", DATA_SESSION), dr: await openConnection(o.target, "target", DATA_SESSION) });
    }
    return v;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) {
      s.master.destroy();
      s.dr.destroy();
    }
  }

  async tables(): Promise<HashedTable[]> {
    const { master } = this.sessions[0];
    const selected = await listSelectedTables(master, new ObjectFilter(this.o.objects), this.flavor);
    this.hashed = [];
    for (const t of selected) {
      const shape = await readTableShape(master, t.db, t.table, this.flavor);
      this.hashed.push({ db: t.db, table: t.table, columns: shape.columns.filter((c) => !c.generated), key: shape.key ?? null });
    }
    return this.hashed;
  }

  tableByName(name: string): HashedTable | undefined {
    return this.hashed.find((t) => `${t.db}.${t.table}` === name);
  }

  /** Tables spread over the sessions, each session one table at a time. */
  async compareAll(tables: HashedTable[]): Promise<TableReport[]> {
    const reports = new Map<HashedTable, TableReport>();
    const queue = [...tables];
    await Promise.all(this.sessions.map(async (s) => {
      for (let t = queue.shift(); t; t = queue.shift()) reports.set(t, t.key ? await this.compareKeyed(s, t) : await this.compareKeyless(s, t));
    }));
    return tables.map((t) => reports.get(t)!);
  }

  private async compareKeyed(s: Session, t: HashedTable): Promise<TableReport> {
    const report = emptyReport(t);
    const chunkRows = this.o.chunkRows ?? VERIFY_CHUNK_ROWS;
    const differences: Difference[] = [];
    let lo: unknown[] | null = null;
    for (;;) {
      const after = keyRange(t.key!, lo, null);
      const [boundary] = await s.master.query({ sql: boundarySql(t, after.sql, chunkRows), values: after.params, rowsAsArray: true });
      const hi = (boundary as unknown[][])[0] ?? null;
      const range = keyRange(t.key!, lo, hi);
      report.chunks++;
      const rows = await this.until(async (round) => {
        const [m, d] = round === 0 ? await this.bothAtOnce(s, chunkChecksumSql(t, range.sql), range.params) : await this.both(s, chunkChecksumSql(t, range.sql), range.params);
        return sameChecksum(m[0], d[0]) ? Number(m[0].cnt) : undefined;
      });
      if (rows !== undefined) {
        report.rowsCompared += rows;
      } else {
        report.chunksMismatched++;
        const found = await this.drillDown(s, t, range);
        report.rowsCompared += found.rows;
        differences.push(...found.differences);
      }
      if (hi === null) break;
      lo = hi;
    }
    return withDifferences(report, differences);
  }

  /** Rows of a mismatched chunk: compare hashes by key, then recheck the suspects until they settle. */
  private async drillDown(s: Session, t: HashedTable, range: { sql: string; params: unknown[] }): Promise<{ rows: number; differences: Difference[] }> {
    const [m, d] = await this.bothArrays(s, chunkRowsSql(t, range.sql), range.params);
    let suspects = diffByKey(m, d, t.key!.length).map((x) => x.key);
    let last: Difference[] = [];
    for (let round = 0; round < RECHECK_ROUNDS && suspects.length; round++) {
      if (round) await sleep(RECHECK_DELAY_MS);
      const where = keyIn(t.key!, suspects);
      const [mr, dr] = await this.bothArrays(s, chunkRowsSql(t, where.sql), where.params);
      last = diffByKey(mr, dr, t.key!.length);
      suspects = last.map((x) => x.key);
    }
    return { rows: m.length, differences: last };
  }

  private async compareKeyless(s: Session, t: HashedTable): Promise<TableReport> {
    const report = emptyReport(t);
    report.chunks = 1;
    let diff: { hash: string; master: number; dr: number }[] = [];
    const rows = await this.until(async (round) => {
      const [m, d] = round === 0 ? await this.bothAtOnce(s, hashCountsSql(t), []) : await this.both(s, hashCountsSql(t), []);
      diff = diffCounts(m, d);
      return diff.length ? undefined : m.reduce((n, r) => n + Number(r.n), 0);
    });
    if (rows !== undefined) {
      report.rowsCompared = rows;
      return report;
    }
    report.chunksMismatched = 1;
    const [counts] = await s.master.query(`SELECT COUNT(*) AS n FROM ${quoteTable(t.db, t.table)}`);
    report.rowsCompared = Number((counts as { n: string }[])[0].n);
    const differences: Difference[] = [];
    for (const x of diff) {
      const sample = await this.rowWithHash(x.master > x.dr ? s.master : s.dr, t, x.hash);
      for (let i = 0; i < Math.abs(x.master - x.dr); i++) differences.push({ kind: x.master > x.dr ? "missingOnDr" : "extraOnDr", key: sample });
    }
    return withDifferences(report, differences);
  }

  /** Rewrites the differing rows on the DR server from the master. Returns rows changed per table. */
  async repair(reports: TableReport[]): Promise<Map<string, number>> {
    const { master, dr } = this.sessions[0];
    // Rows are written in wire text (exact bytes); the master's copy decides, foreign keys or not.
    const writer = await openWireConnection(this.o.target, "target", { ...DATA_SESSION, multipleStatements: true });
    try {
      // A link's repair restores the master's rows: written under the DR server's own server_id it
      // would count as an errant transaction and block every promotion after it.
      if (this.o.link !== undefined) await writeAsLink(writer, this.o.link, this.flavor);
      await writer.query("SET SESSION foreign_key_checks = 0");
      const changed = new Map<string, number>();
      for (const r of reports) {
        const t = this.tableByName(r.table)!;
        const rows = t.key ? await this.repairKeyed({ master, dr }, writer, t) : await this.repairKeyless(master, dr, writer, t);
        changed.set(r.table, rows);
      }
      return changed;
    } finally {
      writer.destroy();
    }
  }

  private async repairKeyed(s: Session, writer: Connection, t: HashedTable): Promise<number> {
    // The reports list at most DIFFERENCES_SHOWN keys: find all of them again, chunk by chunk.
    const full = await this.compareKeyedAllDifferences(s, t);
    const read = exactRead(t.columns);
    const insert = insertPrefix(t);
    let changed = 0;
    await writer.query("START TRANSACTION");
    for (const d of full) {
      const where = keyIn(t.key!, [d.key]);
      const [rows] = await s.master.query({ sql: `SELECT ${read.select.join(", ")} FROM ${quoteTable(t.db, t.table)} WHERE ${where.sql}`, values: where.params, rowsAsArray: true });
      const match = t.key!.map((k, i) => `${wireId(k)} = ${literal(d.key[i], PLAIN)}`).join(" AND ");
      await writer.query(`DELETE FROM ${wireTable(t.db, t.table)} WHERE ${match} /* mysql-dr repair */`);
      for (const sql of insertStatements(insert, read.kinds, rows as unknown[][])) await writer.query(sql);
      changed++;
    }
    await writer.query("COMMIT");
    return changed;
  }

  private async compareKeyedAllDifferences(s: Session, t: HashedTable): Promise<Difference[]> {
    const all: Difference[] = [];
    let lo: unknown[] | null = null;
    for (;;) {
      const after = keyRange(t.key!, lo, null);
      const [boundary] = await s.master.query({ sql: boundarySql(t, after.sql, this.o.chunkRows ?? VERIFY_CHUNK_ROWS), values: after.params, rowsAsArray: true });
      const hi = (boundary as unknown[][])[0] ?? null;
      const range = keyRange(t.key!, lo, hi);
      const [m, d] = await this.both(s, chunkChecksumSql(t, range.sql), range.params);
      if (!sameChecksum(m[0], d[0])) all.push(...(await this.drillDown(s, t, range)).differences);
      if (hi === null) return all;
      lo = hi;
    }
  }

  private async repairKeyless(master: Connection, dr: Connection, writer: Connection, t: HashedTable): Promise<number> {
    const [m, d] = await Promise.all([master.query(hashCountsSql(t)), dr.query(hashCountsSql(t))]);
    const read = exactRead(t.columns);
    let changed = 0;
    await writer.query("START TRANSACTION");
    for (const x of diffCounts(m[0] as Record<string, unknown>[], d[0] as Record<string, unknown>[])) {
      const n = Math.abs(x.master - x.dr);
      if (x.dr > x.master) {
        await writer.query(wire(`DELETE FROM ${quoteTable(t.db, t.table)} WHERE ${rowHashSql(t)} = ? LIMIT ${n} /* mysql-dr repair */`), [x.hash]);
      } else {
        const row = await this.rowWithHash(master, t, x.hash, read.select);
        for (const sql of insertStatements(insertPrefix(t), read.kinds, Array(n).fill(row))) await writer.query(sql);
      }
      changed += n;
    }
    await writer.query("COMMIT");
    return changed;
  }

  private async rowWithHash(conn: Connection, t: HashedTable, hash: string, select = t.columns.map((c) => quoteId(c.name))): Promise<unknown[]> {
    const [rows] = await conn.query({ sql: `SELECT ${select.join(", ")} FROM ${quoteTable(t.db, t.table)} WHERE ${rowHashSql(t)} = ? LIMIT 1`, values: [hash], rowsAsArray: true });
    return (rows as unknown[][])[0] ?? [];
  }

  /**
   * Runs `attempt` until it returns a value, at most RECHECK_ROUNDS times. The first round
   * compares both servers at once (most chunks agree); later rounds wait for the DR to catch up.
   */
  private async until<T>(attempt: (round: number) => Promise<T | undefined>): Promise<T | undefined> {
    for (let round = 0; round < RECHECK_ROUNDS; round++) {
      if (round > 1) await sleep(RECHECK_DELAY_MS * round);
      const result = await attempt(round);
      if (result !== undefined) return result;
    }
    return undefined;
  }

  /** The same query on both servers at the same time: equal results need no waiting. */
  private async bothAtOnce(s: Session, sql: string, params: unknown[]): Promise<[Record<string, unknown>[], Record<string, unknown>[]]> {
    const [[m], [d]] = await Promise.all([s.master.query(sql, params), s.dr.query(sql, params)]);
    return [m as Record<string, unknown>[], d as Record<string, unknown>[]];
  }

  /** The same query on both servers: the master first, then the DR once it has applied what the master had. */
  private async both(s: Session, sql: string, params: unknown[]): Promise<[Record<string, unknown>[], Record<string, unknown>[]]> {
    const [m] = await s.master.query(sql, params);
    await this.waitForDr(s.master);
    const [d] = await s.dr.query(sql, params);
    return [m as Record<string, unknown>[], d as Record<string, unknown>[]];
  }

  private async bothArrays(s: Session, sql: string, params: unknown[]): Promise<[unknown[][], unknown[][]]> {
    const [m] = await s.master.query({ sql, values: params, rowsAsArray: true });
    await this.waitForDr(s.master);
    const [d] = await s.dr.query({ sql, values: params, rowsAsArray: true });
    return [m as unknown[][], d as unknown[][]];
  }

  private async waitForDr(master: Connection): Promise<void> {
    if (this.catchUpTimedOut) return;
    const wanted = await currentGtidPosition(master, this.flavor);
    const deadline = Date.now() + CATCH_UP_WAIT_MS;
    for (;;) {
      const applied = await (this.o.appliedPosition ?? (() => this.checkpointPosition()))();
      if (applied === undefined) return;
      if (gtidCovers(this.flavor, applied, wanted)) return;
      if (Date.now() > deadline) {
        this.catchUpTimedOut = true;
        return;
      }
      await sleep(POSITION_POLL_MS);
    }
  }

  /**
   * The furthest position among the DR server's live links from this master (a running link
   * records progress at least with every heartbeat); undefined when none runs.
   */
  private async checkpointPosition(): Promise<string | undefined> {
    try {
      const [rows] = await this.sessions[0].dr.query(
        `SELECT source_gtid FROM mysql_dr.checkpoint WHERE source_identity = ? AND fenced = 0 AND updated_at > NOW(6) - INTERVAL ${LIVE_LINK_SECONDS} SECOND`,
        [this.masterIdentity],
      );
      const positions = (rows as { source_gtid: string }[]).map((r) => r.source_gtid);
      if (!positions.length) return undefined;
      return positions.reduce((best, p) => (gtidCovers(this.flavor, p, best) ? p : best));
    } catch (err) {
      if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049) return undefined;
      throw err;
    }
  }
}

function emptyReport(t: HashedTable): TableReport {
  return { table: `${t.db}.${t.table}`, keyless: t.key === null, rowsCompared: 0, chunks: 0, chunksMismatched: 0, missingOnDr: [], extraOnDr: [], different: [], moreDifferences: 0, rowsRepaired: 0 };
}

function withDifferences(report: TableReport, differences: Difference[]): TableReport {
  for (const d of differences) {
    if (report.missingOnDr.length + report.extraOnDr.length + report.different.length >= DIFFERENCES_SHOWN) report.moreDifferences++;
    else report[d.kind].push(d.key.map(printable));
  }
  return report;
}

function printable(v: unknown): unknown {
  return Buffer.isBuffer(v) ? `0x${v.toString("hex")}` : v;
}

function sameChecksum(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return String(a.cnt) === String(b.cnt) && String(a.total) === String(b.total) && String(a.xored) === String(b.xored);
}

/** Rows as [key..., hash] in key order on both sides; differences by key. */
function diffByKey(master: unknown[][], dr: unknown[][], keyLength: number): Difference[] {
  const id = (row: unknown[]) => JSON.stringify(row.slice(0, keyLength).map(printable));
  const drRows = new Map(dr.map((r) => [id(r), r]));
  const out: Difference[] = [];
  for (const r of master) {
    const other = drRows.get(id(r));
    drRows.delete(id(r));
    if (!other) out.push({ kind: "missingOnDr", key: r.slice(0, keyLength) });
    else if (String(other[keyLength]) !== String(r[keyLength])) out.push({ kind: "different", key: r.slice(0, keyLength) });
  }
  for (const r of drRows.values()) out.push({ kind: "extraOnDr", key: r.slice(0, keyLength) });
  return out;
}

function diffCounts(master: Record<string, unknown>[], dr: Record<string, unknown>[]): { hash: string; master: number; dr: number }[] {
  const counts = new Map<string, { master: number; dr: number }>();
  for (const r of master) counts.set(String(r.h), { master: Number(r.n), dr: 0 });
  for (const r of dr) counts.set(String(r.h), { master: counts.get(String(r.h))?.master ?? 0, dr: Number(r.n) });
  return [...counts].filter(([, c]) => c.master !== c.dr).map(([hash, c]) => ({ hash, ...c }));
}

/** `(k1 = ? AND k2 = ?) OR ...` for a set of keys. */
function keyIn(key: string[], keys: unknown[][]): { sql: string; params: unknown[] } {
  if (!keys.length) return { sql: "1 = 0", params: [] };
  return {
    sql: keys.map(() => `(${key.map((k) => `${quoteId(k)} <=> ?`).join(" AND ")})`).join(" OR "),
    params: keys.flat(),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
