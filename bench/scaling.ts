/**
 * Scaling curves: how the daemon's cost grows with the work (issue 12, "Scaling curves").
 *
 * - backlog: catch-up throughput and daemon peak RSS against the backlog's size (sysbench
 *   oltp_write_only written while the link is paused; timed until the link's checkpoint on the DR
 *   server covers the master's last GTID);
 * - copy: initial copy time against table size (one table of N rows) and against table count
 *   (one table of N rows vs 100 tables of N/100 rows);
 * - links: many links in one daemon, one database each on one master and one DR server, the same
 *   total workload spread over them: aggregate applied rows/s on a backlog, then every link's lag
 *   under a steady load (from /metrics) and the daemon's peak RSS;
 * - wide: rows of ~4 KB (a TEXT column) next to sysbench's, the same number of transactions,
 *   daemon against a native single-thread replica on the same backlog.
 *
 * Every curve has its own servers; they share the lab's daemon. The x axis is the shape; the quick mode keeps the shapes with
 * smaller sizes. Run alone:
 *
 *   node dist/bench/scaling.js [--quick] [--only backlog|copy|links|wide[,..]] [--runs N]
 *     [--backlogs 10000,100000,1000000] [--copy-rows 1000000,5000000] [--copy-tables 100]
 *     [--links 1,8,32] [--link-transactions 32000] [--link-rows 64000] [--link-rate 320] [--link-seconds 30]
 *     [--wide-rows 20000] [--wide-transactions 10000]
 *
 * --charts-only draws the charts and prints the rows again from the saved file.
 *
 * Writes bench/results/scaling.json (scaling-quick.json with --quick; curves not run this time are
 * kept from the file), scaling[-quick]-<curve>.png/.svg, and prints the markdown rows.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { gtidCovers } from "../provider/src/core/gtid";
import { renderChart } from "./charts";
import { type Server, Lab, REPO, configureNativeReplica, ensurePeers, log as benchLog, nativeApplied, percentile, sleep, startReplica, stats, stopReplica, sysbench, sysbenchAsync, timeUntilCovered } from "./lab";

/** In running order: links last, its 32 links leave the daemon's heap (and so every later peak RSS) larger. */
export const CURVES = ["backlog", "copy", "wide", "links"] as const;
export type Curve = (typeof CURVES)[number];

export interface ScalingSizes {
  /** Repetitions of every point (min / median / max over them). */
  runs: number;
  /** sysbench transactions in each backlog. */
  backlogs: number[];
  /** sysbench tables x rows the backlog curve writes into. */
  backlogTables: number;
  backlogTableRows: number;
  /** Rows of the single table copied, one point each. */
  copyRows: number[];
  /** The table-count point: the first copyRows split into this many tables. */
  copyTables: number;
  /** Link counts, one point each. */
  links: number[];
  /** Transactions of the links' catch-up backlog, spread evenly over the links. */
  linkTransactions: number;
  /** Rows of sysbench data, spread evenly over the links (one table per link's database). */
  linkRows: number;
  /** Aggregate sysbench rate of the steady load, tx/s, spread evenly over the links. */
  linkRate: number;
  linkSeconds: number;
  /** Rows per table (4 tables) of the wide and the sysbench tables. */
  wideRows: number;
  wideTransactions: number;
}

export const SCALING_SIZES: Record<"quick" | "full", ScalingSizes> = {
  quick: { runs: 1, backlogs: [2_000, 6_000, 20_000], backlogTables: 4, backlogTableRows: 10_000, copyRows: [100_000, 500_000], copyTables: 100, links: [1, 8, 32], linkTransactions: 3_200, linkRows: 32_000, linkRate: 160, linkSeconds: 10, wideRows: 2_000, wideTransactions: 3_000 },
  full: { runs: 3, backlogs: [10_000, 100_000, 1_000_000], backlogTables: 4, backlogTableRows: 100_000, copyRows: [1_000_000, 5_000_000], copyTables: 100, links: [1, 8, 32], linkTransactions: 32_000, linkRows: 320_000, linkRate: 320, linkSeconds: 60, wideRows: 20_000, wideTransactions: 10_000 },
};

type Spread = { min: number; median: number; max: number };

export interface BacklogPoint {
  transactions: number;
  txPerSec: number[];
  rowsPerSec: number[];
  peakRssMiB: number[];
}

export interface CopyPoint {
  tables: number;
  rowsPerTable: number;
  seconds: number[];
  peakRssMiB: number[];
}

export interface LinksPoint {
  links: number;
  catchupSeconds: number[];
  rowsPerSec: number[];
  /** Every link's lag p99 under the steady load, ms (one entry per link, last run). */
  lagP99Ms: number[];
  lagRate: number;
  peakRssMiB: number[];
}

