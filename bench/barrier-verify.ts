/**
 * Rows per second of verification at a GTID barrier (`verify --link --at-barrier`), against the
 * live verification of the same link, on two sandbox servers of this machine:
 *
 *   node dist/bench/barrier-verify.js [--rows 200000] [--runs 3]
 *
 * A table of `--rows` rows (integer key, five columns) is copied to the DR server by a link; then
 * `--runs` barrier verifications while the master is idle, as many while a client updates rows on
 * the master without pause, and one live verification for reference. Printed per run: rows, the
 * comparison's rows/s (snapshots open, chunks compared), end-to-end seconds (including the
 * barrier and the catalog), how long the link was held, and the sessions used; then one JSON line.
 */
import * as mysql from "mysql2/promise";
import { type Server, Lab, log, sleep } from "./lab";
import type { BarrierReport } from "../provider/src/verify/barrier-verifier";

const LINK = "bench-barrier";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function fill(master: Server, rows: number): Promise<void> {
  await master.sql("CREATE DATABASE bv; CREATE TABLE bv.t (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(64), c DATETIME(6), d DECIMAL(12,2))");
  for (let start = 1; start <= rows; start += 10_000) {
    const values = Array.from({ length: Math.min(10_000, rows - start + 1) }, (_, k) => {
      const i = start + k;
      return `(${i}, ${i % 977}, 'row ${i} ${"x".repeat(i % 40)}', '2024-05-06 07:08:09.${String(i % 1_000_000).padStart(6, "0")}', ${i}.${i % 100})`;
    });
    await master.sql(`INSERT INTO bv.t VALUES ${values.join(", ")}`);
  }
}

async function main(): Promise<void> {
  const rows = arg("--rows", 200_000);
  const runs = arg("--runs", 3);
  const lab = new Lab();
  try {
    const [master, dr] = await Promise.all([lab.server("master"), lab.server("dr")]);
    log(`filling ${rows} rows`);
    await fill(master, rows);
    const daemon = await lab.startDaemon();
    await daemon.createLink({ name: LINK, source: master.url, target: dr.url, include: ["bv"], initial: "full" });
    for (;;) {
      const s = await daemon.getLink(LINK);
      if (s.state === "error") throw new Error(s.lastError ?? "link stopped");
      if (s.phase === "syncing" && s.unappliedTransactions === 0) break;
      await sleep(200);
    }
    const results: Record<string, unknown>[] = [];
    const record = (label: string, r: BarrierReport) => {
      const line = { label, rows: r.rowsCompared, identical: r.identical, compareRowsPerSecond: r.rowsPerSecond, seconds: r.durationMs / 1000, endToEndRowsPerSecond: Math.round(r.rowsCompared / (r.durationMs / 1000)), linkHeldMs: r.linkHeldMs, sessions: r.sessions };
      results.push(line);
      log(`${label}: ${line.rows} rows, identical ${line.identical}, comparison ${line.compareRowsPerSecond} rows/s, ${line.seconds.toFixed(2)} s end to end (${line.endToEndRowsPerSecond} rows/s), link held ${line.linkHeldMs} ms, ${line.sessions} sessions`);
    };
    for (let i = 0; i < runs; i++) record(`barrier, idle master #${i + 1}`, await daemon.verifyLink(LINK, { atBarrier: true }));

    let writing = true;
    let committed = 0;
    const writer = await mysql.createConnection({ host: "127.0.0.1", port: master.port, user: "root" });
    const workload = (async () => {
      for (let i = 0; writing; i++) {
        await writer.query(`UPDATE bv.t SET a = a + 1, c = NOW(6) WHERE id = ${1 + ((i * 7919) % rows)}`);
        committed++;
      }
    })();
    try {
      for (let i = 0; i < runs; i++) record(`barrier, master under writes #${i + 1}`, await daemon.verifyLink(LINK, { atBarrier: true }));
    } finally {
      writing = false;
      await workload;
      await writer.end();
    }
    log(`the workload committed ${committed} transactions meanwhile`);

    const live = await daemon.verifyLink(LINK, false);
    log(`live, idle master: ${live.rowsCompared} rows, ${live.rowsPerSecond} rows/s, ${(live.durationMs / 1000).toFixed(2)} s`);
    process.stdout.write(`${JSON.stringify({ rows, results, live: { rows: live.rowsCompared, rowsPerSecond: live.rowsPerSecond, seconds: live.durationMs / 1000 } })}\n`);
  } finally {
    await lab.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
