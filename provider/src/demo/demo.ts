/**
 * `make demo`: the product end to end on this machine, in about half a minute. Two sandbox servers
 * (a master and its DR copy) and a real `mysql-dr daemon` child process, all under one temporary
 * state directory (never ~/.mysql-dr); a link from master to DR; a few seconds of mixed writes on
 * the master with a status line per second; then catch-up, a row-by-row comparison of both copies
 * and the applier's throughput. Everything it started is stopped and removed in a finally block,
 * also after Ctrl-C or a failure. Exit code: 0 when both copies are identical, 1 when they differ
 * or something failed, 130 after Ctrl-C.
 *
 * Plain console output for a person; the daemon's own (JSON) log goes to a file in the state
 * directory and its tail is printed only when something goes wrong.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { gtidCovers } from "../core/gtid";
import { DaemonClient } from "../cli/daemon-client";
import { type ServerAddress, parseServerUrl } from "../core/connection-url";
import { withTlsFallback } from "../core/db";
import { errorMessage } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { currentGtidPosition } from "../core/server-inspector";
import { STATE_FILES } from "../core/state-dir";
import { DAEMON_NODE_FLAGS } from "../daemon/defaults";
import type { LinkStatus } from "../daemon/link-runner";
import { type SandboxInfo, startSandbox, stopSandbox } from "../sandbox/sandbox";

/** The command users run: the same entry point as `npx mysql-dr`. */
const CLI = path.resolve(__dirname, "../../../../bin/mysql-dr.js");
const LINK_NAME = "demo";
const DEMO_DB = "demo";
const DEMO_TABLE = "orders";
const SANDBOX_NAMES = { master: "demo-master", dr: "demo-dr" } as const;

/** How long the master is written to, and how many row changes per second it gets. */
const WRITE_DURATION_MS = 8_000;
const ROW_CHANGES_PER_SECOND = 300;
/** Statements per master transaction: 1 to this many. */
const MAX_STATEMENTS_PER_TRANSACTION = 8;
const STATUS_INTERVAL_MS = 1_000;
const WRITER_TICK_MS = 10;
const DAEMON_START_TIMEOUT_MS = 30_000;
const DAEMON_STOP_TIMEOUT_MS = 20_000;
const CATCH_UP_TIMEOUT_MS = 120_000;
const CATCH_UP_POLL_MS = 100;
const LOG_TAIL_LINES = 30;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_INTERRUPTED = 130;

class Interrupted extends Error {}

interface Servers {
  master: SandboxInfo;
  dr: SandboxInfo;
}

// ---------------------------------------------------------------------------------------------
// Main flow
// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`\n${sig}: stopping the demo and cleaning up (servers, daemon, temporary files)...`);
      abort.abort(new Interrupted(sig));
    } else {
      say(`${sig} again: still cleaning up, please wait a few seconds.`);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-demo-"));
  let daemon: ChildProcess | undefined;
  let showDaemonLog = false;
  try {
    say(`mysql-dr demo: temporary state directory ${stateDir}`);
    const servers = await startServers(stateDir, abort.signal);
    daemon = spawnDaemon(stateDir);
    const client = await waitForDaemon(stateDir, daemon, abort.signal);
    say(`daemon: pid ${daemon.pid}, control API ${client.url}`);

    const result = await runDemo(servers, client, abort.signal);
    showDaemonLog = !result;
    return result ? EXIT_OK : EXIT_FAILED;
  } catch (err) {
    if (err instanceof Interrupted || abort.signal.aborted) {
      say("demo interrupted.");
      return EXIT_INTERRUPTED;
    }
    say(`\ndemo failed: ${errorMessage(err)}`);
    showDaemonLog = true;
    return EXIT_FAILED;
  } finally {
    if (showDaemonLog) printDaemonLogTail(stateDir);
    await cleanUp(stateDir, daemon);
  }
}