export interface WideWorkload {
  transactions: number;
  /** Binlog bytes of one backlog. */
  binlogBytes: number[];
  daemonTxPerSec: number[];
  nativeTxPerSec: number[];
  peakRssMiB: number[];
}

export interface ScalingResults {
  quick: boolean;
  sizes: ScalingSizes;
  backlog?: BacklogPoint[];
  copy?: CopyPoint[];
  links?: LinksPoint[];
  wide?: { sysbench: WideWorkload; wide: WideWorkload; rowBytes: number; sameData: { dr: boolean; native: boolean } };
  /** The daemon's RSS when each curve started (the floor of that curve's peaks). */
  rssAtStartMiB?: Partial<Record<Curve, number>>;
}

export interface ScalingOptions {
  quick: boolean;
  log?: (msg: string) => void;
  /** The curves to run (all by default). */
  only?: Curve[];
  /** Overrides of the mode's sizes. */
  sizes?: Partial<ScalingSizes>;
}

const THREADS = 4;

/** Runs the curves on `lab` (its daemon, started when it has none; servers of its own per curve). */
export async function runScaling(lab: Lab, options: ScalingOptions): Promise<ScalingResults> {
  const sizes: ScalingSizes = { ...SCALING_SIZES[options.quick ? "quick" : "full"], ...options.sizes };
  const ctx: Context = { lab, sizes, log: options.log ?? benchLog };
  if (!lab.daemon) await lab.startDaemon();
  const only = new Set(options.only ?? CURVES);
  const results: ScalingResults = { quick: options.quick, sizes };
  const curves: { [C in Curve]: (ctx: Context) => Promise<NonNullable<ScalingResults[C]>> } = { backlog: backlogCurve, copy: copyCurve, wide: wideCurve, links: linksCurve };
  for (const curve of CURVES.filter((c) => only.has(c))) {
    // What the daemon holds when a curve starts is the floor of that curve's peaks.
    results.rssAtStartMiB = { ...results.rssAtStartMiB, [curve]: Math.round(lab.daemonRssMiB()) };
    (results as Record<Curve, unknown>)[curve] = await curves[curve](ctx);
  }
  return results;
}

interface Context {
  lab: Lab;
  sizes: ScalingSizes;
  log: (msg: string) => void;
}

// --- the link's progress, read where it is durable: its checkpoint row on the DR server ---

/** One connection to the DR server reading links' checkpoints (cheaper than a status per poll). */
class Checkpoints {
  private constructor(private readonly lab: Lab, private readonly conn: mysql.Connection) {}

  static async open(lab: Lab, dr: Server): Promise<Checkpoints> {
    return new Checkpoints(lab, await mysql.createConnection({ host: "127.0.0.1", port: dr.port, user: "root", supportBigNumbers: true, bigNumberStrings: true }));
  }

  async read(links: string[]): Promise<Map<string, { gtid: string; rows: number }>> {
    const [rows] = await this.conn.query("SELECT link, source_gtid AS gtid, rows_applied AS `rows` FROM mysql_dr.checkpoint WHERE link IN (?)", [links]);
    return new Map((rows as { link: string; gtid: string; rows: string }[]).map((r) => [r.link, { gtid: String(r.gtid), rows: Number(r.rows) }]));
  }

  async rows(links: string[]): Promise<number> {
    return [...(await this.read(links)).values()].reduce((sum, c) => sum + c.rows, 0);
  }

  /** Seconds until every link's checkpoint covers `target`; fails when the daemon reports one of them stopped on an error. */
  async timeUntilAllCovered(links: string[], target: string): Promise<number> {
    const started = Date.now();
    let behind = links;
    for (let poll = 1; ; poll++) {
      const seen = await this.read(behind);
      behind = behind.filter((l) => !gtidCovers("mariadb", seen.get(l)?.gtid ?? "", target));
      if (!behind.length) return (Date.now() - started) / 1000;
      if (poll % 40 === 0) {
        const failed = linksInError(await this.lab.daemonMetrics()).filter((l) => behind.includes(l));
        if (failed.length) throw new Error(`links ${failed.join(", ")} stopped on an error (see the daemon's log)`);
      }
      if (Date.now() - started > 3_600_000) throw new Error(`links ${behind.join(", ")} not caught up with ${target} after an hour`);
      await sleep(25);
    }
  }

  close(): Promise<void> {
    return this.conn.end();
  }
}

/**
 * sysbench, then a turn of the event loop: spawnSync blocks it, and an idle keep-alive socket to the
 * daemon that the daemon closed meanwhile is seen closed only once the loop turns (the next request
 * on it would fail with "socket hang up").
 */
async function runSysbench(master: Server, args: string[], db?: string): Promise<string> {
  const out = sysbench(master, args, db);
  await sleep(50);
  return out;
}

// --- 1. catch-up against the backlog's size ---

