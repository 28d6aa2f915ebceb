/**
 * Faults between the daemon and its servers (issue 9, "survive faults and say so").
 *
 * 1. A link runs in a real daemon process; its source URL goes through one fault proxy to the
 *    master, its target URL through another to the DR server. A write workload runs on the master
 *    (directly) while a scheduler injects network faults on both sides (cutAll, stalls, latency,
 *    half-open then heal, refused reconnects), SIGKILLs the daemon and restarts both servers.
 *    Afterwards both sides must be identical and the link running with no error. Every fault and
 *    the link's recovery time after it are printed. The schedule comes from a seeded PRNG: the
 *    seed is printed, MYSQL_DR_FAULT_SEED replays it.
 * 2. A hung master (its proxy stalls, or goes half-open, for ~15 s): status must keep answering,
 *    say within seconds that the source is unresponsive, and show the lag growing; then the link
 *    recovers by itself.
 */
import * as assert from "node:assert/strict";
import type * as mysql from "mysql2/promise";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { gtidCovers } from "../../src/core/gtid";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, connect, sleep, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { FaultProxy } from "../support/fault-proxy";
import { type TestServer, describeEachBackend } from "../support/servers";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/** A status request that does not answer within this is recorded as unanswered. */
const STATUS_TIMEOUT_MS = 3_000;
const POLL_MS = 200;