/** Returns true when both copies are identical at the end. */
async function runDemo(servers: Servers, client: DaemonClient, signal: AbortSignal): Promise<boolean> {
  const masterAddr = parseServerUrl(servers.master.url);
  const drAddr = parseServerUrl(servers.dr.url);
  const conns: mysql.Connection[] = [];
  const connect = async (address: ServerAddress) => {
    const conn = await withTlsFallback(address, (options) => mysql.createConnection(options));
    conns.push(conn);
    return conn;
  };
  try {
    const writer = await connect(masterAddr);
    const masterMonitor = await connect(masterAddr);
    const drMonitor = await connect(drAddr);

    say(`creating ${DEMO_DB}.${DEMO_TABLE} on both servers (empty; the link starts with --initial none)`);
    for (const conn of [writer, drMonitor]) await createDemoTable(conn);

    const link = await client.createLink({
      name: LINK_NAME,
      source: servers.master.url,
      target: servers.dr.url,
      include: [DEMO_DB],
      initial: "none",
    });
    say(`link ${link.name}: ${link.source} -> ${link.target}, include ${link.include.join(",")}, state ${link.state}`);
    checkAborted(signal);

    say(`\nwriting to the master for ${WRITE_DURATION_MS / 1000} s, about ${ROW_CHANGES_PER_SECOND} row changes per second (INSERT/UPDATE/DELETE in small transactions):`);
    say("(lag: age of the oldest master change not yet applied on the DR server, from heartbeats; 0 when caught up)");
    say(statusHeader());
    const startedAt = Date.now();
    const workload = new Workload(writer);
    const reporter = new StatusReporter(client, masterMonitor, drMonitor, startedAt);
    const writing = workload.run(WRITE_DURATION_MS, signal);
    await reporter.runWhile(writing, signal);
    await writing;
    const stoppedAt = Date.now();
    say(`stopped writing: ${workload.rowChanges} row changes in ${workload.transactions} transactions (${perSecond(workload.rowChanges, stoppedAt - startedAt)} row changes/s)`);

    say("\nwaiting for the DR copy to catch up with the master's GTID position...");
    const target = await currentGtidPosition(masterMonitor, servers.master.flavor);
    const caughtUp = await waitCaughtUp(client, servers.master.flavor, target, signal);
    const caughtUpAt = Date.now();
    say(reporter.line(await reporter.sample()));
    say(`caught up ${formatSeconds(caughtUpAt - stoppedAt)} s after the writes stopped: master position ${target}, applied ${caughtUp.appliedGtid}`);

    say("\ncomparing both copies (SELECT * ... ORDER BY id on each side):");
    const diff = await compareTables(masterMonitor, drMonitor);
    const applierSeconds = (caughtUpAt - startedAt) / 1000;
    say(`  master ${diff.masterRows} rows, DR ${diff.drRows} rows: ${diff.identical ? "IDENTICAL" : `DIFFERENT (${diff.firstDifference})`}`);
    say(`  applier: ${caughtUp.rowsApplied} rows in ${caughtUp.transactionsApplied} source transactions over ${applierSeconds.toFixed(1)} s = ${perSecond(caughtUp.rowsApplied, caughtUpAt - startedAt)} rows/s (bounded by the demo's write rate, not a benchmark)`);
    say(`  highest lag seen: ${reporter.maxLag === null ? "-" : `${reporter.maxLag.toFixed(3)} s`}`);
    say(diff.identical ? "\nresult: OK, the DR copy is identical to the master." : "\nresult: FAILED, the copies differ.");
    return diff.identical;
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  }
}

// ---------------------------------------------------------------------------------------------
// Servers and daemon
// ---------------------------------------------------------------------------------------------

async function startServers(stateDir: string, signal: AbortSignal): Promise<Servers> {
  say("starting two sandbox servers (master and DR) on free ports; the first start initializes their data directories...");
  // allSettled: when one fails, the other has finished starting too and the cleanup can stop it.
  const [master, dr] = await Promise.allSettled([
    startSandbox({ name: SANDBOX_NAMES.master, stateDir }),
    startSandbox({ name: SANDBOX_NAMES.dr, stateDir }),
  ]);
  if (master.status === "rejected") throw master.reason;
  if (dr.status === "rejected") throw dr.reason;
  checkAborted(signal);
  for (const [role, info] of [["master", master.value], ["DR", dr.value]] as const) {
    say(`  ${role.padEnd(6)} ${info.flavor} ${info.version} at ${info.url} (pid ${info.pid})`);
  }
  return { master: master.value, dr: dr.value };
}

