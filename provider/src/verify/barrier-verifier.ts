/**
 * Verification at a GTID barrier (as Vitess VDiff does it): the master is read in consistent
 * snapshots at one GTID position G (master-snapshots.ts), the link applies exactly up to G and is
 * held at that transaction boundary while the DR server's snapshots open (their checkpoint row must
 * say G: dr-snapshots.ts), then the link goes on and the two sets of snapshots are compared chunk
 * by chunk, one checksum query per chunk on each server, both at once (verify/chunks.ts). Both sides are one instant
 * of the same history, so there is nothing to wait for or recheck: a difference is a difference,
 * under any write load.
 *
 * The order matters. The link is held first (at the boundary after its current batch, position
 * A), then the master's snapshots open at G. G must cover A: the DR server must not be past the
 * barrier. On MariaDB a transaction reaches the binlog (and so the link) an instant before the
 * master's InnoDB shows it to new snapshots, so a snapshot can miss a transaction the link already
 * applied; the snapshots are then simply taken again. Only then is the link let go up to G.
 *
 * The result carries a proof: G, when the snapshots were taken, each table's chunk count and a
 * SHA-256 over the master's chunk checksums in table and chunk order (equal to the DR's where the
 * result is identical), which anyone can recompute from a copy of the master restored at G.
 *
 * Repair rewrites the differing rows at a second barrier, with the link held there and the
 * master's rows read in that barrier's snapshot, so what is written is exactly what the DR server
 * must hold at that position; then a third barrier checks again.
 */
import * as crypto from "node:crypto";
import type { ServerAddress } from "../core/connection-url";
import { type Connection, DATA_QUERY_TIMEOUT_MS, openConnection } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidCovers } from "../core/gtid";
import type { ObjectSelection } from "../core/object-filter";
import { inspectServer } from "../core/server-inspector";
import type { ApplyHold } from "../stream/apply-barrier";
import { type Difference, type TableReport, diffByKey, diffCounts, emptyReport, hasDifferences, withDifferences } from "./differences";
import { startDrSnapshots } from "./dr-snapshots";
import { type MasterSnapshots, openSnapshotSessions, startMasterSnapshots } from "./master-snapshots";
import { type Segment, type ServerPair, chunksOf, segmentsOf } from "./chunks";
import { type HashedTable, chunkRowsSql, hashCountsSql } from "./row-hash";
import { openRepairWriter, repairKeylessTable, rewriteRows, rowWithHash } from "./row-repair";
import { DEFAULT_VERIFY_PARALLELISM, VERIFY_CHUNK_ROWS, type VerifyReport, hashedTables } from "./verifier";

/** How long the link may take to finish its current batch, and then to apply up to the barrier. */
export const BARRIER_TIMEOUT_MS = 60_000;
/** MariaDB: snapshots taken again while they miss a transaction the link already applied. */
const MASTER_CATCH_UP_ATTEMPTS = 50;
const MASTER_CATCH_UP_DELAY_MS = 20;

export const VERIFICATION_MODES = ["barrier", "live"] as const;
export type VerificationMode = (typeof VERIFICATION_MODES)[number];

export interface BarrierVerifyOptions {
  link: string;
  source: ServerAddress;
  target: ServerAddress;
  objects: ObjectSelection;
  /** Holds the link at the transaction boundary after its current batch (LinkRunner.holdAtBoundary). */
  hold(timeoutMs: number): Promise<ApplyHold>;
  repair?: boolean;
  /** Sessions per server; on MariaDB fewer may be used (see master-snapshots.ts). */
  parallelism?: number;
  chunkRows?: number;
  timeoutMs?: number;
}

export interface BarrierProof {
  /** The barrier: master GTIDs both snapshots hold exactly. */
  gtid: string;
  /** When the snapshots were taken (ISO 8601). */
  at: string;
  tables: { table: string; chunks: number }[];
  /** SHA-256 (hex) over "db.table<TAB>chunk index<TAB>checksum<LF>" of the master's chunks, in table and chunk order. */
  digest: string;
}

