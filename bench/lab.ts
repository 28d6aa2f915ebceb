/**
 * The benchmark's servers and reference tools: sandbox servers with one set of durability
 * settings for everyone (sync_binlog=1, innodb_flush_log_at_trx_commit=1, the sandbox's flags),
 * native GTID replication, sysbench, the daemon as a child process, and peers from Debian's
 * packages, installed when missing.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { DaemonClient } from "../provider/src/cli/daemon-client";
import { gtidCovers } from "../provider/src/core/gtid";
import { DAEMON_NODE_FLAGS } from "../provider/src/daemon/defaults";
import { type SandboxInfo, startSandbox, stopSandbox } from "../provider/src/sandbox/sandbox";

export const REPO = path.resolve(__dirname, "../..");
const CLI = path.join(REPO, "bin", "mysql-dr.js");

/** Debian packages of the reference systems; installed (as root) when their command is missing. */
const PEERS: Record<string, string> = { sysbench: "sysbench", mydumper: "mydumper", myloader: "mydumper", "pt-table-checksum": "percona-toolkit", "pt-heartbeat": "percona-toolkit" };

export function ensurePeers(): void {
  const missing = [...new Set(Object.entries(PEERS).filter(([cmd]) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0).map(([, pkg]) => pkg))];
  if (!missing.length) return;
  log(`installing ${missing.join(", ")} from Debian's packages`);
  execFileSync("apt-get", ["update"], { stdio: "ignore" });
  execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

export class Server {
  constructor(readonly info: SandboxInfo) {}

  get port(): number {
    return this.info.port;
  }

  get url(): string {
    return this.info.url;
  }

  async sql(statements: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const conn = await mysql.createConnection({ host: "127.0.0.1", port: this.port, user: "root", multipleStatements: true, supportBigNumbers: true, bigNumberStrings: true });
    try {
      const [rows] = await conn.query(statements, params);
      return rows as Record<string, unknown>[];
    } finally {
      await conn.end();
    }
  }

  async position(): Promise<string> {
    return String((await this.sql("SELECT @@GLOBAL.gtid_binlog_pos AS p"))[0].p);
  }
}

export class Lab {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-bench-"));
  private readonly servers: { name: string; dir: string }[] = [];
  private daemonProcess?: ChildProcess;
  private closing = false;
  daemon?: DaemonClient;

  async server(name: string): Promise<Server> {
    const dir = path.join(this.dir, name);
    const info = await startSandbox({ name, dir });
    this.servers.push({ name, dir });
    return new Server(info);
  }

  async startDaemon(): Promise<DaemonClient> {
    const stateDir = path.join(this.dir, "daemon");
    fs.mkdirSync(stateDir, { recursive: true });
    // --profile: a V8 CPU profile of the daemon over the whole run, to see where its time goes.
    const profile = process.argv.includes("--profile") ? ["--cpu-prof", `--cpu-prof-dir=${path.join(REPO, "bench", "results", "profile")}`] : [];
    // --daemon-node-flags "...": V8 settings for the daemon alone, for GC sizing experiments run against a default invocation.
    const flagsAt = process.argv.indexOf("--daemon-node-flags");
    if (flagsAt >= 0 && process.argv[flagsAt + 1] === undefined) throw new Error('--daemon-node-flags needs a value, e.g. --daemon-node-flags "--max-semi-space-size=16"');
    const nodeFlags = flagsAt >= 0 ? process.argv[flagsAt + 1].split(/\s+/).filter(Boolean) : [];
    // Started as the product starts it (pulumi/local-daemon.ts); --daemon-node-flags come after, so they win.
    this.daemonProcess = spawn(process.execPath, [...profile, ...DAEMON_NODE_FLAGS, ...nodeFlags, CLI, "daemon", "--listen", "127.0.0.1:0", "--state-dir", stateDir], { stdio: ["ignore", fs.openSync(path.join(stateDir, "out.log"), "a"), "inherit"] });
    // A daemon gone mid-run shows up as "cannot reach the daemon" later: say here how it ended.
    this.daemonProcess.once("exit", (code, signal) => this.closing || log(`the daemon exited (${signal ?? `code ${code}`}) before the lab closed`));
    for (let i = 0; i < 200 && !fs.existsSync(path.join(stateDir, "daemon.address")); i++) await sleep(50);
    this.daemon = new DaemonClient({ stateDir });
    return this.daemon;
  }

  /** The daemon's process id (for its CPU time in /proc). */
  get daemonPid(): number {
    return this.daemonProcess!.pid!;
  }

  /** The daemon's peak resident memory since the last reset, in MiB (VmHWM). */
  daemonPeakRssMiB(): number {
    return this.daemonStatusMiB("VmHWM");
  }

  /** The daemon's current resident memory, in MiB (VmRSS). */
  daemonRssMiB(): number {
    return this.daemonStatusMiB("VmRSS");
  }

  private daemonStatusMiB(field: "VmHWM" | "VmRSS"): number {
    const status = fs.readFileSync(`/proc/${this.daemonProcess!.pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
  }

  /**
   * The daemon's Prometheus text (/metrics): every link's lag and counters from in-memory
   * snapshots, without the per-link server round trips that a link's status (getLink) makes.
   */
  async daemonMetrics(): Promise<string> {
    const token = fs.readFileSync(path.join(this.dir, "daemon", "token"), "utf8").trim();
    const res = await fetch(`${this.daemon!.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET /metrics answered HTTP ${res.status}`);
    return res.text();
  }

  resetDaemonPeakRss(): void {
    fs.writeFileSync(`/proc/${this.daemonProcess!.pid}/clear_refs`, "5");
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.daemonProcess && this.daemonProcess.exitCode === null) {
      const exited = new Promise((resolve) => this.daemonProcess!.once("exit", resolve));
      this.daemonProcess.kill("SIGTERM");
      await exited;
    }
    for (const s of this.servers) await stopSandbox(s).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Native MariaDB GTID replication from `master` (stopped until startReplica). */
export async function configureNativeReplica(replica: Server, master: Server, parallelThreads: number): Promise<void> {
  await replica.sql(`STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '';
    SET GLOBAL slave_parallel_threads = ${parallelThreads}; SET GLOBAL slave_parallel_mode = '${parallelThreads > 0 ? "optimistic" : "conservative"}';
    CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${master.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos`);
}

export async function startReplica(replica: Server): Promise<void> {
  await replica.sql("START SLAVE");
}

export async function stopReplica(replica: Server): Promise<void> {
  await replica.sql("STOP SLAVE");
}

/** Waits until `applied()` covers `target`; returns the seconds it took. */
export async function timeUntilCovered(applied: () => Promise<string | null>, target: string, timeoutMs = 1_800_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const pos = await applied();
    if (pos !== null && gtidCovers("mariadb", pos, target)) return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) throw new Error(`not caught up with ${target} after ${timeoutMs / 1000} s (at ${pos})`);
    await sleep(25);
  }
}

export async function nativeApplied(replica: Server): Promise<string> {
  return String((await replica.sql("SELECT @@GLOBAL.gtid_slave_pos AS p"))[0].p);
}

/** One contender's catch-up: seconds from its start until it covered the target, and until it applied its first transaction (its resume cost). */
export interface CatchUp {
  seconds: number;
  firstApplySeconds: number;
}

/**
 * Starts a contender and times it until `applied()` covers `target`, polling every `pollMs`
 * (a `positionProbe`, so polling costs every contender the same).
 */
export async function timeCatchUp(start: () => Promise<void>, applied: () => Promise<string | null>, target: string, pollMs = 10, timeoutMs = 1_800_000): Promise<CatchUp> {
  const before = await applied();
  const started = Date.now();
  await start();
  let firstApplySeconds = NaN;
  for (;;) {
    const pos = await applied();
    const elapsed = (Date.now() - started) / 1000;
    if (Number.isNaN(firstApplySeconds) && pos !== before) firstApplySeconds = elapsed;
    if (pos !== null && gtidCovers("mariadb", pos, target)) return { seconds: elapsed, firstApplySeconds };
    if (elapsed * 1000 > timeoutMs) throw new Error(`not caught up with ${target} after ${timeoutMs / 1000} s (at ${pos})`);
    await sleep(pollMs);
  }
}

/**
 * A contender's applied position read over one open connection to its server (close it when
 * done): a native replica's gtid_slave_pos, or a link's checkpoint on the DR server. Both are
 * committed with the rows they cover, and both cost the contender the same one cheap query per
 * poll; the daemon's status would also evaluate the promotion guardrails on every call.
 */
export async function positionProbe(server: Server, link?: string): Promise<{ applied: () => Promise<string | null>; close: () => Promise<void> }> {
  const conn = await mysql.createConnection({ host: "127.0.0.1", port: server.port, user: "root" });
  const [sql, params] = link === undefined
    ? ["SELECT @@GLOBAL.gtid_slave_pos AS p", []]
    : ["SELECT source_gtid AS p FROM mysql_dr.checkpoint WHERE link = ?", [link]];
  return {
    applied: async () => {
      const [rows] = (await conn.query(sql, params)) as [Record<string, unknown>[], unknown];
      return rows.length ? String(rows[0].p) : null;
    },
    close: () => conn.end(),
  };
}

/**
 * Flushes the dirty InnoDB pages of these servers and waits until they are written and their
 * purge has caught up (or `timeoutMs`): the next contender does not share the disk with the
 * master's flushing of the backlog it just received, nor the two cores with the servers' purge
 * of it, nor with the previous contender's. Returns the seconds it took.
 */
export async function quiesce(servers: Server[], timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  const FLUSH = ["innodb_max_dirty_pages_pct", "innodb_io_capacity_max", "innodb_io_capacity"];
  await Promise.all(
    servers.map(async (s) => {
      const [saved] = await s.sql(`SELECT ${FLUSH.map((v) => `@@GLOBAL.${v} AS ${v}`).join(", ")}`);
      // Flush everything, at the disk's pace rather than the default 200 pages/s.
      await s.sql("SET GLOBAL innodb_io_capacity_max = 20000; SET GLOBAL innodb_io_capacity = 20000; SET GLOBAL innodb_max_dirty_pages_pct = 0");
      try {
        while (Date.now() - started < timeoutMs) {
          if ((await statusCounter(s, "Innodb_buffer_pool_pages_dirty")) <= 16 && (await undoHistory(s)) <= 64) break;
          await sleep(100);
        }
      } finally {
        // innodb_io_capacity first: innodb_io_capacity_max may not go below it.
        await s.sql([...FLUSH].reverse().map((v) => `SET GLOBAL ${v} = ${Number(saved[v])}`).join("; "));
      }
    }),
  );
  return (Date.now() - started) / 1000;
}

/** Undo log records not yet purged (InnoDB's history list; the metric is on by default in MySQL and MariaDB). */
async function undoHistory(server: Server): Promise<number> {
  const rows = await server.sql("SELECT `COUNT` AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'");
  return Number(rows[0]?.n ?? 0);
}

/** A global status counter of a server. */
export async function statusCounter(server: Server, name: string): Promise<number> {
  const rows = await server.sql("SELECT VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", [name.toUpperCase()]);
  return Number(rows[0]?.v ?? NaN);
}

/** The durable writes a server did: InnoDB's fsyncs and the binlog's group commits (one binlog fsync each with sync_binlog=1). */
export async function durableWrites(server: Server): Promise<{ innodbFsyncs: number; binlogGroupCommits: number }> {
  return { innodbFsyncs: await statusCounter(server, "Innodb_data_fsyncs"), binlogGroupCommits: await statusCounter(server, "Binlog_group_commits") };
}

/** The median latency of a small write + fsync in `dir`, in ms: what a durable commit waits for on this disk, now. */
export function fsyncLatencyMs(dir: string, count = 50): number {
  const file = path.join(dir, "fsync-probe");
  const fd = fs.openSync(file, "w");
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      fs.writeSync(fd, Buffer.alloc(512, 1), 0, 512, 0);
      const t = process.hrtime.bigint();
      fs.fsyncSync(fd);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return percentile(times, 50);
}

/** The order contenders run in on run `run` (0-based): rotated, so none always runs first after the backlog is written. */
export function rotated<T>(contenders: T[], run: number): T[] {
  const k = run % contenders.length;
  return [...contenders.slice(k), ...contenders.slice(0, k)];
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** utime + stime of a process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

function sysbenchArgs(master: Server, args: string[], db: string): string[] {
  return ["oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1", `--mysql-port=${master.port}`, "--mysql-user=root", `--mysql-db=${db}`, ...args];
}

export function sysbench(master: Server, args: string[], db = "sbtest"): string {
  const r = spawnSync("sysbench", sysbenchArgs(master, args, db), { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`sysbench ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The transactions per second sysbench reports it committed. */
export function sysbenchTps(output: string): number {
  return Number(/transactions:\s+\d+\s+\(([\d.]+) per sec/.exec(output)?.[1] ?? NaN);
}

export function sysbenchAsync(master: Server, args: string[], db = "sbtest"): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("sysbench", sysbenchArgs(master, args, db));
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`sysbench exited ${code}`))));
  });
}

export function timed(cmd: string, args: string[], opts: { input?: string } = {}): number {
  const started = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...opts });
  if (r.status !== 0 && !(cmd === "pt-table-checksum" && r.status !== null && r.status < 16)) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}`);
  return (Date.now() - started) / 1000;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function stats(values: number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...values), median: percentile(values, 50), max: Math.max(...values) };
}