function spawnDaemon(stateDir: string): ChildProcess {
  say("starting the replication daemon: mysql-dr daemon --listen 127.0.0.1:0 --state-dir <temp dir>");
  const log = fs.openSync(path.join(stateDir, STATE_FILES.log), "a", 0o600);
  try {
    return spawn(process.execPath, [...DAEMON_NODE_FLAGS, CLI, "daemon", "--listen", "127.0.0.1:0", "--state-dir", stateDir], {
      stdio: ["ignore", log, log],
      env: withoutDaemonOverrides(process.env),
    });
  } finally {
    fs.closeSync(log);
  }
}

/** MYSQL_DR_DAEMON / MYSQL_DR_TOKEN from the user's shell would point the demo at another daemon. */
function withoutDaemonOverrides(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of ["MYSQL_DR_DAEMON", "MYSQL_DR_TOKEN", "MYSQL_DR_STATE_DIR"]) delete copy[name];
  return copy;
}

/** Waits for DIR/daemon.address, then for the control API to answer. */
async function waitForDaemon(stateDir: string, child: ChildProcess, signal: AbortSignal): Promise<DaemonClient> {
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  const addressFile = path.join(stateDir, STATE_FILES.address);
  for (;;) {
    checkAborted(signal);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the daemon exited during startup (${child.exitCode ?? child.signalCode})`);
    }
    if (fs.existsSync(addressFile)) {
      // Explicit URL and token: the demo talks to its own daemon whatever the environment says.
      const client = new DaemonClient({
        stateDir,
        daemon: fs.readFileSync(addressFile, "utf8").trim(),
        token: fs.readFileSync(path.join(stateDir, STATE_FILES.token), "utf8").trim(),
      });
      if (await client.listLinks().then(() => true, () => false)) return client;
    }
    if (Date.now() > deadline) throw new Error(`the daemon did not answer within ${DAEMON_START_TIMEOUT_MS / 1000} s`);
    await sleep(100, signal);
  }
}

async function cleanUp(stateDir: string, daemon: ChildProcess | undefined): Promise<void> {
  say("\ncleaning up:");
  if (daemon) {
    try {
      const how = await stopChild(daemon);
      say(`  daemon stopped (${how})`);
    } catch (err) {
      say(`  could not stop the daemon (pid ${daemon.pid}): ${errorMessage(err)}`);
    }
  }
  await Promise.all(
    Object.values(SANDBOX_NAMES).map(async (name) => {
      try {
        await stopSandbox({ name, stateDir });
        say(`  sandbox ${name} stopped`);
      } catch (err) {
        say(`  could not stop sandbox ${name}: ${errorMessage(err)} (its data directory is under ${stateDir})`);
        throw err;
      }
    }),
  ).then(
    () => {
      fs.rmSync(stateDir, { recursive: true, force: true });
      say(`  removed ${stateDir}`);
    },
    () => say(`  kept ${stateDir} because a server may still be running there`),
  );
}

/** SIGTERM, then SIGKILL after DAEMON_STOP_TIMEOUT_MS. */
async function stopChild(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return `had already exited: ${child.exitCode ?? child.signalCode}`;
  const exited = new Promise<string>((resolve) => child.once("exit", (code, sig) => resolve(code !== null ? `exit code ${code}` : `signal ${sig}`)));
  child.kill("SIGTERM");
  const timer = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), DAEMON_STOP_TIMEOUT_MS).unref());
  const first = await Promise.race([exited, timer]);
  if (first !== undefined) return first;
  child.kill("SIGKILL");
  return `killed after ${DAEMON_STOP_TIMEOUT_MS / 1000} s: ${await exited}`;
}

function printDaemonLogTail(stateDir: string): void {
  try {
    const lines = fs.readFileSync(path.join(stateDir, STATE_FILES.log), "utf8").trimEnd().split("\n").slice(-LOG_TAIL_LINES);
    if (lines.length === 0 || lines[0] === "") return;
    say(`\nlast lines of the daemon's log:`);
    for (const line of lines) say(`  ${line}`);
  } catch {
    // no log yet
  }
}

// ---------------------------------------------------------------------------------------------
// Workload on the master
// ---------------------------------------------------------------------------------------------