export interface BarrierReport extends VerifyReport {
  mode: "barrier";
  proof: BarrierProof;
  /** Sessions per server the comparison ran on. */
  sessions: number;
  /** MySQL: how long the master's commits were blocked for its snapshots, in ms; null on MariaDB (no lock). */
  masterLockMs: number | null;
  /** How long the link was held, in ms: from its first boundary until the DR snapshots opened (it applied only up to G meanwhile). */
  linkHeldMs: number;
  /** With repair: the barrier the differing rows were rewritten at. */
  repairGtid?: string;
}

export async function verifyAtBarrier(o: BarrierVerifyOptions): Promise<BarrierReport> {
  const started = Date.now();
  const { flavor, tables } = await catalog(o);
  let check = await compareAtBarrier(o, flavor, tables);
  let repairGtid: string | undefined;
  const repaired = new Map<string, number>();
  if (o.repair && !check.identical) {
    repairGtid = await repairAtBarrier(o, flavor, tables, check.differences, repaired);
    check = await compareAtBarrier(o, flavor, tables);
    for (const r of check.reports) r.rowsRepaired = repaired.get(r.table) ?? 0;
  }
  const rowsCompared = check.reports.reduce((n, r) => n + r.rowsCompared, 0);
  const durationMs = Date.now() - started;
  return {
    mode: "barrier",
    identical: check.identical,
    tables: check.reports,
    rowsCompared,
    rowsPerSecond: Math.round(rowsCompared / Math.max(0.001, check.compareMs / 1000)),
    durationMs,
    repaired: o.repair === true,
    catchUpTimedOut: false,
    proof: check.proof,
    sessions: check.sessions,
    masterLockMs: check.masterLockMs,
    linkHeldMs: check.linkHeldMs,
    ...(repairGtid === undefined ? {} : { repairGtid }),
  };
}

