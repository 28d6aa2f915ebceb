/**
 * `make bench` / `make bench-quick`: the daemon measured side by side with the reference systems
 * in one run on one machine: native MariaDB GTID replication (one applier thread, and four
 * optimistic parallel threads), mydumper/myloader and mariadb-dump, pt-table-checksum and
 * pt-heartbeat. Prints a markdown table, writes bench/results/latest.json and charts, and ends
 * with one JSON line of ratios.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promote } from "../provider/src/promote/promoter";
import { parseServerUrl } from "../provider/src/core/connection-url";
import { type Server, Lab, REPO, configureNativeReplica, ensurePeers, log, nativeApplied, percentile, sleep, startReplica, stats, stopReplica, sysbench, sysbenchAsync, timeUntilCovered, timed } from "./lab";
import { writeCharts } from "./charts";

const QUICK = process.argv.includes("--quick");
const SIZE = QUICK
  ? { tableRows: 25_000, tables: 4, backlogEvents: 3_000, runs: 1, lagSeconds: 10 }
  : { tableRows: 250_000, tables: 4, backlogEvents: 30_000, runs: 3, lagSeconds: 60 };
const THREADS = 4;
const RESULTS = path.join(REPO, "bench", "results");

interface Results {
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  catchup: Record<string, { txPerSec: number[]; rowsPerSec: number[] }>;
  lag: { rate: number; daemonMs: number[]; nativeMs: number[]; series: { t: number; daemon?: number; native?: number }[] };
  copy: Record<string, number>;
  verify: Record<string, number>;
  promote: { plannedMs: number; forcedMs: number };
  peakRssMiB: Record<string, number>;
}

async function main(): Promise<void> {
  ensurePeers();
  const lab = new Lab();
  const results: Results = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version },
    settings: { ...SIZE, durability: "sync_binlog=1, innodb_flush_log_at_trx_commit=1 on every server", binlog: "ROW, FULL image, metadata FULL, log_slave_updates on every replica", bufferPool: "128M" },
    catchup: { nativeSingle: { txPerSec: [], rowsPerSec: [] }, nativeParallel4: { txPerSec: [], rowsPerSec: [] }, daemon: { txPerSec: [], rowsPerSec: [] } },
    lag: { rate: 0, daemonMs: [], nativeMs: [], series: [] },
    copy: {},
    verify: {},
    promote: { plannedMs: 0, forcedMs: 0 },
    peakRssMiB: {},
  };
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

    // 1. Catch-up: the same backlog for every contender, applied one contender at a time.
    for (let run = 0; run < SIZE.runs; run++) {
      await Promise.all([stopReplica(single), stopReplica(parallel), daemon.pauseLink("bench")]);
      const before = (await daemon.getLink("bench")).rowsApplied;
      log(`catch-up run ${run + 1}: backlog of ${SIZE.backlogEvents} sysbench transactions`);
      sysbench(master, [`--tables=${SIZE.tables}`, `--table-size=${SIZE.tableRows}`, `--threads=${THREADS}`, `--events=${SIZE.backlogEvents}`, "--time=0", "--rand-seed=" + (run + 1), "run"]);
      const target = await master.position();
      const seconds: Record<string, number> = {};
      await startReplica(single);
      seconds.nativeSingle = await timeUntilCovered(() => nativeApplied(single), target);
      await startReplica(parallel);
      seconds.nativeParallel4 = await timeUntilCovered(() => nativeApplied(parallel), target);
      lab.resetDaemonPeakRss();
      await daemon.resumeLink("bench");
      seconds.daemon = await timeUntilCovered(async () => (await daemon.getLink("bench")).appliedGtid, target);
      results.peakRssMiB.catchup = Math.max(results.peakRssMiB.catchup ?? 0, lab.daemonPeakRssMiB());
      const rows = (await daemon.getLink("bench")).rowsApplied - before;
      for (const [who, s] of Object.entries(seconds)) {
        results.catchup[who].txPerSec.push(SIZE.backlogEvents / s);
        results.catchup[who].rowsPerSec.push(rows / s);
      }
      log(`  seconds: ${JSON.stringify(seconds)}, rows ${rows}`);
    }

    // 2. Steady lag at half of what native single-thread replication applies.
    const rate = Math.max(1, Math.round(stats(results.catchup.nativeSingle.txPerSec).median / 2));
    results.lag.rate = rate;
    log(`steady lag: ${rate} transactions/s for ${SIZE.lagSeconds} s`);
    await master.sql("CREATE DATABASE IF NOT EXISTS percona_hb");
    const heartbeat = spawn("pt-heartbeat", ["--update", "-h", "127.0.0.1", "-P", String(master.port), "-u", "root", "-D", "percona_hb", "--create-table", "--interval", "0.1"], { stdio: "ignore" });
    await sleep(1500);
    // pt-heartbeat buffers its stdout when piped: its --file holds the latest measurement instead.
    const monitorFile = path.join(lab.dir, "pt-heartbeat.txt");
    const monitor = spawn("pt-heartbeat", ["--monitor", "-h", "127.0.0.1", "-P", String(single.port), "-u", "root", "-D", "percona_hb", "--interval", "0.1", "--master-server-id", String(master.port), "--file", monitorFile], { stdio: "ignore" });
    const started = Date.now();
    lab.resetDaemonPeakRss();
    const load = sysbenchAsync(master, [`--tables=${SIZE.tables}`, `--table-size=${SIZE.tableRows}`, `--threads=${THREADS}`, `--rate=${rate}`, `--time=${SIZE.lagSeconds}`, "run"]);
    let loading = true;
    void load.finally(() => (loading = false));
    while (loading) {
      const t = (Date.now() - started) / 1000;
      const lag = (await daemon.getLink("bench")).lagSeconds;
      if (lag !== null) {
        results.lag.daemonMs.push(lag * 1000);
        results.lag.series.push({ t, daemon: lag * 1000 });
      }
      const native = /^\s*([\d.]+)s/.exec(fs.existsSync(monitorFile) ? fs.readFileSync(monitorFile, "utf8") : "");
      if (native) {
        results.lag.nativeMs.push(Number(native[1]) * 1000);
        results.lag.series.push({ t, native: Number(native[1]) * 1000 });
      }
      await sleep(100);
    }
    await load;
    monitor.kill();
    heartbeat.kill();
    results.peakRssMiB.lag = lab.daemonPeakRssMiB();

    // 3. Initial copy of the sysbench tables into an empty server, the same threads for everyone.
    const rowsToCopy = SIZE.tables * SIZE.tableRows;
    log(`initial copy of ${rowsToCopy} rows`);
    lab.resetDaemonPeakRss();
    const copyStart = Date.now();
    await daemon.createLink({ name: "copy", source: master.url, target: copyTarget.url, include: ["sbtest"], initial: "full", parallel: THREADS });
    for (;;) {
      const s = await daemon.getLink("copy");
      if (s.state === "error") throw new Error(`copy failed: ${s.lastError}`);
      if (s.phase === "syncing" && s.state === "running") break;
      await sleep(100);
    }
    results.copy.daemon = (Date.now() - copyStart) / 1000;
    results.peakRssMiB.copy = lab.daemonPeakRssMiB();
    await daemon.deleteLink("copy");
    const dumpDir = path.join(lab.dir, "mydumper");
    const mydump = timed("mydumper", ["-h", "127.0.0.1", "-P", String(master.port), "-u", "root", "-B", "sbtest", "-t", String(THREADS), "-o", dumpDir]);
    const myload = timed("myloader", ["-h", "127.0.0.1", "-P", String(copyTarget.port), "-u", "root", "-d", dumpDir, "-t", String(THREADS), "-B", "sbtest_mydumper", "-o"]);
    results.copy.mydumperMyloader = mydump + myload;
    await copyTarget.sql("CREATE DATABASE sbtest_dump");
    results.copy.mariadbDump = timed("sh", ["-c", `mariadb-dump -h127.0.0.1 -P${master.port} -uroot --single-transaction sbtest | mariadb -h127.0.0.1 -P${copyTarget.port} -uroot sbtest_dump`]);
    results.copy.rows = rowsToCopy;

    // 4. Verification of the same tables: mysql-dr verify (master vs DR) against pt-table-checksum (master vs native replica).
    log("verification");
    const verifyStart = Date.now();
    const verified = timed(process.execPath, [path.join(REPO, "bin", "mysql-dr.js"), "verify", "--source", master.url, "--target", dr.url, "--include", "sbtest", "--json"]);
    results.verify.daemon = verified || (Date.now() - verifyStart) / 1000;
    const ptStart = Date.now();
    timed("pt-table-checksum", [`h=127.0.0.1,P=${master.port},u=root`, "--databases", "sbtest", "--recursion-method=none", "--no-check-binlog-format", "--no-check-replication-filters", "--chunk-size=10000"]);
    await timeUntilCovered(() => nativeApplied(single), await master.position());
    await single.sql("SELECT db, tbl, chunk FROM percona.checksums WHERE master_cnt <> this_cnt OR master_crc <> this_crc OR ISNULL(master_crc) <> ISNULL(this_crc)");
    results.verify.ptTableChecksum = (Date.now() - ptStart) / 1000;
    results.verify.rows = rowsToCopy;

    // 5. Promotion: planned with the link caught up, and forced with the master gone.
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
  } finally {
    await lab.close();
  }
  report(results);
}

async function caughtUp(master: Server, single: Server, parallel: Server, lab: Lab): Promise<void> {
  const target = await master.position();
  await timeUntilCovered(() => nativeApplied(single), target);
  await timeUntilCovered(() => nativeApplied(parallel), target);
  await timeUntilCovered(async () => (await lab.daemon!.getLink("bench")).appliedGtid, target);
}

function report(r: Results): void {
  const median = (xs: number[]) => stats(xs).median;
  const fmt = (xs: number[]) => { const s = stats(xs); return `${Math.round(s.min)} / ${Math.round(s.median)} / ${Math.round(s.max)}`; };
  const ratios = {
    catchupVsNativeSingle: round(median(r.catchup.daemon.txPerSec) / median(r.catchup.nativeSingle.txPerSec)),
    catchupVsNativeParallel4: round(median(r.catchup.daemon.txPerSec) / median(r.catchup.nativeParallel4.txPerSec)),
    lagP99Ms: Math.round(percentile(r.lag.daemonMs, 99)),
    copyVsMydumper: round(r.copy.mydumperMyloader / r.copy.daemon),
    verifyVsPtTableChecksum: round(r.verify.ptTableChecksum / r.verify.daemon),
    promotePlannedMs: r.promote.plannedMs,
    promoteForcedMs: r.promote.forcedMs,
    peakRssMiB: Math.round(Math.max(...Object.values(r.peakRssMiB))),
  };
  const lines = [
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ${r.settings.server}; ${r.settings.durability}; ${SIZE.runs} run(s) ${QUICK ? "(quick)" : ""}`,
    "",
    "| scenario | mysql-dr | reference | ratio |",
    "|---|---|---|---|",
    `| catch-up, transactions/s (min / median / max) | ${fmt(r.catchup.daemon.txPerSec)} | native 1 thread ${fmt(r.catchup.nativeSingle.txPerSec)} | ${ratios.catchupVsNativeSingle}x |`,
    `| catch-up, transactions/s | ${fmt(r.catchup.daemon.txPerSec)} | native parallel(4, optimistic) ${fmt(r.catchup.nativeParallel4.txPerSec)} | ${ratios.catchupVsNativeParallel4}x |`,
    `| catch-up, rows/s (median) | ${Math.round(median(r.catchup.daemon.rowsPerSec))} | native 1 thread ${Math.round(median(r.catchup.nativeSingle.rowsPerSec))} | |`,
    `| steady lag at ${r.lag.rate} tx/s, p50 / p95 / p99 / max ms | ${[50, 95, 99, 100].map((p) => Math.round(percentile(r.lag.daemonMs, p))).join(" / ")} | native (pt-heartbeat) ${[50, 95, 99, 100].map((p) => Math.round(percentile(r.lag.nativeMs, p))).join(" / ")} | |`,
    `| initial copy of ${r.copy.rows} rows, s | ${r.copy.daemon.toFixed(1)} | mydumper+myloader ${r.copy.mydumperMyloader.toFixed(1)}, mariadb-dump ${r.copy.mariadbDump.toFixed(1)} | ${ratios.copyVsMydumper}x |`,
    `| verification of ${r.verify.rows} rows, s | ${r.verify.daemon.toFixed(1)} | pt-table-checksum ${r.verify.ptTableChecksum.toFixed(1)} | ${ratios.verifyVsPtTableChecksum}x |`,
    `| promotion, ms | planned ${r.promote.plannedMs}, forced ${r.promote.forcedMs} | | |`,
    `| daemon peak RSS, MiB | ${Object.entries(r.peakRssMiB).map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")} | | |`,
  ];
  const markdown = lines.join("\n");
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, QUICK ? "quick.json" : "latest.json"), JSON.stringify({ ...r, ratios }, null, 2) + "\n");
  fs.writeFileSync(path.join(RESULTS, QUICK ? "quick.md" : "latest.md"), markdown + "\n");
  process.stdout.write(markdown + "\n\n");
  return void writeCharts(r, path.join(RESULTS, QUICK ? "quick" : "latest")).then(() => process.stdout.write(JSON.stringify(ratios) + "\n"));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
