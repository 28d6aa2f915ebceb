/**
 * `mysql-dr verify`: compares the selected tables of a master and its DR copy chunk by chunk with
 * checksums computed on each server, drills mismatched chunks down to rows, and optionally
 * repairs them from the master. Correct while a link runs and the master takes writes: each
 * comparison waits until the DR server has applied what the master had when it was read, and a
 * difference counts only if it survives several such rounds, so rows that are merely behind are
 * never reported.
 */
import { listSelectedTables } from "../catalog/selected-tables";
import type { ServerAddress } from "../core/connection-url";
import { type Connection, DATA_QUERY_TIMEOUT_MS, openConnection, quoteTable } from "../core/db";
import type { Flavor } from "../core/flavor";
import { gtidCovers } from "../core/gtid";
import { ObjectFilter, type ObjectSelection } from "../core/object-filter";
import { currentGtidPosition, inspectServer } from "../core/server-inspector";
import type { VerificationResult } from "../dr-state/link-records";
import { type Difference, type TableReport, diffByKey, diffCounts, emptyReport, hasDifferences, keyIn, sameChecksum, withDifferences } from "./differences";
import { type Segment, chunksOf, segmentsOf } from "./chunks";
import { type HashedTable, chunkChecksumSql, chunkRowsSql, hashCountsSql } from "./row-hash";
import { openRepairWriter, repairKeylessTable, rewriteRows, rowWithHash } from "./row-repair";

export { DIFFERENCES_SHOWN, type TableReport } from "./differences";

/** Checksums of whole chunks (and of keyless tables) take longer than control statements. */
const DATA_SESSION = { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS };

export const VERIFY_CHUNK_ROWS = 10_000;
/** Sessions per server: the work is on the servers, so a few sessions keep both busy. */
export const DEFAULT_VERIFY_PARALLELISM = 4;
/** Rounds a difference must survive (each after the DR caught up with the master's read). */
export const RECHECK_ROUNDS = 5;
const RECHECK_DELAY_MS = 200;
/** How long one comparison waits for the DR server to apply what the master had. */
export const CATCH_UP_WAIT_MS = 15_000;
const POSITION_POLL_MS = 50;
/** A link whose checkpoint moved this recently is running (heartbeats move it every 250 ms). */
const LIVE_LINK_SECONDS = 30;

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



class Verifier {
  catchUpTimedOut = false;
  private readonly sessions: Session[] = [];
  private hashed: HashedTable[] = [];

  private constructor(private readonly o: VerifyOptions, private readonly flavor: Flavor, private readonly masterIdentity: string) {}

  static async open(o: VerifyOptions): Promise<Verifier> {
    const opened: Connection[] = [];
    const open = async (server: ServerAddress, role: "source" | "target") => {
      const conn = await openConnection(server, role, DATA_SESSION);
      opened.push(conn);
      return conn;
    };
    const openPair = async (): Promise<Session> => ({ master: await open(o.source, "source"), dr: await open(o.target, "target") });
    try {
      const first = await openPair();
      // Both servers answered: the other pairs are opened at once, while the master is inspected.
      const others = Promise.allSettled(Array.from({ length: Math.max(1, o.parallelism ?? DEFAULT_VERIFY_PARALLELISM) - 1 }, openPair));
      const facts = await inspectServer(first.master).catch(async (err: unknown) => {
        await others;
        throw err;
      });
      const v = new Verifier(o, facts.flavor, facts.identity);
      v.sessions.push(first);
      for (const pair of await others) {
        if (pair.status === "rejected") throw pair.reason;
        v.sessions.push(pair.value);
      }
      return v;
    } catch (err) {
      for (const conn of opened) conn.destroy();
      throw err;
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions) {
      s.master.destroy();
      s.dr.destroy();
    }
  }

  async tables(): Promise<HashedTable[]> {
    this.hashed = await hashedTables(this.sessions[0].master, this.o.objects, this.flavor);
    return this.hashed;
  }

  tableByName(name: string): HashedTable | undefined {
    return this.hashed.find((t) => `${t.db}.${t.table}` === name);
  }

  /**
   * Tables spread over the sessions. When there are fewer tables than sessions, the keyed ones are
   * cut into key ranges so every session has work.
   */
  async compareAll(tables: HashedTable[]): Promise<TableReport[]> {
    const chunkRows = this.o.chunkRows ?? VERIFY_CHUNK_ROWS;
    const perTable = tables.length >= this.sessions.length ? 1 : Math.ceil(this.sessions.length / tables.length);
    const units: (Segment | HashedTable)[] = [];
    for (const t of tables) units.push(...(t.key ? await segmentsOf(this.sessions[0].master, t, perTable, chunkRows) : [t]));
    const found = new Map<Segment | HashedTable, { report: TableReport; differences: Difference[] }>();
    let next = 0;
    await Promise.all(this.sessions.map(async (s) => {
      for (let i = next++; i < units.length; i = next++) {
        const u = units[i];
        found.set(u, isSegment(u) ? await this.compareSegment(s, u) : { report: await this.compareKeyless(s, u), differences: [] });
      }
    }));
    // One report per table, its segments' findings in key order.
    return tables.map((t) => {
      const report = emptyReport(t);
      const differences: Difference[] = [];
      for (const u of units) {
        if ((isSegment(u) ? u.table : u) !== t) continue;
        const f = found.get(u)!;
        if (!t.key) return f.report;
        report.chunks += f.report.chunks;
        report.rowsCompared += f.report.rowsCompared;
        report.chunksMismatched += f.report.chunksMismatched;
        differences.push(...f.differences);
      }
      return withDifferences(report, differences);
    });
  }

