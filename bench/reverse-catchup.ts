/**
 * The link running back after a promotion (the DR cycle), against native replication doing the
 * same job in the same run: after a planned promotion of the DR server B, a backlog of sysbench
 * oltp_write_only transactions is written on B while the reverse link (B to the old master A) is
 * paused, then applied by the link, then by a native single-thread replica of B (server N, which
 * held A's data at the promotion and starts from B's position when it opened, as A does):
 *
 *   node dist/bench/reverse-catchup.js [--events 5000] [--runs 3]
 *
 * Prints per run the seconds and transactions/s of each, then one JSON line with min/median/max
 * and the ratio daemon/native.
 */
import { promote } from "../provider/src/promote/promoter";
import { parseServerUrl } from "../provider/src/core/connection-url";
import { Lab, configureNativeReplica, ensurePeers, log, nativeApplied, positionProbe, sleep, startReplica, stats, stopReplica, sysbench, timeCatchUp, timeUntilCovered } from "./lab";

const LINK = "bench-reverse";
const THREADS = 4;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const events = arg("--events", 5_000);
  const runs = arg("--runs", 3);
  const tableArgs = ["--tables=4", "--table-size=20000"];
  ensurePeers();
  const lab = new Lab();
  try {
    const [a, b, n] = await Promise.all([lab.server("a"), lab.server("b"), lab.server("native")]);
    await configureNativeReplica(n, a, 0);
    await startReplica(n);
    const daemon = await lab.startDaemon();
    await Promise.all([a, b].map((s) => s.sql("CREATE DATABASE sbtest")));
    await daemon.createLink({ name: LINK, source: a.url, target: b.url, include: ["sbtest"], initial: "none" });
    log("sysbench prepare on A: 4 tables x 20,000 rows");
    sysbench(a, [...tableArgs, `--threads=${THREADS}`, "prepare"]);
    const aPosition = await a.position();
    await timeUntilCovered(async () => (await daemon.getLink(LINK)).appliedGtid, aPosition);
    await timeUntilCovered(() => nativeApplied(n), aPosition);

    log("planned promotion of B");
    const promoted = await promote({ target: parseServerUrl(b.url), master: parseServerUrl(a.url) });
    for (;;) {
      const s = await daemon.getLink(LINK);
      if (s.direction === "reverse" && s.state === "running") break;
      await sleep(100);
    }
    // N holds what A held at the freeze (so does B): from now on it replicates B from where B opened, like the link.
    await stopReplica(n);
    await n.sql(`RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '${promoted.openedGtid}'`);
    await configureNativeReplica(n, b, 0);
    // The daemon's bookkeeping (its heartbeat rows) is not the application's data: the link skips it too.
    await n.sql(`SET GLOBAL gtid_slave_pos = '${promoted.openedGtid}'; SET GLOBAL replicate_wild_ignore_table = 'mysql_dr.%'`);

    const seconds: Record<"daemon" | "native", number[]> = { daemon: [], native: [] };
    // Reversed, the link's checkpoint lives on A, its target now.
    const [daemonProbe, nativeProbe] = await Promise.all([positionProbe(a, LINK), positionProbe(n)]);
    for (let run = 1; run <= runs; run++) {
      await daemon.pauseLink(LINK);
      log(`run ${run}: a backlog of ${events} transactions on B`);
      sysbench(b, [...tableArgs, `--threads=${THREADS}`, `--events=${events}`, "--time=0", `--rand-seed=${run}`, "run"]);
      const target = await b.position();
      seconds.daemon.push((await timeCatchUp(async () => void (await daemon.resumeLink(LINK)), daemonProbe.applied, target)).seconds);
      seconds.native.push((await timeCatchUp(() => startReplica(n), nativeProbe.applied, target)).seconds);
      await stopReplica(n);
      log(`  daemon ${seconds.daemon.at(-1)!.toFixed(2)} s (${(events / seconds.daemon.at(-1)!).toFixed(0)} tx/s), native single-thread ${seconds.native.at(-1)!.toFixed(2)} s (${(events / seconds.native.at(-1)!).toFixed(0)} tx/s)`);
    }
    await Promise.all([daemonProbe.close(), nativeProbe.close()]);
    const txPerSec = (who: "daemon" | "native") => stats(seconds[who].map((s) => events / s));
    const ratios = seconds.daemon.map((d, i) => seconds.native[i] / d);
    process.stdout.write(`${JSON.stringify({ events, runs, daemonTxPerSec: txPerSec("daemon"), nativeTxPerSec: txPerSec("native"), daemonVsNative: stats(ratios) })}\n`);
  } finally {
    await lab.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