async function createDemoTable(conn: mysql.Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${DEMO_DB}\` /* mysql-dr demo */`);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS \`${DEMO_DB}\`.\`${DEMO_TABLE}\` (
       id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
       customer VARCHAR(64) NOT NULL,
       amount DECIMAL(12,2) NOT NULL,
       status ENUM('new','paid','shipped','cancelled') NOT NULL,
       updated_at DATETIME(6) NOT NULL,
       note TEXT NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 /* mysql-dr demo */`,
  );
}

const CUSTOMERS = ["Ada", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "Zoë", "Søren"];
const STATUSES = ["new", "paid", "shipped", "cancelled"] as const;

/** Small random transactions at a steady rate; remembers which ids exist (it is the only writer). */
class Workload {
  rowChanges = 0;
  transactions = 0;
  private nextId = 1;
  private readonly live: number[] = [];

  constructor(private readonly conn: mysql.Connection) {}

  async run(durationMs: number, signal: AbortSignal): Promise<void> {
    const start = Date.now();
    for (;;) {
      checkAborted(signal);
      const elapsed = Date.now() - start;
      if (elapsed >= durationMs) return;
      const due = Math.floor((ROW_CHANGES_PER_SECOND * elapsed) / 1000);
      while (this.rowChanges < due) {
        checkAborted(signal);
        await this.transaction(1 + Math.floor(Math.random() * MAX_STATEMENTS_PER_TRANSACTION));
      }
      await sleep(WRITER_TICK_MS, signal);
    }
  }

  private async transaction(statements: number): Promise<void> {
    await this.conn.beginTransaction();
    try {
      for (let i = 0; i < statements; i++) await this.statement();
      await this.conn.commit();
    } catch (err) {
      await this.conn.rollback().catch(() => undefined);
      throw err;
    }
    this.transactions++;
    this.rowChanges += statements;
  }

  /** About 50% INSERT, 35% UPDATE, 15% DELETE (INSERT while there is nothing to change). */
  private async statement(): Promise<void> {
    const r = Math.random();
    if (this.live.length < 10 || r < 0.5) {
      const id = this.nextId++;
      await this.conn.execute(
        `INSERT INTO \`${DEMO_DB}\`.\`${DEMO_TABLE}\` (id, customer, amount, status, updated_at, note) VALUES (?, ?, ?, 'new', NOW(6), ?) /* mysql-dr demo */`,
        [id, pick(CUSTOMERS), randomAmount(), Math.random() < 0.3 ? null : `order ${id} for ${pick(CUSTOMERS)}`],
      );
      this.live.push(id);
    } else if (r < 0.85) {
      const id = this.live[Math.floor(Math.random() * this.live.length)];
      await this.conn.execute(
        `UPDATE \`${DEMO_DB}\`.\`${DEMO_TABLE}\` SET status = ?, amount = ?, updated_at = NOW(6) WHERE id = ? /* mysql-dr demo */`,
        [pick(STATUSES), randomAmount(), id],
      );
    } else {
      const index = Math.floor(Math.random() * this.live.length);
      const id = this.live[index];
      this.live[index] = this.live[this.live.length - 1];
      this.live.pop();
      await this.conn.execute(`DELETE FROM \`${DEMO_DB}\`.\`${DEMO_TABLE}\` WHERE id = ? /* mysql-dr demo */`, [id]);
    }
  }
}

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)];
}

function randomAmount(): string {
  return (Math.random() * 1000).toFixed(2);
}

// ---------------------------------------------------------------------------------------------
// Status, catch-up, comparison
// ---------------------------------------------------------------------------------------------

interface Sample {
  atMs: number;
  masterRows: number;
  drRows: number;
  status: LinkStatus;
}

class StatusReporter {
  maxLag: number | null = null;

  constructor(
    private readonly client: DaemonClient,
    private readonly master: mysql.Connection,
    private readonly dr: mysql.Connection,
    private readonly startedAt: number,
  ) {}

