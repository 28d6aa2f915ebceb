/**
 * `make bench` / `make bench-quick`: the daemon measured side by side with the reference systems
 * in one run on one machine: native MariaDB GTID replication (one applier thread, and four
 * optimistic parallel threads), mydumper/myloader and mariadb-dump, pt-table-checksum and
 * pt-heartbeat. Every scenario runs 5 times (once with --quick, on the same shapes); prints a
 * markdown table with min / median / max, writes every raw figure to bench/results/latest.json
 * (quick.json) with charts, and ends with one JSON line of ratios.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promote } from "../provider/src/promote/promoter";
import { parseServerUrl } from "../provider/src/core/connection-url";
import { type CatchUp, type Server, Lab, REPO, configureNativeReplica, durableWrites, ensurePeers, fsyncLatencyMs, log, nativeApplied, percentile, positionProbe, quiesce, rotated, sleep, startReplica, stats, stopReplica, sysbench, sysbenchAsync, sysbenchTps, timeCatchUp, timeUntilCovered, timed } from "./lab";
import { writeCharts } from "./charts";
import { type ScalingResults, runScaling, scalingMarkdownRows, writeScalingCharts } from "./scaling";
import { type TpccResult, runTpcc } from "./tpcc";

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

const QUICK = process.argv.includes("--quick");
/**
 * The quick run has the full run's shapes (table sizes, backlogs, rates) and fewer runs, so its
 * ratios are the full run's; --runs, --table-rows and --backlog override them (for experiments).
 */
const SIZE = {
  tables: 4,
  tableRows: arg("--table-rows") ?? 250_000,
  backlogEvents: arg("--backlog") ?? 10_000,
  runs: arg("--runs") ?? (QUICK ? 1 : 5),
  lagRates: [520, 1000],
  lagSeconds: 20,
  tpcc: { warehouses: 1, customers: 300, items: 10_000, transactions: 3_000 },
};
/** --only catchup,lag,copy,verify,tpcc,promote: a subset of the scenarios (for experiments; the ratios of the others are then missing). */
const ONLY = process.argv.includes("--only") ? new Set(process.argv[process.argv.indexOf("--only") + 1].split(",")) : undefined;
const runs = (scenario: string) => !ONLY || ONLY.has(scenario);
/** --as-before: the catch-up as the harness measured it until now (native single-thread always first, nothing flushed between contenders), to compare. */
const AS_BEFORE = process.argv.includes("--as-before");
const THREADS = 4;
const RESULTS = path.join(REPO, "bench", "results");
/**
 * pt-heartbeat on the native replica: the master's row is stamped every `interval` s; the monitor
 * reads `skew` s after each stamp and reports now - stamp - skew, floored at 0. Its default skew
 * (0.5 s) made every lag under about 0.4 s read 0 and every larger one 0.5 s too small; half an
 * interval gives a resolution of one interval.
 */
const PT_HEARTBEAT = { interval: 0.05, skew: 0.025 };
const CATCHUP_CONTENDERS = ["nativeSingle", "nativeParallel4", "daemon"] as const;
type CatchupContender = (typeof CATCHUP_CONTENDERS)[number];

/** One catch-up run: the order the contenders ran in after the backlog was written, and each one's catch-up. */
interface CatchupRun {
  order: CatchupContender[];
  rows: number;
  /** The disk's fsync latency (median, ms) measured just before each contender started. */
  fsyncMs: Record<CatchupContender, number>;
  /** The fsyncs each contender's server did for the backlog (InnoDB's, and binlog group commits). */
  durableWrites: Record<CatchupContender, { innodbFsyncs: number; binlogGroupCommits: number }>;
  /** Seconds spent flushing the servers' dirty pages before each contender. */
  quiesceSeconds: Record<CatchupContender, number>;
  contenders: Record<CatchupContender, CatchUp>;
}