async function backlogCurve({ lab, sizes, log }: Context): Promise<BacklogPoint[]> {
  const daemon = lab.daemon!;
  const link = "scaling-backlog";
  const [master, dr] = await Promise.all([lab.server("scaling-backlog-master"), lab.server("scaling-backlog-dr")]);
  const checkpoints = await Checkpoints.open(lab, dr);
  try {
    await daemon.createLink({ name: link, source: master.url, target: dr.url, include: ["sbtest"], initial: "none" });
    await master.sql("CREATE DATABASE sbtest");
    const tableArgs = [`--tables=${sizes.backlogTables}`, `--table-size=${sizes.backlogTableRows}`, `--threads=${THREADS}`];
    log(`backlog curve: sysbench prepare ${sizes.backlogTables} x ${sizes.backlogTableRows} rows`);
    await runSysbench(master, [...tableArgs, "prepare"]);
    await checkpoints.timeUntilAllCovered([link], await master.position());
    const points: BacklogPoint[] = [];
    for (const transactions of sizes.backlogs) {
      const point: BacklogPoint = { transactions, txPerSec: [], rowsPerSec: [], peakRssMiB: [] };
      for (let run = 1; run <= sizes.runs; run++) {
        await daemon.pauseLink(link);
        const rowsBefore = await checkpoints.rows([link]);
        const generating = Date.now();
        await runSysbench(master, [...tableArgs, `--events=${transactions}`, "--time=0", `--rand-seed=${run}`, "run"]);
        const target = await master.position();
        log(`  backlog of ${transactions} written in ${((Date.now() - generating) / 1000).toFixed(1)} s`);
        lab.resetDaemonPeakRss();
        await daemon.resumeLink(link);
        const seconds = await checkpoints.timeUntilAllCovered([link], target);
        point.peakRssMiB.push(lab.daemonPeakRssMiB());
        point.txPerSec.push(transactions / seconds);
        point.rowsPerSec.push(((await checkpoints.rows([link])) - rowsBefore) / seconds);
        log(`  applied in ${seconds.toFixed(1)} s: ${Math.round(transactions / seconds)} tx/s, peak RSS ${Math.round(point.peakRssMiB.at(-1)!)} MiB`);
      }
      points.push(point);
    }
    await daemon.deleteLink(link);
    return points;
  } finally {
    await checkpoints.close();
  }
}

// --- 2. initial copy against table size and table count ---

async function copyCurve({ lab, sizes, log }: Context): Promise<CopyPoint[]> {
  const daemon = lab.daemon!;
  const [master, target] = await Promise.all([lab.server("scaling-copy-master"), lab.server("scaling-copy-target")]);
  const shapes = [...sizes.copyRows.map((rows) => ({ tables: 1, rowsPerTable: rows })), { tables: sizes.copyTables, rowsPerTable: Math.round(sizes.copyRows[0] / sizes.copyTables) }];
  const points: CopyPoint[] = [];
  for (const shape of shapes) {
    const db = `copy_${shape.tables}x${shape.rowsPerTable}`;
    log(`copy curve: sysbench prepare ${shape.tables} x ${shape.rowsPerTable} rows`);
    await master.sql(`CREATE DATABASE ${db}`);
    await runSysbench(master, [`--tables=${shape.tables}`, `--table-size=${shape.rowsPerTable}`, `--threads=${Math.min(THREADS, shape.tables)}`, "prepare"], db);
    const point: CopyPoint = { ...shape, seconds: [], peakRssMiB: [] };
    for (let run = 1; run <= sizes.runs; run++) {
      const link = `scaling-${db.replace(/_/g, "-")}-${run}`;
      lab.resetDaemonPeakRss();
      const started = Date.now();
      await daemon.createLink({ name: link, source: master.url, target: target.url, include: [db], initial: "full", parallel: THREADS });
      for (;;) {
        const s = await daemon.getLink(link);
        if (s.state === "error") throw new Error(`copy of ${db} failed: ${s.lastError}`);
        if (s.phase === "syncing" && s.state === "running") break;
        await sleep(100);
      }
      point.seconds.push((Date.now() - started) / 1000);
      point.peakRssMiB.push(lab.daemonPeakRssMiB());
      await daemon.deleteLink(link);
      await target.sql(`DROP DATABASE ${db}`);
      log(`  ${shape.tables} x ${shape.rowsPerTable} rows copied in ${point.seconds.at(-1)!.toFixed(1)} s, peak RSS ${Math.round(point.peakRssMiB.at(-1)!)} MiB`);
    }
    await master.sql(`DROP DATABASE ${db}`);
    points.push(point);
  }
  return points;
}

// --- 3. many links in one daemon ---

