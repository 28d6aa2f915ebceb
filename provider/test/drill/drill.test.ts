/**
 * `mysql-dr drill` against real servers: a drill of a running link under writes reports the GTID
 * it copied at (the copy holds exactly the master's inserts up to it, on MariaDB where each insert's
 * GTID is known), RTO and RPO, an identical and writable promoted copy, and leaves nothing behind
 * (no sandbox directory, no server process); production is only read (the DR server stays
 * read-only and unfenced, the link keeps running and applying). A drill that fails after its
 * sandbox started removes it too, as does a daemon shut down mid-drill; an unknown link is one
 * clear error. With --record the figures are kept as the link's last drill (status, DR server,
 * across a daemon restart).
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { gtidCovers } from "../../src/core/gtid";
import { type DrillReport, drill } from "../../src/drill/drill";
import { STATE_FILES } from "../../src/core/state-dir";
import { evaluateGuardrails } from "../../src/promote/guardrails";
import type { LinkDefinition } from "../../src/daemon/link-definition";
import type { LinkStatus } from "../../src/daemon/link-runner";
import type { LastDrill } from "../../src/dr-state/link-records";
import { CLI, type CliResult, DaemonProcess, connect, masterPosition, runCli, serverAddress, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const LINK = "drilled";
const DB = "drill_db";
const WRITE_INTERVAL_MS = 10;
/** Rows of t before the writer starts. */
const INITIAL_T_ROWS = 2;

/** The CLI as a child process without blocking this one, so the test's writer keeps writing meanwhile. */
function runCliAsync(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 170_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/**
 * Inserts into the master until stopped. On MariaDB it also notes the GTID each insert committed
 * at (@@last_gtid, in the same round trip), so a drill's copy can be held to its reported GTID.
 */
function startWriter(master: TestServer): { stop(): Promise<{ count: number; gtids: string[] }> } {
  let stopping = false;
  const gtids: string[] = [];
  const done = (async () => {
    const conn = await connect(master);
    let n = 0;
    try {
      while (!stopping) {
        const insert = `INSERT INTO ${DB}.t (v, f, d, e) VALUES (?, 1.5, NOW(6), 'b')`;
        if (master.flavor === "mariadb") {
          const [results] = await conn.query(`${insert}; SELECT @@last_gtid AS g`, [`w${n}`]);
          gtids.push(((results as unknown[])[1] as { g: string }[])[0].g);
        } else {
          await conn.query(insert, [`w${n}`]);
        }
        n++;
        await new Promise((resolve) => setTimeout(resolve, WRITE_INTERVAL_MS));
      }
    } finally {
      await conn.end();
    }
    return { count: n, gtids };
  })();
  return { stop: () => ((stopping = true), done) };
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Processes whose command line names `dir` (a sandbox server started there). */
function processesIn(dir: string): string[] {
  return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir);
    } catch {
      return false;
    }
  });
}