/** One window of steady load at a fixed rate, the daemon and the native single-thread replica replicating it at the same time. */
interface LagWindow {
  rate: number;
  /** What sysbench committed per second on the master (the rate is a target it may miss). */
  achievedTps: number;
  daemonMs: number[];
  nativeMs: number[];
  /** Seconds each one needed after the load stopped to cover the master's last GTID (a cross-check of the lag samples). */
  drainSeconds: { daemon: number; native: number };
  series: { t: number; daemon?: number; native?: number }[];
}

interface Results {
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  catchup: Record<CatchupContender, { txPerSec: number[]; rowsPerSec: number[] }>;
  catchupRuns: CatchupRun[];
  lag: LagWindow[];
  /** mydumperMyloader: myloader -e (binlogged, as the daemon's copy and mariadb-dump are); mydumperMyloaderUnlogged: its default, sql_log_bin=0. */
  copy: { rows: number; daemon: number[]; mydumperMyloader: number[]; mydumperMyloaderUnlogged: number[]; mariadbDump: number[] };
  verify: { rows: number; daemon: number[]; ptTableChecksum: number[] };
  tpcc?: TpccResult;
  scaling?: ScalingResults;
  promote: { plannedMs: number; forcedMs: number };
  peakRssMiB: Record<string, number>;
}

