/**
 * The initial copy alone, as `make bench` step 3 measures it, several times in one run: the
 * daemon's copy of the sysbench tables into an empty server (timed until the link is syncing)
 * against mydumper+myloader with the same threads, with the CPU each process spent and the
 * daemon's peak RSS. `node dist/bench/copy-bench.js [--rows N] [--tables N] [--runs N] [--threads N] [--myloader-binlog] [--profile] [--verbose]`
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { type Server, Lab, ensurePeers, log, sleep, stats, sysbench, timed } from "./lab";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const ROWS = flag("rows", 250_000);
const TABLES = flag("tables", 4);
const RUNS = flag("runs", 3);
const THREADS = flag("threads", 4);
/**
 * myloader writes with sql_log_bin=0 unless given -e, while the daemon's copy goes into the DR
 * server's binlog like every write there: --myloader-binlog compares like with like.
 */
const MYLOADER_BINLOG = process.argv.includes("--myloader-binlog");
/** Prints the link's phase and rows copied twice a second. */
const VERBOSE = process.argv.includes("--verbose");

/** CPU seconds (user + system) a process has used so far; with `children`, its finished children's. */
function cpuSeconds(pid: number | "self", children = false): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
  return children ? (Number(fields[13]) + Number(fields[14])) / 100 : (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  ensurePeers();
  const lab = new Lab();
  const daemonSeconds: number[] = [];
  const peerSeconds: number[] = [];
  const ratios: number[] = [];
  const rss: number[] = [];
  try {
    const [master, target] = await Promise.all(["master", "target"].map((n) => lab.server(n)));
    await master.sql("CREATE DATABASE sbtest");
    log(`sysbench prepare: ${TABLES} tables x ${ROWS} rows`);
    sysbench(master, [`--tables=${TABLES}`, `--table-size=${ROWS}`, `--threads=${THREADS}`, "prepare"]);
    const daemon = await lab.startDaemon();
    const dumpDir = path.join(lab.dir, "mydumper");
    for (let run = 1; run <= RUNS; run++) {
      await target.sql("DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS sbtest_mydumper");
      lab.resetDaemonPeakRss();
      const cpu = [cpuSeconds(lab.daemonPid), cpuSeconds(master.info.pid), cpuSeconds(target.info.pid)];
      const started = Date.now();
      await daemon.createLink({ name: `copy${run}`, source: master.url, target: target.url, include: ["sbtest"], initial: "full", parallel: THREADS });
      for (;;) {
        const s = await daemon.getLink(`copy${run}`);
        if (s.state === "error") throw new Error(`copy failed: ${s.lastError}`);
        if (s.phase === "syncing" && s.state === "running") break;
        if (VERBOSE) log(`  ${((Date.now() - started) / 1000).toFixed(1)} s: ${s.state} ${s.phase}, ${s.copy?.rowsCopied ?? "-"} rows copied`);
        await sleep(VERBOSE ? 500 : 50);
      }
      const seconds = (Date.now() - started) / 1000;
      const [d, m, t] = [cpuSeconds(lab.daemonPid) - cpu[0], cpuSeconds(master.info.pid) - cpu[1], cpuSeconds(target.info.pid) - cpu[2]];
      rss.push(lab.daemonPeakRssMiB());
      await daemon.deleteLink(`copy${run}`);
      await checkCopied(master, target);

      fs.rmSync(dumpDir, { recursive: true, force: true });
      const peerCpu = [cpuSeconds(master.info.pid), cpuSeconds(target.info.pid), cpuSeconds("self", true)];
      const peer = timed("mydumper", ["-h", "127.0.0.1", "-P", String(master.port), "-u", "root", "-B", "sbtest", "-t", String(THREADS), "-o", dumpDir])
        + timed("myloader", ["-h", "127.0.0.1", "-P", String(target.port), "-u", "root", "-d", dumpDir, "-t", String(THREADS), "-B", "sbtest_mydumper", "-o", ...(MYLOADER_BINLOG ? ["-e"] : [])]);
      const [pm, pt, tools] = [cpuSeconds(master.info.pid) - peerCpu[0], cpuSeconds(target.info.pid) - peerCpu[1], cpuSeconds("self", true) - peerCpu[2]];
      daemonSeconds.push(seconds);
      peerSeconds.push(peer);
      ratios.push(peer / seconds);
      log(`run ${run}: daemon ${seconds.toFixed(1)} s (CPU daemon ${d.toFixed(1)} s, master ${m.toFixed(1)} s, target ${t.toFixed(1)} s; peak RSS ${Math.round(rss[rss.length - 1])} MiB); mydumper+myloader ${peer.toFixed(1)} s (CPU mydumper+myloader ${tools.toFixed(1)} s, master ${pm.toFixed(1)} s, target ${pt.toFixed(1)} s); ratio ${(peer / seconds).toFixed(2)}x`);
    }
  } finally {
    await lab.close();
  }
  const fmt = (xs: number[], digits = 1) => { const s = stats(xs); return `${s.min.toFixed(digits)} / ${s.median.toFixed(digits)} / ${s.max.toFixed(digits)}`; };
  process.stdout.write(`initial copy of ${TABLES} x ${ROWS} rows, ${THREADS} threads, ${RUNS} run(s)${MYLOADER_BINLOG ? ", myloader -e (binlogged)" : ""}, min / median / max:\n`);
  process.stdout.write(`  daemon            ${fmt(daemonSeconds)} s\n  mydumper+myloader ${fmt(peerSeconds)} s\n  ratio             ${fmt(ratios, 2)}x\n  daemon peak RSS   ${fmt(rss, 0)} MiB\n`);
}

/** The copy is only worth timing if it is whole: row counts and checksums equal. */
async function checkCopied(master: Server, target: Server): Promise<void> {
  const tables = (await master.sql("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'sbtest'")).map((r) => String(r.t));
  const sums = async (s: Server) => JSON.stringify(await s.sql(`CHECKSUM TABLE ${tables.map((t) => `sbtest.${t}`).join(", ")}`));
  const [a, b] = await Promise.all([sums(master), sums(target)]);
  if (a !== b) throw new Error(`the copy differs from the master: ${a} vs ${b}`);
}

main().catch((err) => {
  process.stderr.write(`copy bench failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