/** mulberry32: small, seedable, good enough to pick a schedule. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GET /v1/links/NAME through the daemon client, failing when it takes longer than ms. */
async function getLinkWithin(client: DaemonClient, name: string, ms: number): Promise<LinkStatus> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      client.getLink(name),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`GET /v1/links/${name} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

interface Sample {
  sentAt: number;
  at: number;
  status?: LinkStatus;
  error?: string;
}

function fmtS(ms: number | undefined): string {
  return ms === undefined ? "-" : (ms / 1000).toFixed(2);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

// ---------------------------------------------------------------------------------------------
// 1. The fault test
// ---------------------------------------------------------------------------------------------

const NETWORK_FAULTS = 52;
const DAEMON_KILLS = 2;
/** Transactions per second the workload aims at (a few thousand over the schedule). */
const WORKLOAD_TPS = 25;
/** The scheduler waits this long for a recovery before the next fault (the measurement goes on). */
const RECOVERY_WAIT_MS = 20_000;
const FINAL_CATCH_UP_MS = 180_000;
const LINK = "faults";
const TABLES = ["accounts", "events", "audit", "kv"];

type NetworkKind = "cutAll" | "stall" | "latency" | "halfOpen" | "refuse";
type Side = "source" | "target" | "daemon" | "server";

interface PlannedFault {
  side: Side;
  kind: NetworkKind | "SIGKILL" | "restart master" | "restart DR";
}

interface FaultRun extends PlannedFault {
  n: number;
  startAt: number;
  endAt?: number;
  detail: string;
  /** The master's position when the fault ended. */
  masterPosAtEnd?: string;
  recoveredAt?: number;
  /** Link states the status reported while the fault lasted, and after it until the next fault. */
  statesDuring: Set<string>;
  statesAfter: Set<string>;
  errorsSeen: Set<string>;
  unanswered: number;
}

describeEachBackend("network faults, daemon kills and server restarts under a write workload", (getPair) => {
  it(`ends identical after ${NETWORK_FAULTS} network faults on both sides, ${DAEMON_KILLS} daemon SIGKILLs and a restart of each server`, async function () {
    this.timeout(600_000);
    const { master, replica } = getPair();
    const seed = process.env.MYSQL_DR_FAULT_SEED ? Number(process.env.MYSQL_DR_FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
    assert.ok(Number.isInteger(seed), `MYSQL_DR_FAULT_SEED must be an integer, got ${process.env.MYSQL_DR_FAULT_SEED}`);
    console.log(`    fault seed: ${seed} (replay with MYSQL_DR_FAULT_SEED=${seed})`);
    const rnd = prng(seed);
    const workRnd = prng(seed ^ 0x5eed);

    const schema = `CREATE DATABASE fault_db;
      CREATE TABLE fault_db.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL, updated DATETIME(6) NULL);
      CREATE TABLE fault_db.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, account INT NOT NULL, amount INT NOT NULL, note VARCHAR(64));
      CREATE TABLE fault_db.audit (account INT, amount INT, tag VARCHAR(16));
      CREATE TABLE fault_db.kv (k VARCHAR(32) PRIMARY KEY, v TEXT, n INT NOT NULL);
      INSERT INTO fault_db.accounts (id, balance) VALUES ${Array.from({ length: 100 }, (_, i) => `(${i + 1}, 1000)`).join(", ")}`;
    await sql(master, schema);
    await sql(replica, schema);

    const sourceProxy = await FaultProxy.start({ host: master.host, port: master.port }, "source");
    const targetProxy = await FaultProxy.start({ host: replica.host, port: replica.port }, "target");
    const proxies: Record<"source" | "target", FaultProxy> = { source: sourceProxy, target: targetProxy };
    const stateDir = tempStateDir("faults");
    let daemon = await DaemonProcess.start(stateDir);
    const daemonLogs: string[] = [];
    const t0 = Date.now();

    let polling = true;
    let writing = true;
    const samples: Sample[] = [];
    const runs: FaultRun[] = [];
    let current: FaultRun | undefined;
    let masterConn: mysql.Connection | undefined;

    /** The master's position read directly (not through the proxy), retried while it restarts. */
    async function masterPos(): Promise<string> {
      for (;;) {
        try {
          masterConn ??= await connect(master);
          const [rows] = await masterConn.query(master.flavor === "mysql" ? "SELECT @@GLOBAL.gtid_executed AS pos" : "SELECT @@GLOBAL.gtid_binlog_pos AS pos");
          return String((rows as { pos: string }[])[0].pos).replace(/\s+/g, "");
        } catch {
          masterConn?.destroy();
          masterConn = undefined;
          await sleep(200);
        }
      }
    }

    function recovered(run: FaultRun, s: Sample): boolean {
      return (
        run.endAt !== undefined &&
        run.masterPosAtEnd !== undefined &&
        s.sentAt >= run.endAt &&
        s.status?.state === "running" &&
        s.status.appliedGtid !== null &&
        gtidCovers(master.flavor, s.status.appliedGtid, run.masterPosAtEnd)
      );
    }

    let linkStopped: string | undefined;
    const startPoller = async () => {
      while (polling) {
        const sentAt = Date.now();
        const d = daemon;
        let sample: Sample;
        try {
          const status = await getLinkWithin(d.client(), LINK, STATUS_TIMEOUT_MS);
          sample = { sentAt, at: Date.now(), status };
        } catch (err) {
          sample = { sentAt, at: Date.now(), error: (err as Error).message };
        }
        samples.push(sample);
        if (current) {
          if (sample.status) {
            (current.endAt === undefined ? current.statesDuring : current.statesAfter).add(sample.status.state);
            if (sample.status.lastError) current.errorsSeen.add(sample.status.lastError);
          } else if (/did not answer/.test(sample.error ?? "")) current.unanswered++;
        }
        if (sample.status?.state === "error") linkStopped ??= `the link stopped (state error) at ${fmtS(sample.at - t0)} s: ${sample.status.lastError}`;
        for (const run of runs) {
          if (run.recoveredAt === undefined && recovered(run, sample)) run.recoveredAt = sample.at;
        }
        await sleep(Math.max(0, POLL_MS - (Date.now() - sentAt)));
      }
    };
    let poller: Promise<void> = Promise.resolve();

    // The workload: direct to the master, reconnecting whenever the master goes away.
    let transactions = 0;
    let workloadErrors = 0;
    const runWorkload = async () => {
      let conn: mysql.Connection | undefined;
      const started = Date.now();
      for (let i = 0; writing; i++) {
        const due = started + (i * 1000) / WORKLOAD_TPS;
        if (due > Date.now()) await sleep(due - Date.now());
        const from = 1 + Math.floor(workRnd() * 100);
        const to = 1 + Math.floor(workRnd() * 100);
        const amount = 1 + Math.floor(workRnd() * 50);
        const key = `k${Math.floor(workRnd() * 60)}`;
        const statements = [
          "BEGIN",
          `UPDATE fault_db.accounts SET balance = balance - ${amount}, updated = NOW(6) WHERE id = ${from}`,
          `UPDATE fault_db.accounts SET balance = balance + ${amount}, updated = NOW(6) WHERE id = ${to}`,
          `INSERT INTO fault_db.events (account, amount, note) VALUES (${from}, ${-amount}, 'txn ${i}'), (${to}, ${amount}, NULL)`,
          `INSERT INTO fault_db.audit VALUES (${from % 10}, ${amount % 3}, 'move'), (${from % 10}, ${amount % 3}, 'move')`,
          i % 3 === 0 ? `DELETE FROM fault_db.audit WHERE account = ${from % 10} LIMIT 1` : "",
          i % 4 === 0 ? `INSERT INTO fault_db.kv VALUES ('${key}', REPEAT('v${i}', ${1 + (i % 40)}), 1) ON DUPLICATE KEY UPDATE n = n + 1, v = VALUES(v)` : "",
          i % 7 === 0 ? `DELETE FROM fault_db.kv WHERE k = 'k${(i * 7) % 60}'` : "",
          i % 5 === 0 ? `DELETE FROM fault_db.events WHERE account = ${to} ORDER BY id LIMIT 1` : "",
          i % 11 === 0 ? `UPDATE fault_db.audit SET tag = 'seen' WHERE account = ${to % 10} AND tag = 'move' LIMIT 2` : "",
          "COMMIT",
        ].filter(Boolean);
        try {
          conn ??= await connect(master);
          await conn.query(statements.join(";\n"));
          transactions++;
        } catch {
          // The master restarts: the transaction either committed or not; both sides must agree anyway.
          workloadErrors++;
          conn?.destroy();
          conn = undefined;
          await sleep(200);
        }
      }
      await conn?.end().catch(() => undefined);
    };
    let workload: Promise<void> = Promise.resolve();

    // The schedule: network faults alternating between both sides, daemon kills and server restarts.
    const kinds: NetworkKind[] = ["cutAll", "stall", "latency", "halfOpen", "refuse"];
    const plan: PlannedFault[] = [];
    for (let i = 0; i < NETWORK_FAULTS; i++) plan.push({ side: i % 2 === 0 ? "source" : "target", kind: kinds[Math.floor(i / 2) % kinds.length] });
    for (let i = 0; i < DAEMON_KILLS; i++) plan.push({ side: "daemon", kind: "SIGKILL" });
    plan.push({ side: "server", kind: "restart master" }, { side: "server", kind: "restart DR" });
    shuffle(plan, rnd);

    const dumpTable = () => {
      const header = ["#", "side", "kind", "at (s)", "duration (s)", "recovery (s)", "states during fault", "states after", "status unanswered", "detail"];
      const rows = runs.map((r) => [
        String(r.n),
        r.side,
        r.kind,
        fmtS(r.startAt - t0),
        fmtS(r.endAt !== undefined ? r.endAt - r.startAt : undefined),
        r.recoveredAt !== undefined && r.endAt !== undefined ? fmtS(r.recoveredAt - r.endAt) : "NOT RECOVERED",
        [...r.statesDuring].join(",") || "-",
        [...r.statesAfter].join(",") || "-",
        String(r.unanswered),
        r.detail,
      ]);
      const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
      const line = (cells: string[]) => "    " + cells.map((cell, c) => cell.padEnd(widths[c])).join(" | ");
      console.log(line(header));
      console.log("    " + widths.map((w) => "-".repeat(w)).join("-+-"));
      for (const row of rows) console.log(line(row));
      console.log("\n    recovery per kind (s): kind | n | min | median | max | not recovered");
      const byKind = new Map<string, FaultRun[]>();
      for (const r of runs) {
        const key = r.side === "source" || r.side === "target" ? `${r.kind} (network)` : r.kind;
        byKind.set(key, [...(byKind.get(key) ?? []), r]);
      }
      for (const [kind, rs] of byKind) {
        const times = rs.filter((r) => r.recoveredAt !== undefined && r.endAt !== undefined).map((r) => r.recoveredAt! - r.endAt!);
        const missing = rs.length - times.length;
        console.log(`    ${kind} | ${rs.length} | ${times.length ? fmtS(Math.min(...times)) : "-"} | ${times.length ? fmtS(median(times)) : "-"} | ${times.length ? fmtS(Math.max(...times)) : "-"} | ${missing}`);
      }
      const errors = new Map<string, number>();
      for (const r of runs) for (const e of r.errorsSeen) errors.set(e.slice(0, 200), (errors.get(e.slice(0, 200)) ?? 0) + 1);
      console.log("\n    lastError values seen (faults during which each was seen):");
      for (const [e, n] of errors) console.log(`    ${n}x ${e}`);
      const unanswered = samples.filter((s) => /did not answer/.test(s.error ?? "")).length;
      console.log(`\n    status samples: ${samples.length}, unanswered within ${STATUS_TIMEOUT_MS} ms: ${unanswered}; workload: ${transactions} transactions, ${workloadErrors} failed statements`);
    };

    try {
      await daemon.client().createLink({ name: LINK, source: sourceProxy.rewriteUrl(master.url), target: targetProxy.rewriteUrl(replica.url), include: ["fault_db"], initial: "none" });
      await waitFor("the link to run", async () => (await daemon.client().getLink(LINK)).state === "running");
      // Only now: rows written before the link's start position would never reach the DR server.
      poller = startPoller();
      workload = runWorkload();
      await sleep(1_000);

      for (let i = 0; i < plan.length; i++) {
        const p = plan[i];
        const run: FaultRun = { ...p, n: i + 1, startAt: Date.now(), detail: "", statesDuring: new Set(), statesAfter: new Set(), errorsSeen: new Set(), unanswered: 0 };
        runs.push(run);
        current = run;
        if (p.side === "source" || p.side === "target") {
          const proxy = proxies[p.side];
          switch (p.kind) {
            case "cutAll":
              run.detail = `${proxy.cutAll()} connections cut`;
              break;
            case "stall": {
              const ms = 1_000 + Math.floor(rnd() * 7_000);
              run.detail = `${proxy.openConnections} connections stalled`;
              await proxy.stall(ms);
              break;
            }
            case "latency": {
              const ms = 20 + Math.floor(rnd() * 180);
              const lasts = 1_500 + Math.floor(rnd() * 2_500);
              run.detail = `${ms} ms per chunk`;
              proxy.latency(ms);
              await sleep(lasts);
              proxy.latency(0);
              break;
            }
            case "halfOpen": {
              const lasts = 2_000 + Math.floor(rnd() * 3_000);
              proxy.halfOpen();
              await sleep(lasts);
              run.detail = `${proxy.heal()} connections cut at heal`;
              break;
            }
            case "refuse": {
              const ms = 1_000 + Math.floor(rnd() * 3_000);
              const refusing = proxy.refuse(ms);
              run.detail = `${proxy.cutAll()} connections cut, reconnects refused`;
              await refusing;
              break;
            }
          }
        } else if (p.kind === "SIGKILL") {
          await daemon.kill("SIGKILL");
          daemonLogs.push(daemon.log());
          await sleep(300 + Math.floor(rnd() * 1_200));
          daemon = await DaemonProcess.start(stateDir);
          run.detail = `daemon restarted, pid ${daemon.pid}`;
        } else {
          const server = p.kind === "restart master" ? master : replica;
          assert.ok(server.restart, `${server.label} cannot be restarted on the same address`);
          const down = 1_000 + Math.floor(rnd() * 2_000);
          run.detail = `down ${down} ms`;
          await server.restart(down);
        }
        run.endAt = Date.now();
        run.masterPosAtEnd = await masterPos();
        const waitUntil = Date.now() + RECOVERY_WAIT_MS;
        while (run.recoveredAt === undefined && Date.now() < waitUntil && !linkStopped) await sleep(50);
        current = undefined;
        console.log(`    progress: #${run.n} ${run.side} ${run.kind} at ${fmtS(run.startAt - t0)} s for ${fmtS(run.endAt - run.startAt)} s: ${run.recoveredAt !== undefined ? `recovered in ${fmtS(run.recoveredAt - run.endAt)} s` : "not recovered yet"}; ${transactions} transactions so far`);
        if (linkStopped) throw new Error(linkStopped);
        await sleep(200 + Math.floor(rnd() * 800));
      }
      writing = false;
      await workload;

      const status = await waitCaughtUp(daemon.client(), LINK, master, FINAL_CATCH_UP_MS);
      await sleep(2 * POLL_MS + STATUS_TIMEOUT_MS);
      polling = false;
      await poller;
      console.log(`\n    faults (seed ${seed}), recovery = from the end of the fault until status said running with appliedGtid covering the master's position at the fault's end:`);
      dumpTable();

      const networkRuns = runs.filter((r) => r.side === "source" || r.side === "target");
      assert.ok(networkRuns.length >= 50 && networkRuns.some((r) => r.side === "source") && networkRuns.some((r) => r.side === "target"));
      assert.ok(transactions >= 2_000, `the workload ran only ${transactions} transactions`);
      assert.equal(status.state, "running");
      assert.equal(status.lastError, null);
      for (const t of TABLES) {
        const [m, r] = await Promise.all([tableContents(master, "fault_db", t), tableContents(replica, "fault_db", t)]);
        assert.ok(m.length > 0, `fault_db.${t} is empty on the master`);
        assert.equal(r.length, m.length, `fault_db.${t}: ${m.length} rows on the master, ${r.length} on the DR server`);
        assert.deepEqual(r, m, `fault_db.${t} differs`);
      }
      const notRecovered = runs.filter((r) => r.recoveredAt === undefined);
      assert.deepEqual(notRecovered.map((r) => `#${r.n} ${r.side} ${r.kind}`), [], "faults after which the link never reported running at the master's position");
      // Status never waits on a server, whatever the fault.
      assert.equal(samples.filter((s) => /did not answer/.test(s.error ?? "")).length, 0, `status requests unanswered within ${STATUS_TIMEOUT_MS} ms`);
    } catch (err) {
      if (polling) {
        polling = false;
        await poller;
        console.log(`\n    faults so far (seed ${seed}):`);
        dumpTable();
      }
      const last = samples.filter((s) => s.status).slice(-1)[0];
      console.log(`    last status: ${JSON.stringify(last?.status)}`);
      console.log(`    daemon log tail:\n${daemon.log().slice(-4000)}`);
      throw err;
    } finally {
      writing = false;
      polling = false;
      await workload;
      await poller;
      masterConn?.destroy();
      await daemon.stop();
      await sourceProxy.close();
      await targetProxy.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. A hung master
// ---------------------------------------------------------------------------------------------

const HANG_MS = 15_000;
/** "Within seconds": the status must say the source is unresponsive by this far into the hang. */
const UNRESPONSIVE_WITHIN_MS = 8_000;
const HANG_POLL_MS = 500;

function saysUnresponsive(s: LinkStatus): boolean {
  return s.state === "retrying" || /unresponsive/i.test(JSON.stringify(s));
}

describeEachBackend("a hung master", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let proxy: FaultProxy;
  let daemon: DaemonProcess;
  let nextId = 1;

  before(async () => {
    ({ master, replica } = getPair());
    const schema = "CREATE DATABASE hung_db; CREATE TABLE hung_db.t (id INT PRIMARY KEY, v VARCHAR(20))";
    await sql(master, schema);
    await sql(replica, schema);
    proxy = await FaultProxy.start({ host: master.host, port: master.port }, "source");
    daemon = await DaemonProcess.start(tempStateDir("hung"));
    await daemon.client().createLink({ name: "hung", source: proxy.rewriteUrl(master.url), target: replica.url, include: ["hung_db"], initial: "none" });
    await waitFor("the link to run", async () => (await daemon.client().getLink("hung")).state === "running");
  });
  after(async () => {
    await proxy?.close();
    await daemon?.stop();
  });

  for (const fault of ["stall", "halfOpen"] as const) {
    it(`${fault} of the master for ${HANG_MS / 1000} s: status answers, says the source is unresponsive, lag grows; then the link recovers`, async function () {
      this.timeout(180_000);
      await sql(master, `INSERT INTO hung_db.t VALUES (${nextId}, 'before ${nextId++}')`);
      await waitCaughtUp(daemon.client(), "hung", master);

      // Rows keep arriving on the master (directly) while the daemon's view of it hangs.
      let writing = true;
      const writer = (async () => {
        while (writing) {
          await sql(master, `INSERT INTO hung_db.t VALUES (${nextId}, 'during ${nextId++}')`);
          await sleep(200);
        }
      })();

      const samples: Sample[] = [];
      const started = Date.now();
      const ended = fault === "stall" ? proxy.stall(HANG_MS) : (proxy.halfOpen(), sleep(HANG_MS).then(() => void proxy.heal()));
      let over = false;
      void ended.then(() => (over = true));
      try {
        while (!over) {
          const sentAt = Date.now();
          try {
            samples.push({ sentAt, at: Date.now(), status: await getLinkWithin(daemon.client(), "hung", STATUS_TIMEOUT_MS) });
          } catch (err) {
            samples.push({ sentAt, at: Date.now(), error: (err as Error).message });
          }
          samples[samples.length - 1].at = Date.now();
          await sleep(Math.max(0, HANG_POLL_MS - (Date.now() - sentAt)));
        }
      } finally {
        await ended;
        writing = false;
        await writer;
      }
      const during = samples.filter((s) => s.at - started <= HANG_MS);
      console.log(`    during the ${fault} (t = seconds since it began):`);
      for (const s of during) {
        const t = ((s.sentAt - started) / 1000).toFixed(1);
        console.log(
          s.status
            ? `    t=${t} answered in ${s.at - s.sentAt} ms: state=${s.status.state} lagSeconds=${s.status.lagSeconds} lastError=${JSON.stringify(s.status.lastError)} appliedGtid=${s.status.appliedGtid} sourceGtid=${s.status.sourceGtid}`
            : `    t=${t} ${s.error}`,
        );
      }

      // Every expectation is checked and reported together, so one run shows all that is wrong.
      const problems: string[] = [];
      // 1. Status never hangs.
      const unanswered = during.filter((s) => !s.status);
      if (unanswered.length > 0) {
        problems.push(`GET /v1/links/hung did not answer within ${STATUS_TIMEOUT_MS} ms ${unanswered.length} of ${during.length} times while the master hung (first at t=${((unanswered[0].sentAt - started) / 1000).toFixed(1)} s)`);
      }
      // 2. Within seconds it says the source is unresponsive, and keeps saying so while the hang lasts.
      const first = during.find((s) => s.status && saysUnresponsive(s.status));
      if (!first || first.sentAt - started > UNRESPONSIVE_WITHIN_MS) {
        problems.push(`no status within ${UNRESPONSIVE_WITHIN_MS / 1000} s of the hang said the source is unresponsive (state "retrying" or "unresponsive" in a field); answers seen: ${[...new Set(during.map((s) => (s.status ? `${s.status.state}/${s.status.lastError}` : "no answer")))].join(", ")}`);
      }
      if (first) {
        const later = during.filter((s) => s.sentAt >= first.sentAt && s.status);
        const relapsed = later.filter((s) => !saysUnresponsive(s.status!));
        if (relapsed.length > 0) problems.push(`the status went back to looking healthy while the master still hung: ${relapsed.map((s) => `t=${((s.sentAt - started) / 1000).toFixed(1)} s ${s.status!.state}`).join(", ")}`);
      }
      // 3. The lag grows while nothing arrives (by at least half the time that passed: nothing is applied).
      const lags = during.filter((s) => s.status && s.sentAt - started >= 1_000 && typeof s.status.lagSeconds === "number");
      if (lags.length < 2) {
        problems.push(`fewer than two answers during the hang carried a lagSeconds (answers: ${during.filter((s) => s.status).map((s) => s.status!.lagSeconds).join(",") || "none"})`);
      } else {
        const a = lags[0];
        const b = lags[lags.length - 1];
        const grew = b.status!.lagSeconds! - a.status!.lagSeconds!;
        if (grew < (b.sentAt - a.sentAt) / 2000) problems.push(`lagSeconds went from ${a.status!.lagSeconds} to ${b.status!.lagSeconds} over ${((b.sentAt - a.sentAt) / 1000).toFixed(1)} s of hang`);
      }

      // 4. Afterwards the link recovers by itself.
      const healedAt = Date.now();
      try {
        const status = await waitCaughtUp(daemon.client(), "hung", master, 120_000);
        console.log(`    after the ${fault}: caught up ${((Date.now() - healedAt) / 1000).toFixed(1)} s after it ended; state=${status.state} lastError=${JSON.stringify(status.lastError)}`);
        if (status.state !== "running") problems.push(`after the hang the link is ${status.state}, not running`);
        if (status.lastError !== null) problems.push(`after the hang lastError is still ${JSON.stringify(status.lastError)}`);
        const [m, r] = await Promise.all([tableContents(master, "hung_db", "t"), tableContents(replica, "hung_db", "t")]);
        if (JSON.stringify(m) !== JSON.stringify(r)) problems.push(`hung_db.t differs after the hang: ${m.length} rows on the master, ${r.length} on the DR server`);
      } catch (err) {
        problems.push(`the link did not recover after the hang: ${(err as Error).message}`);
      }
      assert.deepEqual(problems, [], `a hung master (${fault}) is not handled as issue 9 asks`);
    });
  }
});