async function main(): Promise<void> {
  ensurePeers();
  const lab = new Lab();
  const results: Results = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version, loadAverageAtStart: os.loadavg() },
    settings: { ...SIZE, quick: QUICK, asBefore: AS_BEFORE, only: ONLY ? [...ONLY] : "all", durability: "sync_binlog=1, innodb_flush_log_at_trx_commit=1 on every server", binlog: "ROW, FULL image, metadata FULL, log_slave_updates on every replica", bufferPool: "128M" },
    catchup: { nativeSingle: { txPerSec: [], rowsPerSec: [] }, nativeParallel4: { txPerSec: [], rowsPerSec: [] }, daemon: { txPerSec: [], rowsPerSec: [] } },
    catchupRuns: [],
    lag: [],
    copy: { rows: 0, daemon: [], mydumperMyloader: [], mydumperMyloaderUnlogged: [], mariadbDump: [] },
    verify: { rows: 0, daemon: [], ptTableChecksum: [] },
    promote: { plannedMs: NaN, forcedMs: NaN },
    peakRssMiB: {},
  };
  const benchStarted = Date.now();
  try {
    log("starting servers");
    const [master, single, parallel, dr, copyTarget, spare] = await Promise.all(["master", "native1", "native4", "dr", "copy", "spare"].map((n) => lab.server(n)));
    results.settings.server = master.info.version;
    await configureNativeReplica(single, master, 0);
    await configureNativeReplica(parallel, master, THREADS);
    await Promise.all([startReplica(single), startReplica(parallel)]);
    const daemon = await lab.startDaemon();
    await daemon.createLink({ name: "bench", source: master.url, target: dr.url, include: ["sbtest"], initial: "none" });
    await master.sql("CREATE DATABASE sbtest");
    log(`sysbench prepare: ${SIZE.tables} tables x ${SIZE.tableRows} rows`);
    sysbench(master, [`--tables=${SIZE.tables}`, `--table-size=${SIZE.tableRows}`, `--threads=${THREADS}`, "prepare"]);
    await caughtUp(master, single, parallel, lab);
    const tableArgs = [`--tables=${SIZE.tables}`, `--table-size=${SIZE.tableRows}`, `--threads=${THREADS}`];

    // 1. Catch-up: the same backlog for every contender, applied one contender at a time, in an
    // order rotated between runs (the first one after the backlog shares the machine with the
    // master's background flushing of the backlog's pages).
    if (runs("catchup")) {
      const singleProbe = await positionProbe(single);
      const parallelProbe = await positionProbe(parallel);
      const daemonProbe = await positionProbe(dr, "bench");
      const contender: Record<CatchupContender, { server: Server; start: () => Promise<void>; applied: () => Promise<string | null> }> = {
        nativeSingle: { server: single, start: () => startReplica(single), applied: singleProbe.applied },
        nativeParallel4: { server: parallel, start: () => startReplica(parallel), applied: parallelProbe.applied },
        daemon: { server: dr, start: async () => void (lab.resetDaemonPeakRss(), await daemon.resumeLink("bench")), applied: daemonProbe.applied },
      };
      for (let run = 0; run < SIZE.runs; run++) {
        await Promise.all([stopReplica(single), stopReplica(parallel), daemon.pauseLink("bench")]);
        const before = (await daemon.getLink("bench")).rowsApplied;
        log(`catch-up run ${run + 1}/${SIZE.runs}: backlog of ${SIZE.backlogEvents} sysbench transactions`);
        sysbench(master, [...tableArgs, `--events=${SIZE.backlogEvents}`, "--time=0", "--rand-seed=" + (run + 1), "run"]);
        const target = await master.position();
        const order = AS_BEFORE ? [...CATCHUP_CONTENDERS] : rotated([...CATCHUP_CONTENDERS], run);
        const measured: Partial<Record<CatchupContender, CatchUp>> = {};
        const fsyncMs: Partial<Record<CatchupContender, number>> = {};
        const quiesceSeconds: Partial<Record<CatchupContender, number>> = {};
        const writes: Partial<Record<CatchupContender, { innodbFsyncs: number; binlogGroupCommits: number }>> = {};
        for (const who of order) {
          quiesceSeconds[who] = AS_BEFORE ? 0 : await quiesce([master, single, parallel, dr]);
          fsyncMs[who] = fsyncLatencyMs(lab.dir);
          const writesBefore = await durableWrites(contender[who].server);
          measured[who] = await timeCatchUp(contender[who].start, contender[who].applied, target);
          const writesAfter = await durableWrites(contender[who].server);
          writes[who] = { innodbFsyncs: writesAfter.innodbFsyncs - writesBefore.innodbFsyncs, binlogGroupCommits: writesAfter.binlogGroupCommits - writesBefore.binlogGroupCommits };
          if (who === "daemon") results.peakRssMiB.catchup = Math.max(results.peakRssMiB.catchup ?? 0, lab.daemonPeakRssMiB());
        }
        const rows = (await daemon.getLink("bench")).rowsApplied - before;
        for (const who of CATCHUP_CONTENDERS) {
          results.catchup[who].txPerSec.push(SIZE.backlogEvents / measured[who]!.seconds);
          results.catchup[who].rowsPerSec.push(rows / measured[who]!.seconds);
        }
        results.catchupRuns.push({ order, rows, fsyncMs: fsyncMs as Record<CatchupContender, number>, quiesceSeconds: quiesceSeconds as Record<CatchupContender, number>, durableWrites: writes as CatchupRun["durableWrites"], contenders: measured as Record<CatchupContender, CatchUp> });
        log(`  order ${order.join(", ")}; seconds (first applied after; fsync ms before; flushed for s; durable writes): ${order.map((w) => `${w} ${measured[w]!.seconds.toFixed(2)} (${measured[w]!.firstApplySeconds.toFixed(2)}; ${fsyncMs[w]!.toFixed(2)}; ${quiesceSeconds[w]!.toFixed(1)}; ${writes[w]!.innodbFsyncs} InnoDB fsyncs, ${writes[w]!.binlogGroupCommits} binlog commits)`).join(", ")}; rows ${rows}`);
      }
      await Promise.all([singleProbe.close(), parallelProbe.close(), daemonProbe.close(), startReplica(single), startReplica(parallel)]);
      await caughtUp(master, single, parallel, lab);
    }

    // 2. Steady lag at fixed rates: the daemon and the native single-thread replica replicate the
    // same load at the same time; the parallel replica is stopped (it is not measured here, and on
    // two cores it would take its share of the CPU from the two that are).
    if (runs("lag")) {
      await stopReplica(parallel);
      await master.sql("CREATE DATABASE IF NOT EXISTS percona_hb");
      const heartbeat = spawn("pt-heartbeat", ["--update", "-h", "127.0.0.1", "-P", String(master.port), "-u", "root", "-D", "percona_hb", "--create-table", "--interval", String(PT_HEARTBEAT.interval)], { stdio: "ignore" });
      await sleep(1500);
      // pt-heartbeat buffers its stdout when piped: its --file holds the latest measurement instead.
      const monitorFile = path.join(lab.dir, "pt-heartbeat.txt");
      const monitor = spawn("pt-heartbeat", ["--monitor", "-h", "127.0.0.1", "-P", String(single.port), "-u", "root", "-D", "percona_hb", "--interval", String(PT_HEARTBEAT.interval), "--skew", String(PT_HEARTBEAT.skew), "--master-server-id", String(master.port), "--file", monitorFile], { stdio: "ignore" });
      try {
        lab.resetDaemonPeakRss();
        for (let run = 0; run < SIZE.runs; run++) {
          for (const rate of SIZE.lagRates) {
            await timeUntilCovered(async () => (await daemon.getLink("bench")).appliedGtid, await master.position());
            await timeUntilCovered(() => nativeApplied(single), await master.position());
            log(`steady lag ${run + 1}/${SIZE.runs}: ${rate} transactions/s for ${SIZE.lagSeconds} s`);
            results.lag.push(await lagWindow(master, single, lab, rate, tableArgs, monitorFile));
            const w = results.lag.at(-1)!;
            log(`  achieved ${w.achievedTps.toFixed(0)} tx/s; p99 daemon ${Math.round(percentile(w.daemonMs, 99))} ms, native ${Math.round(percentile(w.nativeMs, 99))} ms; drained after ${w.drainSeconds.daemon.toFixed(2)} s / ${w.drainSeconds.native.toFixed(2)} s`);
          }
        }
      } finally {
        monitor.kill();
        heartbeat.kill();
      }
      results.peakRssMiB.lag = lab.daemonPeakRssMiB();
      await startReplica(parallel);
    }

    // 3. Initial copy of the sysbench tables into an empty server, the same threads for everyone.
    const rowsToCopy = SIZE.tables * SIZE.tableRows;
    if (runs("copy")) {
      results.copy.rows = rowsToCopy;
      lab.resetDaemonPeakRss();
      // Every server of the lab, the native replicas too: their purge of the earlier scenarios takes the same two cores.
      const copyServers = [master, copyTarget, single, parallel, dr];
      const timedDaemonCopy = async (): Promise<number> => {
        await quiesce(copyServers);
        const copyStart = Date.now();
        await daemon.createLink({ name: "copy", source: master.url, target: copyTarget.url, include: ["sbtest"], initial: "full", parallel: THREADS });
        for (;;) {
          const s = await daemon.getLink("copy");
          if (s.state === "error") throw new Error(`copy failed: ${s.lastError}`);
          if (s.phase === "syncing" && s.state === "running") break;
          await sleep(100);
        }
        const seconds = (Date.now() - copyStart) / 1000;
        await daemon.deleteLink("copy");
        return seconds;
      };
      const timeDumpers = async (): Promise<void> => {
        const dumpDir = path.join(lab.dir, "mydumper");
        fs.rmSync(dumpDir, { recursive: true, force: true });
        await quiesce(copyServers);
        const mydump = timed("mydumper", ["-h", "127.0.0.1", "-P", String(master.port), "-u", "root", "-B", "sbtest", "-t", String(THREADS), "-o", dumpDir]);
        // Like for like: the daemon's copy goes into the DR server's binlog, as every write there does,
        // and so does mariadb-dump's; myloader skips it unless given -e, so it runs both ways.
        const myloader = async (db: string, binlog: boolean) => (await quiesce(copyServers), timed("myloader", ["-h", "127.0.0.1", "-P", String(copyTarget.port), "-u", "root", "-d", dumpDir, "-t", String(THREADS), "-B", db, "-o", ...(binlog ? ["-e"] : [])]));
        results.copy.mydumperMyloader.push(mydump + (await myloader("sbtest_mydumper", true)));
        results.copy.mydumperMyloaderUnlogged.push(mydump + (await myloader("sbtest_unlogged", false)));
        await copyTarget.sql("CREATE DATABASE sbtest_dump");
        await quiesce(copyServers);
        results.copy.mariadbDump.push(timed("sh", ["-c", `mariadb-dump -h127.0.0.1 -P${master.port} -uroot --single-transaction sbtest | mariadb -h127.0.0.1 -P${copyTarget.port} -uroot sbtest_dump`]));
      };
      for (let run = 0; run < SIZE.runs; run++) {
        // The order rotates between runs and every contender starts on servers whose dirty pages
        // are flushed and whose purge has caught up: the first copy after the lag scenario otherwise
        // shares the machine with the servers' flushing and purging of it (the quick run's single
        // daemon copy took 14 to 15 s there, against 7.7 s run alone).
        const order = rotated(["daemon", "dumpers"] as const, run);
        log(`initial copy ${run + 1}/${SIZE.runs} of ${rowsToCopy} rows, ${order.join(" then ")}`);
        // An empty target each time (the daemon keeps a deleted link's checkpoint on its target).
        await copyTarget.sql("DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS sbtest_mydumper; DROP DATABASE IF EXISTS sbtest_unlogged; DROP DATABASE IF EXISTS sbtest_dump; DROP DATABASE IF EXISTS mysql_dr");
        for (const who of order) {
          if (who === "daemon") results.copy.daemon.push(await timedDaemonCopy());
          else await timeDumpers();
        }
      }
      results.peakRssMiB.copy = lab.daemonPeakRssMiB();
    }

    // 4. Verification of the same tables: mysql-dr verify (master vs DR) against pt-table-checksum (master vs native replica).
    if (runs("verify")) {
      results.verify.rows = rowsToCopy;
      for (let run = 0; run < SIZE.runs; run++) {
        log(`verification ${run + 1}/${SIZE.runs}`);
        const verifyStart = Date.now();
        const verified = timed(process.execPath, [path.join(REPO, "bin", "mysql-dr.js"), "verify", "--source", master.url, "--target", dr.url, "--include", "sbtest", "--json"]);
        results.verify.daemon.push(verified || (Date.now() - verifyStart) / 1000);
        const ptStart = Date.now();
        timed("pt-table-checksum", [`h=127.0.0.1,P=${master.port},u=root`, "--databases", "sbtest", "--recursion-method=none", "--no-check-binlog-format", "--no-check-replication-filters", "--chunk-size=10000"]);
        await timeUntilCovered(() => nativeApplied(single), await master.position());
        await single.sql("SELECT db, tbl, chunk FROM percona.checksums WHERE master_cnt <> this_cnt OR master_crc <> this_crc OR ISNULL(master_crc) <> ISNULL(this_crc)");
        results.verify.ptTableChecksum.push((Date.now() - ptStart) / 1000);
      }
    }

    // 5. Catch-up on a TPC-C-like workload (bench/tpcc.ts), the daemon against the native
    // single-thread replica, with CPU; the sbtest link and the parallel replica are stopped so that
    // neither reads or applies the TPC-C binlog and takes CPU from the two measured.
    if (runs("tpcc")) {
      await Promise.all([daemon.pauseLink("bench"), stopReplica(parallel)]);
      lab.resetDaemonPeakRss();
      results.tpcc = await runTpcc({ master, dr, native: single, daemon, daemonPid: lab.daemonPid, settle: [master, dr, single, parallel, copyTarget, spare] }, { ...SIZE.tpcc, runs: SIZE.runs });
      results.peakRssMiB.tpcc = lab.daemonPeakRssMiB();
      await Promise.all([daemon.resumeLink("bench"), startReplica(parallel)]);
    }

    // 6. Scaling curves, full run only (bench/scaling.ts, servers of their own; it runs them alone too):
    // catch-up vs backlog size, copy vs table size and count, many links, wide rows; each with its chart.
    if (!QUICK && runs("scaling")) results.scaling = await runScaling(lab, { quick: false, log });

    // 7. Promotion: planned with the link caught up, and forced with the master gone (last: it ends the servers' roles).
    if (runs("promote")) {
      log("promotion");
      await timeUntilCovered(async () => (await daemon.getLink("bench")).appliedGtid, await master.position());
      let t = Date.now();
      await promote({ target: parseServerUrl(dr.url), master: parseServerUrl(master.url), timeoutSeconds: 30 });
      await dr.sql("CREATE DATABASE promoted_check");
      results.promote.plannedMs = Date.now() - t;
      await master.sql("SET GLOBAL read_only = OFF");
      await daemon.createLink({ name: "forced", source: master.url, target: spare.url, include: ["nothing"], initial: "none" });
      await sleep(1000);
      t = Date.now();
      await promote({ target: parseServerUrl(spare.url), master: parseServerUrl("mysql://root@127.0.0.1:1"), allowDataLoss: true });
      await spare.sql("CREATE DATABASE promoted_check");
      results.promote.forcedMs = Date.now() - t;
    }
  } finally {
    await lab.close();
  }
  results.settings.durationSeconds = Math.round((Date.now() - benchStarted) / 1000);
  await report(results);
}