async function linksCurve({ lab, sizes, log }: Context): Promise<LinksPoint[]> {
  const daemon = lab.daemon!;
  const [master, dr] = await Promise.all([lab.server("scaling-links-master"), lab.server("scaling-links-dr")]);
  const checkpoints = await Checkpoints.open(lab, dr);
  const points: LinksPoint[] = [];
  try {
    for (const count of sizes.links) {
      const names = Array.from({ length: count }, (_, i) => `scaling-l${count}-${i + 1}`);
      const db = (i: number) => `links${count}_${i + 1}`;
      const rowsPerLink = Math.max(100, Math.round(sizes.linkRows / count));
      const tableArgs = ["--tables=1", `--table-size=${rowsPerLink}`];
      log(`links curve: ${count} link(s), one database of ${rowsPerLink} rows each`);
      // Databases, tables and rows all reach the DR server through the links, which apply their
      // CREATE DATABASEs at once on the one DR server.
      for (let i = 0; i < count; i++) await daemon.createLink({ name: names[i], source: master.url, target: dr.url, include: [db(i)], initial: "none" });
      for (let i = 0; i < count; i++) await master.sql(`CREATE DATABASE ${db(i)}`);
      for (let i = 0; i < count; i++) await runSysbench(master, [...tableArgs, "prepare"], db(i));
      await checkpoints.timeUntilAllCovered(names, await master.position());
      const point: LinksPoint = { links: count, catchupSeconds: [], rowsPerSec: [], lagP99Ms: [], lagRate: sizes.linkRate, peakRssMiB: [] };
      for (let run = 1; run <= sizes.runs; run++) {
        // Catch-up: the same total backlog, an even share per link's database.
        await Promise.all(names.map((n) => daemon.pauseLink(n)));
        const rowsBefore = await checkpoints.rows(names);
        for (let i = 0; i < count; i++) await runSysbench(master, [...tableArgs, `--threads=${THREADS}`, `--events=${Math.round(sizes.linkTransactions / count)}`, "--time=0", `--rand-seed=${run}`, "run"], db(i));
        const target = await master.position();
        lab.resetDaemonPeakRss();
        await Promise.all(names.map((n) => daemon.resumeLink(n)));
        const seconds = await checkpoints.timeUntilAllCovered(names, target);
        point.catchupSeconds.push(seconds);
        point.rowsPerSec.push(((await checkpoints.rows(names)) - rowsBefore) / seconds);
        log(`  catch-up of ${sizes.linkTransactions} transactions over ${count} link(s): ${seconds.toFixed(1)} s, ${Math.round(point.rowsPerSec.at(-1)!)} rows/s`);

        // Steady load: the aggregate rate spread over the databases; every link's lag from /metrics.
        const lags = new Map<string, number[]>(names.map((n) => [n, []]));
        const perLinkRate = Math.max(1, Math.round(sizes.linkRate / count));
        const load = Promise.all(names.map((_, i) => sysbenchAsync(master, [...tableArgs, `--threads=${Math.max(1, Math.floor(THREADS / count))}`, `--rate=${perLinkRate}`, `--time=${sizes.linkSeconds}`, "run"], db(i))));
        let loading = true;
        void load.finally(() => (loading = false)).catch(() => undefined);
        while (loading) {
          for (const [link, seconds] of linkLags(await lab.daemonMetrics())) lags.get(link)?.push(seconds * 1000);
          await sleep(200);
        }
        await load;
        point.peakRssMiB.push(lab.daemonPeakRssMiB());
        point.lagP99Ms = names.map((n) => percentile(lags.get(n)!, 99));
        const p99 = stats(point.lagP99Ms);
        log(`  steady ${perLinkRate * count} tx/s over ${count} link(s): lag p99 per link min ${Math.round(p99.min)} / median ${Math.round(p99.median)} / max ${Math.round(p99.max)} ms, peak RSS ${Math.round(point.peakRssMiB.at(-1)!)} MiB`);
      }
      points.push(point);
      for (const n of names) await daemon.deleteLink(n);
      for (let i = 0; i < count; i++) await Promise.all([master, dr].map((s) => s.sql(`DROP DATABASE ${db(i)}`)));
    }
    return points;
  } finally {
    await checkpoints.close();
  }
}

