/**
 * A real `mysql-dr daemon` child process for tests (the same binary users run), plus the CLI and
 * SQL helpers the replication tests share.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { DaemonClient } from "../../src/cli/daemon-client";
import { withTlsFallback } from "../../src/core/db";
import { gtidCovers } from "../../src/core/gtid";
import { STATE_FILES } from "../../src/core/state-dir";
import type { LinkStatus } from "../../src/daemon/link-runner";
import type { TestServer } from "./servers";

export const CLI = path.resolve(__dirname, "../../../../bin/mysql-dr.js");
const DAEMON_START_TIMEOUT_MS = 20_000;

export function tempStateDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mysql-dr-${tag}-`));
}

export interface DaemonStartOptions {
  /** More `mysql-dr daemon` options; a --listen here replaces the default 127.0.0.1:0. */
  args?: string[];
  /** The CA (PEM) the test's clients trust, for a daemon started with --tls-cert. */
  caCert?: string;
}

export class DaemonProcess {
  private constructor(readonly stateDir: string, readonly child: ChildProcess, readonly url: string, readonly logFile: string, private readonly caCert?: string) {}

  /** Starts a daemon on a free port and waits until its control API answers. */
  static async start(stateDir: string, env: NodeJS.ProcessEnv = {}, options: DaemonStartOptions = {}): Promise<DaemonProcess> {
    fs.rmSync(path.join(stateDir, STATE_FILES.address), { force: true });
    const logFile = path.join(stateDir, "daemon-test.log");
    const log = fs.openSync(logFile, "a");
    const child = spawn(process.execPath, [CLI, "daemon", "--listen", "127.0.0.1:0", "--state-dir", stateDir, ...(options.args ?? [])], {
      env: { ...process.env, ...env },
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
    for (;;) {
      const addressFile = path.join(stateDir, STATE_FILES.address);
      if (fs.existsSync(addressFile)) {
        const url = fs.readFileSync(addressFile, "utf8").trim();
        const daemon = new DaemonProcess(stateDir, child, url, logFile, options.caCert);
        if (await daemon.client().listLinks().then(() => true, () => false)) return daemon;
      }
      const code = await Promise.race([exited, sleep(100).then(() => "running" as const)]);
      if (code !== "running") throw new Error(`daemon exited with ${code}: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`daemon did not start: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  client(): DaemonClient {
    return new DaemonClient({ stateDir: this.stateDir, daemon: this.url, caCert: this.caCert });
  }

  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMiB(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill(signal);
    await exited;
  }

  stop(): Promise<void> {
    return this.kill("SIGTERM");
  }

  log(): string {
    return fs.readFileSync(this.logFile, "utf8");
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value other than undefined/false; fails with `what` and the last value seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

export function serverAddress(server: TestServer) {
  return { host: server.host, port: server.port, user: server.user, password: server.password };
}

export async function connect(server: TestServer, extra: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  return withTlsFallback(serverAddress(server), (options) => mysql.createConnection({ ...options, multipleStatements: true, ...extra }));
}

/** Runs statements on a server (multiple statements allowed) and returns the last result's rows. */
export async function sql(server: TestServer, statements: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const conn = await connect(server);
  try {
    const [rows] = await conn.query(statements, params);
    return rows as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

/** Every row of a table, in a canonical order, with values in a comparable form. */
export async function tableContents(server: TestServer, db: string, table: string): Promise<string[]> {
  const rows = await sql(server, `SELECT * FROM \`${db}\`.\`${table}\``);
  return rows.map((r) => JSON.stringify(r, (_k, v) => (v && v.type === "Buffer" && Array.isArray(v.data) ? `hex:${Buffer.from(v.data).toString("hex")}` : v))).sort();
}

/** Waits until the link has applied everything the master has written so far. */
export async function waitCaughtUp(client: DaemonClient, link: string, master: TestServer, timeoutMs = 120_000): Promise<LinkStatus> {
  const target = await masterPosition(master);
  return waitFor(`link ${link} to apply up to ${target}`, async () => {
    const s = await client.getLink(link);
    if (s.state === "error") throw new Error(`link stopped: ${s.lastError}`);
    // The checkpoint can cover the target before the pipeline runs (a copy planned at the master's position): caught up means running too.
    return s.state === "running" && s.appliedGtid !== null && gtidCovers(master.flavor, s.appliedGtid, target) ? s : undefined;
  }, timeoutMs);
}

export async function masterPosition(master: TestServer): Promise<string> {
  const rows = await sql(master, master.flavor === "mysql" ? "SELECT @@GLOBAL.gtid_executed AS pos" : "SELECT @@GLOBAL.gtid_binlog_pos AS pos");
  return String(rows[0].pos).replace(/\s+/g, "");
}


/** True when nothing accepts connections on 127.0.0.1:port. */
export function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** Stops the daemon whose pid file is in the state directory, if one was started there. */
export async function stopDaemonIn(stateDir: string): Promise<void> {
  try {
    const pid = Number(fs.readFileSync(path.join(stateDir, STATE_FILES.pid), "utf8"));
    process.kill(pid, "SIGTERM");
    await waitFor("the local daemon to stop", async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 30_000);
  } catch {
    // No daemon was started.
  }
}