/** One window of load at `rate`: samples both lags every 100 ms, then times each one's drain. */
async function lagWindow(master: Server, single: Server, lab: Lab, rate: number, tableArgs: string[], monitorFile: string): Promise<LagWindow> {
  const daemon = lab.daemon!;
  const w: LagWindow = { rate, achievedTps: NaN, daemonMs: [], nativeMs: [], drainSeconds: { daemon: NaN, native: NaN }, series: [] };
  const started = Date.now();
  const load = sysbenchAsync(master, [...tableArgs, `--rate=${rate}`, `--time=${SIZE.lagSeconds}`, "run"]);
  let loading = true;
  void load.finally(() => (loading = false)).catch(() => undefined);
  while (loading) {
    const t = (Date.now() - started) / 1000;
    const lag = (await daemon.getLink("bench")).lagSeconds;
    if (lag !== null) {
      w.daemonMs.push(lag * 1000);
      w.series.push({ t, daemon: lag * 1000 });
    }
    const native = /^\s*([\d.]+)s/.exec(fs.existsSync(monitorFile) ? fs.readFileSync(monitorFile, "utf8") : "");
    if (native) {
      w.nativeMs.push(Number(native[1]) * 1000);
      w.series.push({ t, native: Number(native[1]) * 1000 });
    }
    await sleep(100);
  }
  w.achievedTps = sysbenchTps(await load);
  const last = await master.position();
  const [d, n] = await Promise.all([
    timeUntilCovered(async () => (await daemon.getLink("bench")).appliedGtid, last),
    timeUntilCovered(() => nativeApplied(single), last),
  ]);
  w.drainSeconds = { daemon: d, native: n };
  return w;
}