describeEachBackend("drill", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let location: string[];
  /** The daemon's temporary directory, where its drills' sandboxes go: empty whenever no drill runs. */
  let daemonTmp: string;

  before(async () => {
    ({ master, replica } = getPair());
    daemonTmp = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-drill-tmp-"));
    daemon = await DaemonProcess.start(tempStateDir("drill-state"), { TMPDIR: daemonTmp });
    client = daemon.client();
    location = ["--daemon", daemon.url, "--state-dir", daemon.stateDir];
    await sql(master, `CREATE DATABASE ${DB};
      CREATE TABLE ${DB}.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40), f FLOAT, d DATETIME(6), e ENUM('a','b'), j TEXT, b BLOB);
      CREATE TABLE ${DB}.keyless (k INT, note VARCHAR(20));
      CREATE TABLE ${DB}.child (id INT PRIMARY KEY, t_id INT, FOREIGN KEY (t_id) REFERENCES ${DB}.t (id));
      INSERT INTO ${DB}.t (v, f, d, e, j, b) VALUES ('é ü', 0.1, '2024-01-02 03:04:05.678901', 'a', '{"x": 1}', x'00ff10'), (NULL, -3.25, NULL, NULL, NULL, NULL);
      INSERT INTO ${DB}.keyless VALUES (1, 'one'), (1, 'one'), (2, NULL);
      INSERT INTO ${DB}.child VALUES (1, 1), (2, 2)`);
    await client.createLink({ name: LINK, source: master.url, target: replica.url, include: [DB], initial: "full" });
    await waitFor("the link in sync", async () => {
      const s = await client.getLink(LINK);
      return s.state === "running" && s.phase === "syncing";
    });
    // As a DR server stands; the drill must leave it so.
    await sql(replica, "SET GLOBAL read_only = ON");
  });
  after(async () => {
    await daemon?.stop();
    fs.rmSync(daemonTmp, { recursive: true, force: true });
    if (daemon) fs.rmSync(daemon.stateDir, { recursive: true, force: true });
  });

  it("drills a running link under writes: reports GTID, RTO, RPO, identical and writable, leaves nothing behind, touches no production role", async () => {
    const writer = startWriter(master);
    let report: DrillReport;
    let written: { count: number; gtids: string[] };
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const r = await runCliAsync(["drill", "--link", LINK, "--json", ...location]);
      assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr} ${r.stdout}`);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout.trim().split("\n").length, 1, "one line of JSON");
      report = JSON.parse(r.stdout) as DrillReport;
      // Writes go on after the drill, so the link must be seen applying past the drill's GTID.
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      written = await writer.stop();
    }
    console.log(`      drill: gtid ${report.gtid}, rtoMs ${report.rtoMs}, rpoTransactions ${report.rpoTransactions}, rows ${report.rowsCopied}, ${report.durationMs} ms in all`);

    assert.ok(report.gtid.length > 0, "the GTID the copy was taken at");
    assert.ok(report.rtoMs > 0, "RTO measured");
    assert.ok(report.rpoTransactions !== null && report.rpoTransactions >= 0, "RPO measured");
    assert.ok(report.masterGtid !== null && gtidCovers(master.flavor, report.masterGtid, report.gtid), "the master was at or past the copy");
    assert.equal(report.identical, true, JSON.stringify(report.tables));
    assert.equal(report.writable, true);
    assert.equal(report.readOnlyBeforePromotion, true, "the write check could fail: the sandbox was read-only before");
    assert.equal(report.promotion.mode, "forced", "promoted without any master: the real one is never made read-only");
    assert.deepEqual(report.promotion.fencedLinks, [LINK], "the promotion found and fenced the link, as on a real DR server");
    assert.equal(report.promotion.promotedGtid, report.gtid);
    assert.deepEqual(report.tables.map((t) => t.table).sort(), [`${DB}.child`, `${DB}.keyless`, `${DB}.t`]);
    assert.ok(report.tables.find((t) => t.table === `${DB}.t`)!.rows >= 2);
    if (master.flavor === "mariadb") {
      // Writes raced the snapshot: the copy holds exactly the inserts at or before its GTID, none after.
      const atOrBefore = written.gtids.filter((g) => gtidCovers(master.flavor, report.gtid, g)).length;
      assert.ok(atOrBefore > 0 && atOrBefore < written.count, `writes landed on both sides of the snapshot (${atOrBefore} of ${written.count} at or before ${report.gtid})`);
      assert.equal(report.tables.find((t) => t.table === `${DB}.t`)!.rows, INITIAL_T_ROWS + atOrBefore, `${DB}.t in the copy is at ${report.gtid} exactly`);
    }

    assert.equal(path.dirname(report.sandbox.dir), daemonTmp);
    assert.equal(fs.existsSync(report.sandbox.dir), false, "the sandbox directory is gone");
    assert.deepEqual(fs.readdirSync(daemonTmp), [], "nothing else left in the daemon's temporary directory");
    assert.ok(processGone(report.sandbox.pid), "the sandbox server process is gone");

    assert.equal(Number((await sql(replica, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1, "the DR server is still read-only");
    assert.equal(Number((await sql(replica, "SELECT fenced FROM mysql_dr.checkpoint WHERE link = ?", [LINK]))[0].fenced), 0, "the link is not fenced on the DR server");
    assert.equal((await sql(replica, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'mysql_dr_drill'")).length, 0, "no probe schema on the DR server");
    assert.equal(Number((await sql(master, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 0, "the master is still writable");

    const status = await waitCaughtUp(client, LINK, master);
    assert.equal(status.state, "running");
    assert.ok(status.appliedGtid !== null && gtidCovers(master.flavor, status.appliedGtid, report.gtid) && status.appliedGtid !== report.gtid, `the link applied past the drill's GTID (${report.gtid} -> ${status.appliedGtid})`);
    // The daemon's heartbeat writes on the master every 250 ms, so the master's position is compared
    // with the link's read right after it: a position read after the status may hold a newer beat.
    await waitFor("the link at exactly the master's position", async () => {
      const position = await masterPosition(master);
      return (await client.getLink(LINK)).appliedGtid === position;
    });
    for (const table of ["t", "keyless", "child"]) {
      assert.deepEqual(await tableContents(replica, DB, table), await tableContents(master, DB, table), `${table} still replicates`);
    }
  });

  it("prints a human report", async () => {
    const r = await runCliAsync(["drill", "--link", LINK, ...location]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /RTO \(promotion, ms\)/);
    assert.match(r.stdout, /drill passed in [\d.]+ s; sandbox removed\n$/);
  });

  it("removes the sandbox when the drill fails after starting it", async () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-drill-test-"));
    try {
      // The sandbox starts before the DR snapshot finds no checkpoint of this link.
      await assert.rejects(
        drill({ link: "ghost", source: serverAddress(master), target: serverAddress(replica), objects: { include: [DB], exclude: [] }, workDir }),
        /holds no checkpoint of link ghost/,
      );
      assert.deepEqual(fs.readdirSync(workDir), [], "no sandbox directory left");
      assert.deepEqual(processesIn(workDir), [], "no sandbox server left");
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown link with one clear sentence", async () => {
    const r = await runCliAsync(["drill", "--link", "nope", "--json", ...location]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^mysql-dr: There is no link named nope; list links with 'mysql-dr link status'\.\n$/);
  });

  it("--record keeps the figures as the link's last drill: link status, the DR server (as the link's own write, figures only) and a restarted daemon show them", async () => {
    assert.equal((await client.getLink(LINK)).lastDrill, null, "the drills above ran without --record");
    const r = await runCliAsync(["drill", "--link", LINK, "--record", "--json", ...location]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DrillReport;
    const expected: LastDrill = { at: "", gtid: report.gtid, rtoMs: report.rtoMs, rpoTransactions: report.rpoTransactions, identical: true, writable: true };

    const status = await client.getLink(LINK);
    assert.ok(status.lastDrill !== null);
    const at = Date.parse(status.lastDrill.at);
    assert.ok(at >= Date.parse(report.startedAt) && at <= Date.now(), `finished ${status.lastDrill.at}, started ${report.startedAt}`);
    expected.at = status.lastDrill.at;
    assert.deepEqual(status.lastDrill, expected);
    const guardrails = await evaluateGuardrails({ master: serverAddress(master), target: serverAddress(replica), links: [LINK] });
    assert.deepEqual(guardrails.errantGtids, master.flavor === "mariadb" ? [] : null, "the record was written on the DR server as the link's own, not an errant transaction");
    const cli = runCli(["link", "status", LINK, "--json", ...location]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((JSON.parse(cli.stdout) as LinkStatus).lastDrill, expected);

    // Only the six figures, on the DR server and in the state directory: no URL, password, sandbox path.
    const [row] = await sql(replica, "SELECT record FROM mysql_dr.drill WHERE link = ?", [LINK]);
    assert.deepEqual(JSON.parse(String(row.record)), expected);
    const kept = (JSON.parse(fs.readFileSync(path.join(daemon.stateDir, STATE_FILES.links), "utf8")) as { links: LinkDefinition[] }).links.find((l) => l.name === LINK)!;
    assert.deepEqual(kept.lastDrill, expected);

    await daemon.stop();
    daemon = await DaemonProcess.start(daemon.stateDir, { TMPDIR: daemonTmp });
    client = daemon.client();
    location = ["--daemon", daemon.url, "--state-dir", daemon.stateDir];
    const restarted = await waitFor("the link running again", async () => {
      const s = await client.getLink(LINK);
      return s.state === "running" && s;
    });
    assert.deepEqual(restarted.lastDrill, expected, "kept across the daemon's restart");
  });

  // Last: it stops the file's daemon.
  it("removes the sandbox of a drill under way when the daemon shuts down", async () => {
    const drilling = runCliAsync(["drill", "--link", LINK, "--json", ...location]);
    // The sandbox server has started (its pid file exists): the drill is under way.
    await waitFor("the drill's sandbox server", async () => fs.readdirSync(daemonTmp).some((d) => fs.existsSync(path.join(daemonTmp, d, "mysqld.pid"))), 60_000, 20);
    await daemon.stop();
    const r = await drilling;
    // The answer depends on how far the drill got; what matters is what is left.
    assert.notEqual(r.code, -1, r.stderr);
    console.log(`      drill during shutdown: exit ${r.code}: ${r.stderr.trim() || "passed"}; drills done in the log: ${daemon.log().split("drill done").length - 1}`);
    assert.deepEqual(fs.readdirSync(daemonTmp), [], "no sandbox directory left");
    assert.deepEqual(processesIn(daemonTmp), [], "no sandbox server left");
  });
});