/** The links the daemon's Prometheus text shows in state "error". */
function linksInError(metrics: string): string[] {
  return [...metrics.matchAll(/^mysql_dr_link_state\{link="([^"]+)",state="error"\} 1$/gm)].map((m) => m[1]);
}

/** Every link's lag in seconds, from the daemon's Prometheus text. */
function linkLags(metrics: string): [string, number][] {
  return [...metrics.matchAll(/^mysql_dr_link_lag_seconds\{link="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]);
}

// --- 4. wide rows next to sysbench ---

/** ~4 KB of text per row (base64 of random bytes: nothing for the binlog or InnoDB to squeeze). */
const WIDE_PAYLOAD_BYTES = 4096;
const WIDE_TABLES = 4;

function payload(): string {
  return randomBytes((WIDE_PAYLOAD_BYTES * 3) / 4).toString("base64");
}

async function wideConnection(master: Server): Promise<mysql.Connection> {
  return mysql.createConnection({ host: "127.0.0.1", port: master.port, user: "root", database: "wide" });
}

async function prepareWide(master: Server, rows: number): Promise<void> {
  await master.sql("CREATE DATABASE wide");
  const conn = await wideConnection(master);
  try {
    for (let t = 1; t <= WIDE_TABLES; t++) {
      await conn.query(`CREATE TABLE wide${t} (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, doc TEXT NOT NULL, KEY k_${t} (k)) ENGINE=InnoDB`);
      for (let i = 0; i < rows; i += 200) {
        await conn.query(`INSERT INTO wide${t} (id, k, doc) VALUES ?`, [Array.from({ length: Math.min(200, rows - i) }, (_, j) => [i + j + 1, Math.floor(Math.random() * rows), payload()])]);
      }
    }
  } finally {
    await conn.end();
  }
}

/**
 * oltp_write_only's shape on the wide tables, from THREADS connections: per transaction an
 * indexed UPDATE, an UPDATE of the ~4 KB column, a DELETE and the INSERT of a fresh ~4 KB row
 * (retried on a deadlock).
 */
async function wideWorkload(master: Server, rows: number, transactions: number): Promise<void> {
  let claimed = 0;
  const client = async (): Promise<void> => {
    const conn = await wideConnection(master);
    try {
      while (claimed < transactions) {
        claimed++;
        const table = `wide${1 + Math.floor(Math.random() * WIDE_TABLES)}`;
        const id = () => 1 + Math.floor(Math.random() * rows);
        for (;;) {
          try {
            await conn.query("BEGIN");
            await conn.query(`UPDATE ${table} SET k = k + 1 WHERE id = ?`, [id()]);
            await conn.query(`UPDATE ${table} SET doc = ? WHERE id = ?`, [payload(), id()]);
            const moved = id();
            await conn.query(`DELETE FROM ${table} WHERE id = ?`, [moved]);
            await conn.query(`INSERT INTO ${table} (id, k, doc) VALUES (?, ?, ?)`, [moved, Math.floor(Math.random() * rows), payload()]);
            await conn.query("COMMIT");
            break;
          } catch (err) {
            await conn.query("ROLLBACK").catch(() => undefined);
            if ((err as { code?: string }).code !== "ER_LOCK_DEADLOCK") throw err;
          }
        }
      }
    } finally {
      await conn.end();
    }
  };
  await Promise.all(Array.from({ length: THREADS }, client));
}

async function binlogBytes(server: Server): Promise<number> {
  return (await server.sql("SHOW BINARY LOGS")).reduce((sum, r) => sum + Number(r.File_size), 0);
}

async function wideCurve({ lab, sizes, log }: Context): Promise<NonNullable<ScalingResults["wide"]>> {
  const daemon = lab.daemon!;
  const link = "scaling-wide";
  const [master, dr, native] = await Promise.all(["master", "dr", "native"].map((n) => lab.server(`scaling-wide-${n}`)));
  const checkpoints = await Checkpoints.open(lab, dr);
  try {
    await configureNativeReplica(native, master, 0);
    await startReplica(native);
    await daemon.createLink({ name: link, source: master.url, target: dr.url, include: ["sbtest", "wide"], initial: "none" });
    log(`wide curve: ${WIDE_TABLES} tables x ${sizes.wideRows} rows of ~${WIDE_PAYLOAD_BYTES} bytes, and sysbench ${WIDE_TABLES} x ${sizes.wideRows}`);
    await prepareWide(master, sizes.wideRows);
    await master.sql("CREATE DATABASE sbtest");
    const tableArgs = [`--tables=${WIDE_TABLES}`, `--table-size=${sizes.wideRows}`, `--threads=${THREADS}`];
    await runSysbench(master, [...tableArgs, "prepare"]);
    const prepared = await master.position();
    await checkpoints.timeUntilAllCovered([link], prepared);
    await timeUntilCovered(() => nativeApplied(native), prepared);
    const empty = (): WideWorkload => ({ transactions: sizes.wideTransactions, binlogBytes: [], daemonTxPerSec: [], nativeTxPerSec: [], peakRssMiB: [] });
    const result = { sysbench: empty(), wide: empty(), rowBytes: WIDE_PAYLOAD_BYTES, sameData: { dr: false, native: false } };
    const generators: Record<"sysbench" | "wide", (run: number) => Promise<unknown>> = {
      sysbench: (run) => runSysbench(master, [...tableArgs, `--events=${sizes.wideTransactions}`, "--time=0", `--rand-seed=${run}`, "run"]),
      wide: () => wideWorkload(master, sizes.wideRows, sizes.wideTransactions),
    };
    for (let run = 1; run <= sizes.runs; run++) {
      for (const workload of ["sysbench", "wide"] as const) {
        const w = result[workload];
        await Promise.all([daemon.pauseLink(link), stopReplica(native)]);
        const bytesBefore = await binlogBytes(master);
        await generators[workload](run);
        const target = await master.position();
        w.binlogBytes.push((await binlogBytes(master)) - bytesBefore);
        await startReplica(native);
        const nativeSeconds = await timeUntilCovered(() => nativeApplied(native), target);
        await stopReplica(native);
        lab.resetDaemonPeakRss();
        await daemon.resumeLink(link);
        const daemonSeconds = await checkpoints.timeUntilAllCovered([link], target);
        w.peakRssMiB.push(lab.daemonPeakRssMiB());
        w.nativeTxPerSec.push(w.transactions / nativeSeconds);
        w.daemonTxPerSec.push(w.transactions / daemonSeconds);
        log(`  ${workload}: backlog ${(w.binlogBytes.at(-1)! / 2 ** 20).toFixed(0)} MiB of binlog; native 1 thread ${nativeSeconds.toFixed(1)} s, daemon ${daemonSeconds.toFixed(1)} s (${(nativeSeconds / daemonSeconds).toFixed(2)}x), peak RSS ${Math.round(w.peakRssMiB.at(-1)!)} MiB`);
      }
    }
    // The figures count only if both copies hold the master's rows.
    await startReplica(native);
    const end = await master.position();
    await timeUntilCovered(() => nativeApplied(native), end);
    const tables = [...Array.from({ length: WIDE_TABLES }, (_, i) => `wide.wide${i + 1}`), ...Array.from({ length: WIDE_TABLES }, (_, i) => `sbtest.sbtest${i + 1}`)].join(", ");
    const [m, d, n] = await Promise.all([master, dr, native].map(async (s) => JSON.stringify((await s.sql(`CHECKSUM TABLE ${tables}`)).map((r) => r.Checksum))));
    result.sameData = { dr: d === m, native: n === m };
    log(`  same rows as the master (CHECKSUM TABLE): DR server ${result.sameData.dr}, native replica ${result.sameData.native}`);
    await daemon.deleteLink(link);
    return result;
  } finally {
    await checkpoints.close();
  }
}

// --- the README's rows and the charts ---

const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const median = (xs: number[]) => stats(xs).median;
const spread = (xs: number[], digits = 0) => {
  const s: Spread = stats(xs);
  return xs.length > 1 ? `${round(s.min, digits)} / ${round(s.median, digits)} / ${round(s.max, digits)}` : `${round(s.median, digits)}`;
};
const shape = (p: CopyPoint) => `${p.tables} x ${p.rowsPerTable.toLocaleString("en-US")}`;

/** Rows for the README's benchmark table (| scenario | mysql-dr | reference | ratio |). */
export function scalingMarkdownRows(r: ScalingResults): string[] {
  const rows: string[] = [];
  const runs = r.sizes.runs > 1 ? " (min / median / max)" : "";
  if (r.backlog?.length) {
    const first = r.backlog[0];
    const last = r.backlog.at(-1)!;
    rows.push(`| catch-up vs backlog size (${r.backlog.map((p) => p.transactions.toLocaleString("en-US")).join(" / ")} tx), tx/s${runs} | ${r.backlog.map((p) => spread(p.txPerSec)).join(" ; ")} | | largest / smallest ${round(median(last.txPerSec) / median(first.txPerSec), 2)}x |`);
    rows.push(`| daemon peak RSS vs backlog size, MiB | ${r.backlog.map((p) => Math.round(Math.max(...p.peakRssMiB))).join(" / ")} | | |`);
  }
  if (r.copy?.length) {
    const single = r.copy.filter((p) => p.tables === 1);
    const many = r.copy.find((p) => p.tables > 1);
    rows.push(`| initial copy vs table size (${single.map(shape).join(" / ")} rows), s${runs} | ${single.map((p) => spread(p.seconds, 1)).join(" ; ")} | rows/s ${single.map((p) => Math.round((p.tables * p.rowsPerTable) / median(p.seconds))).join(" / ")} | |`);
    const base = single.find((p) => many && p.rowsPerTable === many.tables * many.rowsPerTable);
    if (many && base) rows.push(`| initial copy vs table count (${shape(base)} vs ${shape(many)} rows), s | ${spread(base.seconds, 1)} vs ${spread(many.seconds, 1)} | | ${many.tables} tables / 1: ${round(median(many.seconds) / median(base.seconds), 2)}x the time |`);
    rows.push(`| daemon peak RSS during the copies, MiB | ${r.copy.map((p) => `${shape(p)}: ${Math.round(Math.max(...p.peakRssMiB))}`).join(", ")} | | |`);
  }
  if (r.links?.length) {
    const counts = r.links.map((p) => p.links).join(" / ");
    rows.push(`| links in one daemon (${counts}), aggregate applied rows/s on one backlog${runs} | ${r.links.map((p) => spread(p.rowsPerSec)).join(" ; ")} | | ${r.links.at(-1)!.links} links / 1: ${round(median(r.links.at(-1)!.rowsPerSec) / median(r.links[0].rowsPerSec), 2)}x |`);
    rows.push(`| links in one daemon (${counts}), lag p99 per link at ${r.links[0].lagRate} tx/s in all, ms (median link / worst link) | ${r.links.map((p) => `${Math.round(median(p.lagP99Ms))} / ${Math.round(Math.max(...p.lagP99Ms))}`).join(" ; ")} | | |`);
    rows.push(`| links in one daemon (${counts}), daemon peak RSS, MiB | ${r.links.map((p) => Math.round(Math.max(...p.peakRssMiB))).join(" / ")} | | |`);
  }
  if (r.wide) {
    for (const [name, w] of [["sysbench oltp_write_only", r.wide.sysbench], [`wide rows (~${r.wide.rowBytes / 1024} KB TEXT, same statement shape)`, r.wide.wide]] as const) {
      rows.push(`| catch-up, ${name}, ${w.transactions.toLocaleString("en-US")} tx (${Math.round(median(w.binlogBytes) / 2 ** 20)} MiB of binlog), tx/s${runs} | ${spread(w.daemonTxPerSec)} | native 1 thread ${spread(w.nativeTxPerSec)} | ${round(median(w.daemonTxPerSec) / median(w.nativeTxPerSec), 2)}x |`);
    }
  }
  return rows;
}

/** One PNG (and SVG) per curve: `${basePath}-<curve>.png`. */
export async function writeScalingCharts(r: ScalingResults, basePath: string): Promise<string[]> {
  const files: string[] = [];
  const chart = async (name: string, spec: object) => {
    await renderChart({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", ...spec }, `${basePath}-${name}`);
    files.push(`${basePath}-${name}.png`);
  };
  const panel = (title: string, values: object[], x: object, y: object, color?: object) => ({
    title, width: 320, height: 220, data: { values },
    mark: { type: "line", point: true },
    encoding: { x, y, ...(color ? { color } : {}) },
  });
  const logX = (field: string, title: string) => ({ field, type: "quantitative", title, scale: { type: "log" } });
  if (r.backlog?.length) {
    const values = r.backlog.map((p) => ({ transactions: p.transactions, txPerSec: median(p.txPerSec), rssMiB: Math.max(...p.peakRssMiB) }));
    await chart("backlog", {
      title: "Catch-up against the backlog's size (sysbench oltp_write_only)",
      hconcat: [
        panel("applied transactions/s (median)", values, logX("transactions", "backlog, transactions"), { field: "txPerSec", type: "quantitative", title: "tx/s", scale: { zero: true } }),
        panel("daemon peak RSS", values, logX("transactions", "backlog, transactions"), { field: "rssMiB", type: "quantitative", title: "MiB", scale: { zero: true } }),
      ],
    });
  }
  if (r.copy?.length) {
    const values = r.copy.map((p) => ({ shape: `${shape(p)} rows`, rows: p.tables * p.rowsPerTable, seconds: median(p.seconds), rowsPerSec: (p.tables * p.rowsPerTable) / median(p.seconds) }));
    const bars = (field: string, title: string) => ({
      width: 300, height: 50 * values.length, data: { values }, mark: "bar",
      encoding: { y: { field: "shape", type: "nominal", title: null, sort: null }, x: { field, type: "quantitative", title } },
    });
    await chart("copy", {
      title: "Initial copy against table size and table count (median)",
      hconcat: [bars("seconds", "seconds"), bars("rowsPerSec", "rows/s")],
    });
  }
  if (r.links?.length) {
    const values = r.links.map((p) => ({ links: p.links, rowsPerSec: median(p.rowsPerSec), lagMs: Math.max(...p.lagP99Ms), lagMedianMs: median(p.lagP99Ms), rssMiB: Math.max(...p.peakRssMiB) }));
    const lag = values.flatMap((v) => [{ links: v.links, ms: v.lagMs, which: "worst link" }, { links: v.links, ms: v.lagMedianMs, which: "median link" }]);
    const x = logX("links", "links in one daemon");
    await chart("links", {
      title: "Many links in one daemon (the same workload spread over the links)",
      hconcat: [
        panel("aggregate applied rows/s on a backlog", values, x, { field: "rowsPerSec", type: "quantitative", title: "rows/s", scale: { zero: true } }),
        panel(`lag p99 per link, ${r.links[0].lagRate} tx/s in all`, lag, x, { field: "ms", type: "quantitative", title: "ms" }, { field: "which", type: "nominal", title: null, legend: { orient: "bottom" } }),
        panel("daemon peak RSS", values, x, { field: "rssMiB", type: "quantitative", title: "MiB", scale: { zero: true } }),
      ],
    });
  }
  if (r.wide) {
    const values = (["sysbench", "wide"] as const).flatMap((k) => {
      const w = r.wide![k];
      const workload = k === "sysbench" ? "sysbench oltp_write_only" : `~${r.wide!.rowBytes / 1024} KB rows`;
      return [
        { workload, who: "mysql-dr daemon", txPerSec: median(w.daemonTxPerSec), mibPerSec: (median(w.daemonTxPerSec) * median(w.binlogBytes)) / w.transactions / 2 ** 20 },
        { workload, who: "native, 1 thread", txPerSec: median(w.nativeTxPerSec), mibPerSec: (median(w.nativeTxPerSec) * median(w.binlogBytes)) / w.transactions / 2 ** 20 },
      ];
    });
    const bars = (field: string, title: string) => ({
      width: 320, height: 120, data: { values }, mark: "bar",
      encoding: {
        row: { field: "workload", type: "nominal", title: null },
        y: { field: "who", type: "nominal", title: null },
        x: { field, type: "quantitative", title },
        color: { field: "who", type: "nominal", legend: null },
      },
    });
    await chart("wide", {
      title: "Catch-up on the same backlog: wide rows next to sysbench (median)",
      hconcat: [bars("txPerSec", "transactions/s"), bars("mibPerSec", "binlog MiB/s")],
    });
  }
  return files;
}

// --- run alone ---

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function numbers(name: string): number[] | undefined {
  return flag(name)?.split(",").map(Number);
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const only = flag("--only")?.split(",") as Curve[] | undefined;
  const unknown = only?.filter((c) => !CURVES.includes(c));
  if (unknown?.length) throw new Error(`--only ${unknown.join(",")}: the curves are ${CURVES.join(", ")}`);
  const single = (name: string) => (flag(name) === undefined ? undefined : Number(flag(name)));
  const overrides: Partial<ScalingSizes> = {
    runs: single("--runs"), backlogs: numbers("--backlogs"), backlogTableRows: single("--backlog-table-rows"), copyRows: numbers("--copy-rows"), copyTables: single("--copy-tables"),
    links: numbers("--links"), linkTransactions: single("--link-transactions"), linkRows: single("--link-rows"), linkRate: single("--link-rate"), linkSeconds: single("--link-seconds"),
    wideRows: single("--wide-rows"), wideTransactions: single("--wide-transactions"),
  };
  const sizes = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<ScalingSizes>;
  const resultsDir = path.join(REPO, "bench", "results");
  const base = path.join(resultsDir, quick ? "scaling-quick" : "scaling");
  if (process.argv.includes("--charts-only")) {
    // The charts and rows again from the file, without running anything.
    const saved = JSON.parse(fs.readFileSync(`${base}.json`, "utf8")) as ScalingResults;
    await writeScalingCharts(saved, base);
    process.stdout.write(scalingMarkdownRows(saved).join("\n") + "\n");
    return;
  }
  ensurePeers();
  const lab = new Lab();
  const started = Date.now();
  let results: ScalingResults;
  try {
    results = await runScaling(lab, { quick, only, sizes });
  } finally {
    await lab.close();
  }
  // Curves not run this time are kept from the previous file (with the sizes they ran at).
  const previous = fs.existsSync(`${base}.json`) ? (JSON.parse(fs.readFileSync(`${base}.json`, "utf8")) as ScalingResults & { curveSizes?: Record<string, ScalingSizes> }) : undefined;
  const ran = only ?? [...CURVES];
  const merged: ScalingResults & { curveSizes: Record<string, ScalingSizes> } = { ...previous, ...results, rssAtStartMiB: { ...previous?.rssAtStartMiB, ...results.rssAtStartMiB }, curveSizes: { ...previous?.curveSizes, ...Object.fromEntries(ran.map((c) => [c, results.sizes])) } };
  for (const c of CURVES) if (!ran.includes(c) && previous?.[c]) (merged as unknown as Record<string, unknown>)[c] = previous[c];
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(`${base}.json`, JSON.stringify(merged, null, 2) + "\n");
  const charts = await writeScalingCharts(merged, base);
  process.stdout.write(scalingMarkdownRows(merged).join("\n") + "\n\n");
  process.stdout.write(`${charts.map((f) => path.relative(REPO, f)).join("\n")}\n`);
  benchLog(`scaling: ${ran.join(", ")} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`scaling failed: ${err instanceof Error ? err.stack : err}\n`);
    process.exit(1);
  });
}