async function caughtUp(master: Server, single: Server, parallel: Server, lab: Lab): Promise<void> {
  const target = await master.position();
  await timeUntilCovered(() => nativeApplied(single), target);
  await timeUntilCovered(() => nativeApplied(parallel), target);
  await timeUntilCovered(async () => (await lab.daemon!.getLink("bench")).appliedGtid, target);
}

async function report(r: Results): Promise<void> {
  const median = (xs: number[]) => stats(xs).median;
  const spread = (xs: number[], digits = 0) => {
    if (!xs.length) return "-";
    const s = stats(xs);
    return `${s.min.toFixed(digits)} / ${s.median.toFixed(digits)} / ${s.max.toFixed(digits)}`;
  };
  // Catch-up ratios are paired per run (the same backlog on the same machine moments apart), then the median of the runs.
  const perRun = (who: CatchupContender) => r.catchupRuns.map((run) => run.contenders[who].seconds / run.contenders.daemon.seconds);
  const lagAt = (rate: number) => {
    const windows = r.lag.filter((w) => w.rate === rate);
    return { windows, daemonMs: windows.flatMap((w) => w.daemonMs), nativeMs: windows.flatMap((w) => w.nativeMs) };
  };
  // Below pt-heartbeat's resolution (its interval) both read as that resolution: 0 ms against 0 ms is a tie, not a division by 0.
  const resolutionMs = PT_HEARTBEAT.interval * 1000;
  const lagRatio = (rate: number) => Math.max(resolutionMs, percentile(lagAt(rate).daemonMs, 99)) / Math.max(resolutionMs, percentile(lagAt(rate).nativeMs, 99));
  const lagRatios = Object.fromEntries(SIZE.lagRates.map((rate) => [String(rate), round(lagRatio(rate))]));
  const ratios = {
    catchupVsNativeSingle: round(median(perRun("nativeSingle"))),
    catchupVsNativeParallel4: round(median(perRun("nativeParallel4"))),
    lagP99Ms: Math.round(percentile(lagAt(SIZE.lagRates[0]).daemonMs, 99)),
    copyVsMydumper: round(median(r.copy.mydumperMyloader) / median(r.copy.daemon)),
    copyVsMydumperUnlogged: round(median(r.copy.mydumperMyloaderUnlogged) / median(r.copy.daemon)),
    verifyVsPtTableChecksum: round(median(r.verify.ptTableChecksum) / median(r.verify.daemon)),
    promotePlannedMs: r.promote.plannedMs,
    promoteForcedMs: r.promote.forcedMs,
    peakRssMiB: Math.round(Math.max(...Object.values(r.peakRssMiB))),
    catchupTpccVsNativeSingle: r.tpcc ? round(r.tpcc.daemonVsNative.median) : NaN,
    cpuPerTransactionVsNative: r.tpcc ? round(r.tpcc.cpuDaemonPlusDrVsNative.median) : NaN,
    // The worse of the rates (the target is <= 1 at each); per rate below.
    lagP99VsNative: round(Math.max(...Object.values(lagRatios))),
    lagP99VsNativeByRate: lagRatios,
  };
  const pcts = (xs: number[]) => [50, 95, 99, 100].map((p) => Math.round(percentile(xs, p))).join(" / ");
  const tpcc = r.tpcc;
  const lines = [
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ${r.settings.server}; ${r.settings.durability}; ${SIZE.runs} run(s) per scenario${QUICK ? " (quick)" : ""}, ${r.settings.durationSeconds} s in all; load average at the start ${(r.machine.loadAverageAtStart as number[]).map((x) => x.toFixed(1)).join(", ")}`,
    `Shapes: ${SIZE.tables} sysbench tables x ${SIZE.tableRows} rows; catch-up backlog ${SIZE.backlogEvents} oltp_write_only transactions; lag windows of ${SIZE.lagSeconds} s; TPC-C-like ${SIZE.tpcc.warehouses} warehouse(s), backlog ${SIZE.tpcc.transactions} transactions. Figures are min / median / max over the runs.`,
    "",
    "| scenario | mysql-dr | reference | ratio (min / median / max) |",
    "|---|---|---|---|",
    `| catch-up, transactions/s | ${spread(r.catchup.daemon.txPerSec)} | native 1 thread ${spread(r.catchup.nativeSingle.txPerSec)} | ${spread(perRun("nativeSingle"), 2)}x |`,
    `| catch-up, transactions/s | ${spread(r.catchup.daemon.txPerSec)} | native parallel(4, optimistic) ${spread(r.catchup.nativeParallel4.txPerSec)} | ${spread(perRun("nativeParallel4"), 2)}x |`,
    `| catch-up, rows/s | ${spread(r.catchup.daemon.rowsPerSec)} | native 1 thread ${spread(r.catchup.nativeSingle.rowsPerSec)} | |`,
    `| catch-up, seconds until the first transaction applied | ${spread(r.catchupRuns.map((x) => x.contenders.daemon.firstApplySeconds), 2)} | native 1 thread ${spread(r.catchupRuns.map((x) => x.contenders.nativeSingle.firstApplySeconds), 2)} | |`,
    ...(tpcc
      ? [
          `| TPC-C-like catch-up, transactions/s | ${spread(tpcc.runs.map((x) => tpcc.options.transactions / x.daemon.seconds))} | native 1 thread ${spread(tpcc.runs.map((x) => tpcc.options.transactions / x.native.seconds))} | ${spread(tpcc.runs.map((x) => x.native.seconds / x.daemon.seconds), 2)}x |`,
          `| TPC-C-like CPU per transaction, ms (daemon + DR server) | ${spread(tpcc.runs.map((x) => ((x.cpuSeconds.daemon + x.cpuSeconds.drServer) * 1000) / tpcc.options.transactions), 2)} | native replica ${spread(tpcc.runs.map((x) => (x.cpuSeconds.nativeReplica * 1000) / tpcc.options.transactions), 2)} | ${spread(tpcc.runs.map((x) => (x.cpuSeconds.daemon + x.cpuSeconds.drServer) / x.cpuSeconds.nativeReplica), 2)}x (lower is better) |`,
        ]
      : []),
    ...SIZE.lagRates.map((rate) => {
      const l = lagAt(rate);
      return `| steady lag at ${rate} tx/s (master achieved ${spread(l.windows.map((w) => w.achievedTps))}), p50 / p95 / p99 / max ms; drained after, s | ${pcts(l.daemonMs)}; ${spread(l.windows.map((w) => w.drainSeconds.daemon), 2)} | native 1 thread (pt-heartbeat) ${pcts(l.nativeMs)}; ${spread(l.windows.map((w) => w.drainSeconds.native), 2)} | p99 ${lagRatios[String(rate)]}x (lower is better) |`;
    }),
    `| initial copy of ${r.copy.rows} rows, s | ${spread(r.copy.daemon, 1)} | mydumper+myloader -e (binlogged, as the daemon's copy) ${spread(r.copy.mydumperMyloader, 1)}; without -e (unlogged) ${spread(r.copy.mydumperMyloaderUnlogged, 1)}; mariadb-dump ${spread(r.copy.mariadbDump, 1)} | ${ratios.copyVsMydumper}x (of medians; ${ratios.copyVsMydumperUnlogged}x against unlogged) |`,
    `| verification of ${r.verify.rows} rows, s | ${spread(r.verify.daemon, 1)} | pt-table-checksum ${spread(r.verify.ptTableChecksum, 1)} | ${ratios.verifyVsPtTableChecksum}x (of medians) |`,
    `| promotion, ms | planned ${r.promote.plannedMs}, forced ${r.promote.forcedMs} | | |`,
    `| daemon peak RSS, MiB | ${Object.entries(r.peakRssMiB).map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")} | | |`,
    ...(r.scaling ? scalingMarkdownRows(r.scaling) : []),
    ...(tpcc ? ["", `TPC-C-like data afterwards (CHECKSUM TABLE of the nine tables) equal to the master's: DR server ${tpcc.sameData.dr}, native replica ${tpcc.sameData.native}.`] : []),
  ];
  const markdown = lines.join("\n");
  fs.mkdirSync(RESULTS, { recursive: true });
  const base = QUICK ? "quick" : "latest";
  fs.writeFileSync(path.join(RESULTS, `${base}.json`), JSON.stringify({ ...r, ratios }, null, 2) + "\n");
  fs.writeFileSync(path.join(RESULTS, `${base}.md`), markdown + "\n");
  process.stdout.write(markdown + "\n\n");
  await writeCharts(r, path.join(RESULTS, base));
  if (r.scaling) await writeScalingCharts(r.scaling, path.join(RESULTS, `${base}-scaling`));
  process.stdout.write(JSON.stringify(ratios) + "\n");
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