  /** Prints one line per STATUS_INTERVAL_MS until `work` settles. */
  async runWhile(work: Promise<unknown>, signal: AbortSignal): Promise<void> {
    let done = false;
    const settled = work.then(() => (done = true), () => (done = true));
    let next = this.startedAt + STATUS_INTERVAL_MS;
    while (!done) {
      await Promise.race([settled, sleep(Math.max(0, next - Date.now()), signal)]);
      if (done) return;
      next += STATUS_INTERVAL_MS;
      const sample = await this.sample();
      say(this.line(sample));
      if (sample.status.state === "error") throw new Error(`the link stopped: ${sample.status.lastError}`);
    }
  }

  async sample(): Promise<Sample> {
    const [masterRows, drRows, status] = await Promise.all([countRows(this.master), countRows(this.dr), this.client.getLink(LINK_NAME)]);
    if (status.lagSeconds !== null) this.maxLag = Math.max(this.maxLag ?? 0, status.lagSeconds);
    return { atMs: Date.now(), masterRows, drRows, status };
  }

  line(s: Sample): string {
    const lag = s.status.lagSeconds === null ? "-" : s.status.lagSeconds.toFixed(3);
    return [
      `${formatSeconds(s.atMs - this.startedAt)}`.padStart(6),
      String(s.masterRows).padStart(10),
      String(s.drRows).padStart(10),
      s.status.state.padEnd(9),
      (lag + (s.status.lagSource === "event-timestamps" ? "*" : "")).padStart(8),
      String(s.status.rowsApplied).padStart(12),
    ].join("  ");
  }
}

function statusHeader(): string {
  return ["time s".padStart(6), "master rows".padStart(10), "DR rows".padStart(10), "state".padEnd(9), "lag s".padStart(8), "rows applied".padStart(12)].join("  ");
}

async function countRows(conn: mysql.Connection): Promise<number> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM \`${DEMO_DB}\`.\`${DEMO_TABLE}\` /* mysql-dr demo */`);
  return Number((rows as { n: string | number }[])[0].n);
}

/** Polls the link until its applied GTIDs cover `target` (the master's position after the writes). */
async function waitCaughtUp(client: DaemonClient, flavor: Flavor, target: string, signal: AbortSignal): Promise<LinkStatus> {
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  let last: LinkStatus | undefined;
  for (;;) {
    checkAborted(signal);
    last = await client.getLink(LINK_NAME);
    if (last.state === "error") throw new Error(`the link stopped: ${last.lastError}`);
    if (last.appliedGtid !== null && gtidCovers(flavor, last.appliedGtid, target)) return last;
    if (Date.now() > deadline) {
      throw new Error(`the DR copy did not catch up within ${CATCH_UP_TIMEOUT_MS / 1000} s: applied ${last.appliedGtid ?? "nothing"}, wanted ${target}, state ${last.state}`);
    }
    await sleep(CATCH_UP_POLL_MS, signal);
  }
}

interface Comparison {
  identical: boolean;
  masterRows: number;
  drRows: number;
  firstDifference?: string;
}

/** Both tables read in primary-key order with the same connection options, compared row by row. */
async function compareTables(master: mysql.Connection, dr: mysql.Connection): Promise<Comparison> {
  const select = `SELECT * FROM \`${DEMO_DB}\`.\`${DEMO_TABLE}\` ORDER BY id /* mysql-dr demo */`;
  const [[m], [d]] = await Promise.all([master.query(select), dr.query(select)]);
  const masterRows = (m as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  const drRows = (d as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  const n = Math.max(masterRows.length, drRows.length);
  for (let i = 0; i < n; i++) {
    if (masterRows[i] !== drRows[i]) {
      return {
        identical: false,
        masterRows: masterRows.length,
        drRows: drRows.length,
        firstDifference: `row ${i + 1}: master ${masterRows[i] ?? "(none)"}, DR ${drRows[i] ?? "(none)"}`,
      };
    }
  }
  return { identical: true, masterRows: masterRows.length, drRows: drRows.length };
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function say(line: string): void {
  process.stdout.write(line + "\n");
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Interrupted("aborted");
}

/** Resolves after `ms`, or rejects at once when the demo is interrupted. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function formatSeconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function perSecond(count: number, ms: number): string {
  return ms > 0 ? Math.round((count * 1000) / ms).toString() : "-";
}

if (require.main === module) {
  void main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`demo: ${errorMessage(err)}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