async function catalog(o: BarrierVerifyOptions): Promise<{ flavor: Flavor; tables: HashedTable[] }> {
  const conn = await openConnection(o.source, "source");
  try {
    const { flavor } = await inspectServer(conn);
    return { flavor, tables: await hashedTables(conn, o.objects, flavor) };
  } finally {
    conn.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The barrier
// ---------------------------------------------------------------------------------------------

interface Barrier {
  master: MasterSnapshots;
  at: string;
  heldMs: number;
}

/**
 * Holds the link, opens the master's snapshots at G (covering what the link applied), lets the
 * link apply up to G and runs `whileHeld` there; the link goes on whatever happens. `heldMs`: from the
 * hold until `whileHeld` ended (the link applied only up to G meanwhile).
 */
async function atBarrier(o: BarrierVerifyOptions, flavor: Flavor, masterSessions: Connection[], whileHeld: (snapshots: MasterSnapshots) => Promise<void>): Promise<Barrier> {
  const timeoutMs = o.timeoutMs ?? BARRIER_TIMEOUT_MS;
  const hold = await o.hold(timeoutMs);
  const heldAt = performance.now();
  try {
    let sessions = masterSessions;
    let master = await startMasterSnapshots(sessions, flavor, o.source);
    for (let attempt = 1; !gtidCovers(flavor, master.gtid, hold.applied); attempt++) {
      if (attempt >= MASTER_CATCH_UP_ATTEMPTS) {
        throw new DrError("CONFLICT", `The master's snapshots (at ${master.gtid}) kept lacking transactions link ${o.link} had already applied (${hold.applied}), so no barrier could be set; run the verification again.`);
      }
      sessions = master.sessions;
      await Promise.all(sessions.map((s) => s.query("ROLLBACK /* mysql-dr verify */")));
      await sleep(MASTER_CATCH_UP_DELAY_MS);
      master = await startMasterSnapshots(sessions, flavor, o.source);
    }
    const at = new Date().toISOString();
    await hold.advanceTo(master.gtid, timeoutMs);
    await whileHeld(master);
    return { master, at, heldMs: Math.round((performance.now() - heldAt) * 10) / 10 };
  } finally {
    hold.releaseHold();
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

interface Check {
  identical: boolean;
  reports: TableReport[];
  /** Every difference found, by table (the reports list the first few). */
  differences: Map<string, Difference[]>;
  proof: BarrierProof;
  sessions: number;
  masterLockMs: number | null;
  linkHeldMs: number;
  compareMs: number;
}

/** A keyed table's segment, or (segment null) a whole keyless table. */
interface Unit {
  table: number;
  segment: Segment | null;
}

interface ChunkResult {
  checksum: string;
  rows: number;
  mismatched: boolean;
  differences: Difference[];
}

async function compareAtBarrier(o: BarrierVerifyOptions, flavor: Flavor, tables: HashedTable[]): Promise<Check> {
  const count = Math.max(1, o.parallelism ?? DEFAULT_VERIFY_PARALLELISM);
  // Connected beforehand: the link is held only for the snapshots to start.
  const masterSessions = await openSnapshotSessions(o.source, "source", count);
  const drSessions = await openSnapshotSessions(o.target, "target", count).catch((err: unknown) => {
    for (const s of masterSessions) s.destroy();
    throw err;
  });
  let pairs: ServerPair[] = [];
  try {
    const barrier = await atBarrier(o, flavor, masterSessions, async (master) => {
      // The master kept the sessions whose snapshots agreed; as many DR sessions are used.
      pairs = master.sessions.map((m, i) => ({ master: m, dr: drSessions[i] }));
      await startDrSnapshots(pairs.map((p) => p.dr), o.link, master.gtid, flavor, o.target);
    });
    const comparing = performance.now();
    const chunkRows = o.chunkRows ?? VERIFY_CHUNK_ROWS;
    const units = await planUnits(pairs, tables, chunkRows);
    const results = await runUnits(pairs, tables, units, chunkRows);
    const compareMs = performance.now() - comparing;
    const check = summarize(tables, units, results, barrier, pairs.length, compareMs);
    return check;
  } finally {
    for (const s of [...masterSessions, ...drSessions]) s.destroy();
  }
}

/**
 * Keyed tables as segments (cut when there are fewer tables than sessions; bounds read in the
 * master's snapshot), keyless tables whole.
 */
async function planUnits(pairs: ServerPair[], tables: HashedTable[], chunkRows: number): Promise<Unit[]> {
  const perTable = tables.length >= pairs.length ? 1 : Math.ceil(pairs.length / tables.length);
  const units: Unit[] = [];
  for (const [i, t] of tables.entries()) {
    if (!t.key) units.push({ table: i, segment: null });
    else for (const segment of await segmentsOf(pairs[0].master, t, perTable, chunkRows)) units.push({ table: i, segment });
  }
  return units;
}

/** Every unit compared by whichever pair is free; each unit's chunk results, in unit order. */
async function runUnits(pairs: ServerPair[], tables: HashedTable[], units: Unit[], chunkRows: number): Promise<ChunkResult[][]> {
  const results: ChunkResult[][] = new Array(units.length);
  let next = 0;
  await Promise.all(pairs.map(async (pair) => {
    for (let i = next++; i < units.length; i = next++) {
      const u = units[i];
      results[i] = u.segment ? await compareSegment(pair, u.segment, chunkRows) : [await compareKeyless(pair, tables[u.table])];
    }
  }));
  return results;
}

/** Both snapshots hold the same instant: a chunk that differs is drilled down to rows at once. */
async function compareSegment(pair: ServerPair, segment: Segment, chunkRows: number): Promise<ChunkResult[]> {
  const t = segment.table;
  const results: ChunkResult[] = [];
  for await (const chunk of chunksOf(pair, segment, chunkRows)) {
    const m = chunk.master;
    const checksum = `${big(m.cnt)}:${big(m.total)}:${big(m.xored)}`;
    if (chunk.agreed) {
      results.push({ checksum, rows: Number(m.cnt), mismatched: false, differences: [] });
      continue;
    }
    const rowsSql = chunkRowsSql(t, chunk.range.sql);
    const [[mr], [dr]] = await Promise.all([pair.master.query({ sql: rowsSql, values: chunk.range.params, rowsAsArray: true }), pair.dr.query({ sql: rowsSql, values: chunk.range.params, rowsAsArray: true })]);
    results.push({ checksum, rows: (mr as unknown[][]).length, mismatched: true, differences: diffByKey(mr as unknown[][], dr as unknown[][], t.key!.length) });
  }
  return results;
}

/** A keyless table as a multiset of row hashes; its checksum is the one chunkChecksumSql gives over all its rows. */
async function compareKeyless(pair: ServerPair, t: HashedTable): Promise<ChunkResult> {
  const sql = hashCountsSql(t);
  const [[m], [d]] = await Promise.all([pair.master.query(sql), pair.dr.query(sql)]);
  const counts = m as Record<string, unknown>[];
  let rows = 0n;
  let total = 0n;
  let xored = 0n;
  for (const r of counts) {
    const h = big(r.h);
    const n = big(r.n);
    rows += n;
    total += h * n;
    if (n % 2n === 1n) xored ^= h;
  }
  const checksum = `${rows}:${total}:${xored}`;
  const diff = diffCounts(counts, d as Record<string, unknown>[]);
  const differences: Difference[] = [];
  for (const x of diff) {
    const sample = await rowWithHash(x.master > x.dr ? pair.master : pair.dr, t, x.hash);
    for (let i = 0; i < Math.abs(x.master - x.dr); i++) differences.push({ kind: x.master > x.dr ? "missingOnDr" : "extraOnDr", key: sample });
  }
  return { checksum, rows: Number(rows), mismatched: diff.length > 0, differences };
}

function summarize(tables: HashedTable[], units: Unit[], results: ChunkResult[][], barrier: Barrier, sessions: number, compareMs: number): Check {
  const reports = tables.map(emptyReport);
  const all = tables.map((): Difference[] => []);
  const digest = crypto.createHash("sha256");
  units.forEach((u, i) => {
    const report = reports[u.table];
    for (const r of results[i]) {
      digest.update(`${report.table}\t${report.chunks}\t${r.checksum}\n`);
      report.chunks++;
      report.rowsCompared += r.rows;
      if (r.mismatched) report.chunksMismatched++;
      all[u.table].push(...r.differences);
    }
  });
  reports.forEach((r, i) => withDifferences(r, all[i]));
  return {
    identical: !reports.some(hasDifferences),
    reports,
    differences: new Map(reports.map((r, i) => [r.table, all[i]])),
    proof: { gtid: barrier.master.gtid, at: barrier.at, tables: reports.map((r) => ({ table: r.table, chunks: r.chunks })), digest: digest.digest("hex") },
    sessions,
    masterLockMs: barrier.master.lockMs,
    linkHeldMs: barrier.heldMs,
    compareMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Repair
// ---------------------------------------------------------------------------------------------

/**
 * Rewrites, with the link held at a new barrier, the rows found different from the master's rows
 * in that barrier's snapshot. Returns the barrier; `repaired` gets the rows changed per table.
 */
async function repairAtBarrier(o: BarrierVerifyOptions, flavor: Flavor, tables: HashedTable[], differences: Map<string, Difference[]>, repaired: Map<string, number>): Promise<string> {
  const [master] = await openSnapshotSessions(o.source, "source", 1);
  let dr: Connection | undefined;
  let writer: Connection | undefined;
  try {
    dr = await openConnection(o.target, "target", { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS });
    // The rewrites are the link's own writes on the DR server, not errant ones.
    writer = await openRepairWriter(o.target, { link: o.link, flavor });
    const barrier = await atBarrier(o, flavor, [master], async () => {
      for (const t of tables) {
        const name = `${t.db}.${t.table}`;
        const found = differences.get(name) ?? [];
        if (!found.length) continue;
        repaired.set(name, t.key ? await rewriteRows(master, writer!, t, found.map((d) => d.key)) : await repairKeylessTable(master, dr!, writer!, t));
      }
    });
    return barrier.master.gtid;
  } finally {
    master.destroy();
    dr?.destroy();
    writer?.destroy();
  }
}

/** An integer the server returned (number, string or bigint) as a bigint. */
function big(v: unknown): bigint {
  return BigInt(String(v ?? 0));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
