/**
 * Verification alone, timed as `make bench` (bench/run.ts step 4) times it: `mysql-dr verify` of a
 * master against its DR copy (kept by a daemon's link) next to pt-table-checksum against a native
 * replica (--chunk-size=10000, then waiting for the replica to apply the checksums and reading
 * percona.checksums), on the same sysbench tables, several runs:
 *
 *   node dist/bench/verify-bench.js [--rows 250000] [--tables 4] [--runs 3] [--parallel N] [--cli path/to/mysql-dr.js] [--baseline path/to/mysql-dr.js]
 *
 * --cli: the CLI to time (default this checkout's bin/mysql-dr.js); --baseline times another
 * build's CLI in the same runs (before/after on the same servers, under the same load). Prints one line per run, then min/median/max of each contender and the ratios
 * pt-table-checksum / mysql-dr verify, and one JSON line.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Server, Lab, REPO, configureNativeReplica, log, nativeApplied, startReplica, stats, sysbench, timeUntilCovered, timed } from "./lab";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const ROWS = Number(arg("--rows") ?? 250_000);
const TABLES = Number(arg("--tables") ?? 4);
const RUNS = Number(arg("--runs") ?? 3);
const PARALLEL = arg("--parallel");
const CLI = arg("--cli") ?? path.join(REPO, "bin", "mysql-dr.js");
const BASELINE = arg("--baseline");
const THREADS = 4;

async function main(): Promise<void> {
  const lab = new Lab();
  try {
    log("starting servers");
    const [master, native, dr] = await Promise.all(["master", "native1", "dr"].map((n) => lab.server(n)));
    await configureNativeReplica(native, master, 0);
    await startReplica(native);
    const daemon = await lab.startDaemon();
    await daemon.createLink({ name: "bench", source: master.url, target: dr.url, include: ["sbtest"], initial: "none" });
    await master.sql("CREATE DATABASE sbtest");
    log(`sysbench prepare: ${TABLES} tables x ${ROWS} rows`);
    sysbench(master, [`--tables=${TABLES}`, `--table-size=${ROWS}`, `--threads=${THREADS}`, "prepare"]);
    const loaded = await master.position();
    await timeUntilCovered(() => nativeApplied(native), loaded);
    await timeUntilCovered(async () => (await daemon.getLink("bench")).appliedGtid, loaded);

    const contenders: Record<string, () => number> = {
      verify: () => verifyCli(CLI, master, dr),
      ...(BASELINE ? { baseline: () => verifyCli(BASELINE, master, dr) } : {}),
    };
    const seconds: Record<string, number[]> = { ptTableChecksum: [], ...Object.fromEntries(Object.keys(contenders).map((k) => [k, []])) };
    // CPU seconds of the two servers each contender works on (master + DR, master + native replica):
    // less sensitive than wall time to what else runs on the machine.
    const serverCpu: Record<string, number[]> = Object.fromEntries(Object.keys(seconds).map((k) => [k, []]));
    for (let run = 0; run < RUNS; run++) {
      const line: Record<string, number> = {};
      // Alternated, so neither contender always runs first on the shared machine.
      const order = run % 2 === 0 ? [...Object.keys(contenders), "ptTableChecksum"] : ["ptTableChecksum", ...Object.keys(contenders).reverse()];
      for (const who of order) {
        const servers = who === "ptTableChecksum" ? [master, native] : [master, dr];
        const cpuBefore = cpuSeconds(servers);
        line[who] = who === "ptTableChecksum" ? await ptTableChecksum(master, native) : contenders[who]();
        serverCpu[who].push(cpuSeconds(servers) - cpuBefore);
      }
      for (const [who, s] of Object.entries(line)) seconds[who].push(s);
      log(`run ${run + 1}: ${Object.entries(line).map(([k, s]) => `${k} ${s.toFixed(2)} s (servers' CPU ${serverCpu[k][run].toFixed(2)} s)`).join(", ")}`);
    }
    const summary: Record<string, unknown> = { rows: ROWS * TABLES, runs: RUNS, seconds, serverCpuSeconds: serverCpu };
    for (const who of Object.keys(seconds)) {
      const s = stats(seconds[who]);
      const c = stats(serverCpu[who]);
      process.stdout.write(`${who}: min ${s.min.toFixed(2)} / median ${s.median.toFixed(2)} / max ${s.max.toFixed(2)} s; servers' CPU min ${c.min.toFixed(2)} / median ${c.median.toFixed(2)} / max ${c.max.toFixed(2)} s\n`);
    }
    for (const who of Object.keys(contenders)) {
      const ratios = seconds[who].map((s, i) => seconds.ptTableChecksum[i] / s);
      const r = stats(ratios);
      summary[`${who}VsPtTableChecksum`] = { perRun: ratios.map((x) => Math.round(x * 100) / 100), ofMedians: Math.round((stats(seconds.ptTableChecksum).median / stats(seconds[who]).median) * 100) / 100 };
      process.stdout.write(`${who} vs pt-table-checksum, per run: min ${r.min.toFixed(2)}x / median ${r.median.toFixed(2)}x / max ${r.max.toFixed(2)}x\n`);
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await lab.close();
  }
}

/** User + system CPU seconds the servers' processes used so far (Linux /proc). */
function cpuSeconds(servers: Server[]): number {
  return servers.reduce((sum, server) => {
    const fields = fs.readFileSync(`/proc/${server.info.pid}/stat`, "utf8").split(") ")[1].split(" ");
    return sum + (Number(fields[11]) + Number(fields[12])) / 100;
  }, 0);
}

/** As bench/run.ts: the CLI end to end, a process of its own. */
function verifyCli(cli: string, master: Server, dr: Server): number {
  return timed(process.execPath, [cli, "verify", "--source", master.url, "--target", dr.url, "--include", "sbtest", "--json", ...(PARALLEL ? ["--parallel", PARALLEL] : [])]);
}

/** As bench/run.ts: checksums on the master, then until the native replica applied them and the mismatches are read. */
async function ptTableChecksum(master: Server, native: Server): Promise<number> {
  const started = Date.now();
  timed("pt-table-checksum", [`h=127.0.0.1,P=${master.port},u=root`, "--databases", "sbtest", "--recursion-method=none", "--no-check-binlog-format", "--no-check-replication-filters", "--chunk-size=10000"]);
  await timeUntilCovered(() => nativeApplied(native), await master.position());
  await native.sql("SELECT db, tbl, chunk FROM percona.checksums WHERE master_cnt <> this_cnt OR master_crc <> this_crc OR ISNULL(master_crc) <> ISNULL(this_crc)");
  return (Date.now() - started) / 1000;
}

main().catch((err: unknown) => {
  process.stderr.write(`verify bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