  private async compareSegment(s: Session, segment: Segment): Promise<{ report: TableReport; differences: Difference[] }> {
    const t = segment.table;
    const report = emptyReport(t);
    const differences: Difference[] = [];
    for await (const chunk of chunksOf(s, segment, this.o.chunkRows ?? VERIFY_CHUNK_ROWS)) {
      report.chunks++;
      // Compared at once, the DR may merely be behind: recheck once it has applied what the master had.
      const rows = chunk.agreed ? Number(chunk.master.cnt) : await this.until(async () => {
        const [m, d] = await this.both(s, chunkChecksumSql(t, chunk.range.sql), chunk.range.params);
        return sameChecksum(m[0], d[0]) ? Number(m[0].cnt) : undefined;
      }, 1);
      if (rows !== undefined) {
        report.rowsCompared += rows;
      } else {
        report.chunksMismatched++;
        const drilled = await this.drillDown(s, t, chunk.range);
        report.rowsCompared += drilled.rows;
        differences.push(...drilled.differences);
      }
    }
    return { report, differences };
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
      const sample = await rowWithHash(x.master > x.dr ? s.master : s.dr, t, x.hash);
      for (let i = 0; i < Math.abs(x.master - x.dr); i++) differences.push({ kind: x.master > x.dr ? "missingOnDr" : "extraOnDr", key: sample });
    }
    return withDifferences(report, differences);
  }

  /** Rewrites the differing rows on the DR server from the master. Returns rows changed per table. */
  async repair(reports: TableReport[]): Promise<Map<string, number>> {
    const { master, dr } = this.sessions[0];
    // A link's repair restores the master's rows: written under the DR server's own server_id it
    // would count as an errant transaction and block every promotion after it.
    const writer = await openRepairWriter(this.o.target, this.o.link === undefined ? undefined : { link: this.o.link, flavor: this.flavor });
    try {
      const changed = new Map<string, number>();
      for (const r of reports) {
        const t = this.tableByName(r.table)!;
        // The reports list at most DIFFERENCES_SHOWN keys: find all of them again, chunk by chunk.
        const rows = t.key ? await rewriteRows(master, writer, t, (await this.compareKeyedAllDifferences({ master, dr }, t)).map((d) => d.key)) : await repairKeylessTable(master, dr, writer, t);
        changed.set(r.table, rows);
      }
      return changed;
    } finally {
      writer.destroy();
    }
  }

  private async compareKeyedAllDifferences(s: Session, t: HashedTable): Promise<Difference[]> {
    const all: Difference[] = [];
    for await (const chunk of chunksOf(s, { table: t, lo: null, hi: null }, this.o.chunkRows ?? VERIFY_CHUNK_ROWS)) {
      if (!chunk.agreed) all.push(...(await this.drillDown(s, t, chunk.range)).differences);
    }
    return all;
  }

  /**
   * Runs `attempt` until it returns a value, at most RECHECK_ROUNDS rounds counting from `from`
   * (1 when the caller already compared once). The first round compares both servers at once (most
   * chunks agree); later rounds wait for the DR to catch up.
   */
  private async until<T>(attempt: (round: number) => Promise<T | undefined>, from = 0): Promise<T | undefined> {
    for (let round = from; round < RECHECK_ROUNDS; round++) {
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

/** "repaired": differences were found, rewritten, and a second comparison found none; "different": some remain. */
export function verificationResult(report: VerifyReport): VerificationResult {
  if (!report.identical) return "different";
  return report.tables.some((t) => t.rowsRepaired > 0) ? "repaired" : "identical";
}

/** The selected tables as the master defines them, with the columns and key verification hashes by. */
export async function hashedTables(master: Connection, objects: ObjectSelection, flavor: Flavor): Promise<HashedTable[]> {
  const selected = await listSelectedTables(master, new ObjectFilter(objects), flavor);
  return selected.map((t) => ({ db: t.db, table: t.table, columns: t.shape.columns.filter((c) => !c.generated), key: t.shape.key ?? null }));
}

function isSegment(u: Segment | HashedTable): u is Segment {
  return "lo" in u;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
