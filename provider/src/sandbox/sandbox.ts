/**
 * The embedded default local servers ("sandboxes"): a mariadbd or mysqld from PATH with its own
 * data directory, port and binlog, configured the way a replication master or DR copy must be
 * (ROW binlog with full images, GTIDs, its own server id). Used by `DrInstance.local`, by
 * `mysql-dr sandbox start|stop` and by the tests. Prints nothing: callers decide what to show.
 */
import { execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { DrError, errorMessage } from "../core/errors";
import { ensurePrivateDir, resolveStateDir, STATE_FILES } from "../core/state-dir";

import type { Flavor } from "../core/flavor";

export type { Flavor };

export interface SandboxOptions {
  name: string;
  port?: number;
  dir?: string;
  stateDir?: string;
  serverBinary?: string;
  /** Offer TLS with this certificate (PEM file paths, the server's ssl_ca, ssl_cert, ssl_key). */
  tls?: SandboxTls;
  /**
   * Give root a generated password on the first start instead of none (DrInstance `local`). It is
   * kept in the sandbox directory (mode 0600, beside the data it guards) so later starts can log in.
   */
  secureRoot?: boolean;
}

export interface SandboxTls {
  ca: string;
  cert: string;
  key: string;
}

export interface SandboxInfo {
  name: string;
  port: number;
  dir: string;
  pid: number;
  flavor: Flavor;
  version: string;
  /** mysql://root@127.0.0.1:PORT (loopback only; root's password is empty unless secureRoot, see sandboxRootPassword). */
  url: string;
}

/** What `mysqld --version` says about a server binary. */
export interface ServerBinary {
  path: string;
  flavor: Flavor;
  /** Numeric part only, e.g. "10.11.19". */
  version: string;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const SANDBOX_HOST = "127.0.0.1";
const SERVER_START_TIMEOUT_MS = 60_000;
const SERVER_STOP_TIMEOUT_MS = 60_000;
const KILL_WAIT_MS = 10_000;
const POLL_INTERVAL_MS = 200;
const CONNECT_TIMEOUT_MS = 2_000;
const VERSION_COMMAND_TIMEOUT_MS = 15_000;
const INIT_TIMEOUT_MS = 300_000;
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 8_192;
/** sun_path holds 108 bytes on Linux (104 on macOS); longer socket paths make the server abort. */
const MAX_SOCKET_PATH_CHARS = 100;
/** root's PATH often lacks the sbin folders where distributions put the server. */
const EXTRA_SEARCH_DIRS = ["/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"];
const SYSTEM_BIN_DIRS = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];

const FILES = {
  data: "data",
  tmp: "tmp",
  binlogDir: "binlog",
  binlogBase: "mysql-bin",
  socket: "mysqld.sock",
  pid: "mysqld.pid",
  serverLog: "server.log",
  initLog: "init.log",
  initSql: "init.sql",
  info: "sandbox.json",
  rootPassword: "root-password",
} as const;

const ROOT_PASSWORD_BYTES = 24;

/** The content of DIR/sandbox.json. */
interface SandboxRecord {
  name: string;
  port: number;
  flavor: Flavor;
  version: string;
  dir: string;
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export async function startSandbox(opts: SandboxOptions): Promise<SandboxInfo> {
  const name = validateName(opts.name);
  if (opts.port !== undefined) validatePort(opts.port);
  const dir = ensurePrivateDir(sandboxDir(name, opts.dir, opts.stateDir));
  const record = readRecord(dir);

  const running = runningPid(dir);
  if (running !== undefined && record !== undefined) {
    if (opts.port !== undefined && opts.port !== record.port) {
      throw new DrError(
        "CONFLICT",
        `sandbox ${name} is already running on port ${record.port}; stop it before starting it on port ${opts.port}`,
      );
    }
    await waitForServer(record.port, SERVER_START_TIMEOUT_MS, { password: sandboxRootPassword(dir) });
    if (opts.secureRoot) await secureRootAccounts(dir, record.port);
    return toInfo(record, dir, running);
  }

  const binary = findServerBinary(opts.serverBinary);
  // Keep the port of earlier starts: server_id and the URL users saved stay the same.
  const port = opts.port ?? record?.port ?? (await pickFreePort());
  if (!(await isPortFree(port))) {
    throw new DrError("PRECONDITION", `port ${port} on ${SANDBOX_HOST} is in use; choose another with --port`);
  }

  const dataDir = path.join(dir, FILES.data);
  if (!isInitialized(dataDir)) await initializeDataDir(binary, dir);
  fs.mkdirSync(path.join(dir, FILES.binlogDir), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(dir, FILES.tmp), { recursive: true, mode: 0o700 });

  const pid = await launchServer(binary, dir, port, opts.tls);
  if (opts.secureRoot) await secureRootAccounts(dir, port);
  const version = await queryVersion(port, sandboxRootPassword(dir));
  const fresh: SandboxRecord = { name, port, flavor: binary.flavor, version, dir };
  writeRecord(dir, fresh);
  return toInfo(fresh, dir, pid);
}

export async function stopSandbox(opts: { name: string; dir?: string; stateDir?: string }): Promise<void> {
  const name = validateName(opts.name);
  const dir = sandboxDir(name, opts.dir, opts.stateDir);
  const pid = runningPid(dir);
  if (pid === undefined) return;

  signal(pid, "SIGTERM");
  if (await waitForExit(pid, SERVER_STOP_TIMEOUT_MS)) return;
  signal(pid, "SIGKILL");
  if (await waitForExit(pid, KILL_WAIT_MS)) return;
  throw new DrError("INTERNAL", `sandbox ${name} (pid ${pid}) did not exit after SIGKILL`);
}

/** root's password on a sandbox started with secureRoot; "" on others. */
export function sandboxRootPassword(dir: string): string {
  try {
    return fs.readFileSync(path.join(path.resolve(dir), FILES.rootPassword), "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Gives every root account that can log in (TCP and socket) the sandbox's generated password and drops anonymous
 * accounts, so nothing logs in without it; does nothing once done. The password file is written
 * first, so a failure midway never leaves a password nobody knows.
 */
async function secureRootAccounts(dir: string, port: number): Promise<void> {
  if (sandboxRootPassword(dir) !== "") return;
  const password = crypto.randomBytes(ROOT_PASSWORD_BYTES).toString("base64url");
  const file = path.join(dir, FILES.rootPassword);
  const conn = await mysql.createConnection({ host: SANDBOX_HOST, port, user: "root", password: "", connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    fs.writeFileSync(file, password + "\n", { mode: 0o600 });
    // Account changes stay out of the binlog: a reverse link reads this server's binlog after a promotion.
    await conn.query("SET SESSION sql_log_bin = 0 /* mysql-dr sandbox */");
    const [accounts] = await conn.query<mysql.RowDataPacket[]>("SELECT User AS user, Host AS host FROM mysql.user WHERE User IN ('root', '') /* mysql-dr sandbox */");
    // With --skip-name-resolve an account for a host name (root@<hostname>) matches no client, and the
    // server cannot alter it either: only addresses, localhost and patterns can log in.
    for (const { user, host } of accounts.filter((a) => net.isIP(a.host) !== 0 || a.host === "localhost" || a.host.includes("%"))) {
      if (user === "") await conn.query("DROP USER ''@? /* mysql-dr sandbox */", [host]);
      else await conn.query("ALTER USER 'root'@? IDENTIFIED BY ? /* mysql-dr sandbox */", [host, password]);
    }
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw new DrError("PRECONDITION", `Setting root's password on the sandbox server on port ${port} failed (${errorMessage(err)}); check its log in ${dir}.`, { cause: err });
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** The running sandbox, or undefined when it is not running (or was never started). */
export async function sandboxStatus(opts: {
  name: string;
  dir?: string;
  stateDir?: string;
}): Promise<SandboxInfo | undefined> {
  const name = validateName(opts.name);
  const dir = sandboxDir(name, opts.dir, opts.stateDir);
  const record = readRecord(dir);
  const pid = runningPid(dir);
  if (record === undefined || pid === undefined) return undefined;
  return toInfo(record, dir, pid);
}

/**
 * Polls until a connection to host:port succeeds, or throws UNREACHABLE after timeoutMs.
 * `stillRunning` lets a caller that owns the process stop waiting as soon as it has died.
 */
export async function waitForServer(
  port: number,
  timeoutMs: number,
  opts: { host?: string; user?: string; password?: string; stillRunning?: () => boolean } = {},
): Promise<void> {
  const host = opts.host ?? SANDBOX_HOST;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (opts.stillRunning && !opts.stillRunning()) {
      throw new DrError("UNREACHABLE", `the server on ${host}:${port} exited before accepting connections`);
    }
    try {
      const conn = await mysql.createConnection({
        host,
        port,
        user: opts.user ?? "root",
        password: opts.password ?? "",
        connectTimeout: CONNECT_TIMEOUT_MS,
      });
      await conn.end();
      return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new DrError(
        "UNREACHABLE",
        `the server on ${host}:${port} did not accept connections within ${Math.round(timeoutMs / 1000)} s: ${errorMessage(lastError)}`,
        { cause: lastError },
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * The server binary to run: the explicit one, else mariadbd, else mysqld, from PATH and the sbin
 * folders. Synchronous so that test files can decide their backends while mocha loads them.
 */
export function findServerBinary(explicit?: string): ServerBinary {
  if (explicit !== undefined) {
    try {
      fs.accessSync(explicit, fs.constants.X_OK);
    } catch {
      throw new DrError("PRECONDITION", `the server binary ${explicit} does not exist or is not executable`);
    }
  }
  const found = explicit ?? findExecutable("mariadbd") ?? findExecutable("mysqld");
  if (found === undefined) {
    throw new DrError("PRECONDITION", "no mariadbd or mysqld found on PATH; install mariadb-server or mysql-server");
  }
  return inspectServerBinary(found);
}

/**
 * Server options for a replication master or DR copy, shared with the test containers so every
 * backend runs with the same settings. `binlogBase` is a path prefix (relative: in the datadir).
 */
export function replicationServerFlags(flavor: Flavor, version: string, serverId: number, binlogBase: string): string[] {
  const v = parseVersion(version);
  const flags = [
    `--server-id=${serverId}`,
    "--skip-name-resolve",
    `--log-bin=${binlogBase}`,
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--sync-binlog=1",
    "--innodb-flush-log-at-trx-commit=1",
    "--character-set-server=utf8mb4",
    "--max-allowed-packet=256M",
    "--max-connections=200",
    "--innodb-buffer-pool-size=128M",
  ];
  if (flavor === "mariadb") {
    // GTIDs are always on in MariaDB; strict mode would stop a DR copy written to after a promotion.
    flags.push("--log-slave-updates", "--gtid-strict-mode=OFF", "--innodb-log-file-size=64M");
    if (atLeast(v, [10, 5, 0])) flags.push("--binlog-row-metadata=FULL");
  } else {
    flags.push("--gtid-mode=ON", "--enforce-gtid-consistency=ON");
    flags.push(atLeast(v, [8, 0, 26]) ? "--log-replica-updates" : "--log-slave-updates");
    if (atLeast(v, [8, 0, 1])) flags.push("--binlog-row-metadata=FULL");
    // 8.0.30 replaced the redo log file size by a capacity; the old option only warns there.
    flags.push(atLeast(v, [8, 0, 30]) ? "--innodb-redo-log-capacity=128M" : "--innodb-log-file-size=64M");
    // X Protocol is a plugin from 8.0 on (5.7 rejects the option); nobody here needs its port.
    if (atLeast(v, [8, 0, 0])) flags.push("--mysqlx=OFF");
  }
  return flags;
}

// ---------------------------------------------------------------------------------------------
// Locations and records
// ---------------------------------------------------------------------------------------------

function validateName(name: string): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new DrError("BAD_INPUT", `sandbox name ${JSON.stringify(name)} is invalid; use 1 to 64 letters, digits, _ or -`);
  }
  return name;
}

function validatePort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DrError("BAD_INPUT", `port ${port} is invalid; use an integer from 1 to 65535`);
  }
}

function sandboxDir(name: string, dir: string | undefined, stateDir: string | undefined): string {
  if (dir !== undefined) return path.resolve(dir);
  return path.join(resolveStateDir(stateDir), STATE_FILES.sandboxes, name);
}

function socketPath(dir: string): string {
  const inDir = path.join(dir, FILES.socket);
  if (inDir.length <= MAX_SOCKET_PATH_CHARS) return inDir;
  const digest = crypto.createHash("sha256").update(dir).digest("hex").slice(0, 16);
  return path.join(os.tmpdir(), `mysql-dr-${digest}.sock`);
}

function readRecord(dir: string): SandboxRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, FILES.info), "utf8")) as SandboxRecord;
  } catch {
    return undefined;
  }
}

function writeRecord(dir: string, record: SandboxRecord): void {
  const file = path.join(dir, FILES.info);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record, null, 2) + "\n", { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function toInfo(record: SandboxRecord, dir: string, pid: number): SandboxInfo {
  return {
    name: record.name,
    port: record.port,
    dir,
    pid,
    flavor: record.flavor,
    version: record.version,
    url: `mysql://root@${SANDBOX_HOST}:${record.port}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Server binary
// ---------------------------------------------------------------------------------------------

function findExecutable(name: string, extraDirs: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), ...EXTRA_SEARCH_DIRS, ...extraDirs];
  for (const d of dirs) {
    if (!d) continue;
    const candidate = path.join(d, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function inspectServerBinary(binaryPath: string): ServerBinary {
  let output: string;
  try {
    output = execFileSync(binaryPath, ["--no-defaults", "--version"], {
      encoding: "utf8",
      timeout: VERSION_COMMAND_TIMEOUT_MS,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    throw new DrError("PRECONDITION", `${binaryPath} --version failed: ${errorMessage(err)}`, { cause: err });
  }
  const match = /Ver\s+(\d+\.\d+\.\d+)/.exec(output);
  if (!match) throw new DrError("PRECONDITION", `cannot read the version from ${binaryPath} --version: ${output.trim()}`);
  // mysqld is often a link to mariadbd, so the name says nothing: the version text does.
  return { path: binaryPath, flavor: /mariadb/i.test(output) ? "mariadb" : "mysql", version: match[1] };
}

function parseVersion(version: string): number[] {
  return (/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? ["", "0", "0", "0"]).slice(1).map(Number);
}

function atLeast(v: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i];
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Data directory
// ---------------------------------------------------------------------------------------------

function isInitialized(dataDir: string): boolean {
  // Both flavours create the `mysql` system schema folder during init, and a failed init removes
  // the whole data dir (see initializeDataDir), so the folder's presence means init succeeded.
  return fs.existsSync(path.join(dataDir, "mysql"));
}

async function initializeDataDir(binary: ServerBinary, dir: string): Promise<void> {
  const dataDir = path.join(dir, FILES.data);
  const logFile = path.join(dir, FILES.initLog);
  const user = os.userInfo().username;
  const tmpDir = path.join(dir, FILES.tmp);
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  let command: string;
  let args: string[];
  if (binary.flavor === "mariadb") {
    const binDir = path.dirname(binary.path);
    const installDb =
      findExecutable("mariadb-install-db", [binDir, path.join(binDir, "..", "scripts")]) ??
      findExecutable("mysql_install_db", [binDir, path.join(binDir, "..", "scripts")]);
    if (installDb === undefined) {
      throw new DrError("PRECONDITION", "no mariadb-install-db found on PATH; install the mariadb-server package");
    }
    command = installDb;
    args = [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--user=${user}`,
      // root with an empty password over TCP (root@127.0.0.1 and root@::1 exist), not unix_socket.
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      // A private tmpdir: parallel inits sharing /tmp fail now and then on temporary table names.
      `--tmpdir=${tmpDir}`,
    ];
    // An unpacked tarball (BASE/bin/mariadbd) needs its basedir to find its own helper programs.
    const baseDir = path.dirname(binDir);
    if (!SYSTEM_BIN_DIRS.includes(binDir) && fs.existsSync(path.join(baseDir, "bin", "my_print_defaults"))) {
      args.push(`--basedir=${baseDir}`);
    }
  } else {
    // MySQL creates only root@localhost, which --skip-name-resolve never matches for TCP clients.
    const initSql = path.join(dir, FILES.initSql);
    fs.writeFileSync(
      initSql,
      [
        "SET SESSION sql_log_bin = 0;",
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
        "CREATE USER IF NOT EXISTS 'root'@'::1' IDENTIFIED BY '';",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'::1' WITH GRANT OPTION;",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    command = binary.path;
    args = [
      "--no-defaults",
      "--initialize-insecure",
      `--datadir=${dataDir}`,
      `--user=${user}`,
      `--tmpdir=${tmpDir}`,
      `--init-file=${initSql}`,
    ];
  }

  const code = await runToLog(command, args, logFile, INIT_TIMEOUT_MS);
  if (code !== 0 || !isInitialized(dataDir)) {
    // Only what this failed init created is removed, so the next start retries from scratch.
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new DrError(
      "PRECONDITION",
      `initializing the data directory ${dataDir} failed (exit ${code}); last lines of ${logFile}:\n${logTail(logFile)}`,
    );
  }
}

function runToLog(command: string, args: string[], logFile: string, timeoutMs: number): Promise<number | string> {
  const fd = fs.openSync(logFile, "a", 0o600);
  try {
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
    const child = spawn(command, args, { stdio: ["ignore", fd, fd], timeout: timeoutMs });
    return new Promise((resolve) => {
      child.on("error", (err) => resolve(errorMessage(err)));
      child.on("exit", (code, sig) => resolve(code ?? `signal ${sig}`));
    });
  } finally {
    fs.closeSync(fd);
  }
}

function logTail(file: string): string {
  try {
    const size = fs.statSync(file).size;
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const fd = fs.openSync(file, "r");
    try {
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf.toString("utf8").trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------------------------

async function launchServer(binary: ServerBinary, dir: string, port: number, tls: SandboxTls | undefined): Promise<number> {
  const logFile = path.join(dir, FILES.serverLog);
  const args = [
    "--no-defaults", // must come first: nothing from /etc/mysql may change the sandbox
    `--datadir=${path.join(dir, FILES.data)}`,
    `--port=${port}`,
    `--bind-address=${SANDBOX_HOST}`,
    `--socket=${socketPath(dir)}`,
    `--pid-file=${path.join(dir, FILES.pid)}`,
    `--tmpdir=${path.join(dir, FILES.tmp)}`,
    `--user=${os.userInfo().username}`,
    // The port is unique on this host, so it makes a unique server id among local sandboxes.
    ...replicationServerFlags(binary.flavor, binary.version, port, path.join(dir, FILES.binlogDir, FILES.binlogBase)),
    ...(tls ? [`--ssl-ca=${path.resolve(tls.ca)}`, `--ssl-cert=${path.resolve(tls.cert)}`, `--ssl-key=${path.resolve(tls.key)}`] : []),
  ];

  const fd = fs.openSync(logFile, "a", 0o600);
  let child;
  try {
    fs.writeSync(fd, `\n--- ${new Date().toISOString()} ${binary.path} ${args.join(" ")}\n`);
    child = spawn(binary.path, args, { detached: true, stdio: ["ignore", fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  let exited: string | undefined;
  child.on("error", (err) => (exited = errorMessage(err)));
  child.on("exit", (code, sig) => (exited = code !== null ? `exit code ${code}` : `signal ${sig}`));
  child.unref();

  try {
    await waitForServer(port, SERVER_START_TIMEOUT_MS, { password: sandboxRootPassword(dir), stillRunning: () => exited === undefined });
  } catch (err) {
    if (exited === undefined && child.pid !== undefined) {
      signal(child.pid, "SIGKILL");
      await waitForExit(child.pid, KILL_WAIT_MS);
    }
    const why = exited !== undefined ? `exited during startup (${exited})` : `did not accept connections within ${SERVER_START_TIMEOUT_MS / 1000} s`;
    throw new DrError("PRECONDITION", `the sandbox server on port ${port} ${why}; last lines of ${logFile}:\n${logTail(logFile)}`, {
      cause: err,
    });
  }
  if (child.pid === undefined) throw new DrError("INTERNAL", `${binary.path} started without a pid`);
  return child.pid;
}

async function queryVersion(port: number, password: string): Promise<string> {
  const conn = await mysql.createConnection({ host: SANDBOX_HOST, port, user: "root", password, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT VERSION() AS v /* mysql-dr sandbox */");
    return String(rows[0].v);
  } finally {
    await conn.end();
  }
}

/** The server's pid when its pid file names a live process that runs on this sandbox's datadir. */
export function runningPid(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(path.join(dir, FILES.pid), "utf8").trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A stale pid file may name a process that reused the pid; on Linux check it is our server.
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (!cmdline.includes(path.join(dir, FILES.data))) return undefined;
  } catch {
    // no /proc (macOS): trust the pid file
  }
  return pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive but someone else's.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A zombie (exited, not yet reaped by its parent) answers signal 0 but is gone.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/** Where free ports are looked for: below the kernel's ephemeral range, at most this far down. */
const PICKED_PORTS_FROM = 20_000;
const PICK_ATTEMPTS = 100;

/**
 * A port free on 127.0.0.1 right now, below the kernel's ephemeral range. Binding port 0 would
 * take one from that range, where any outgoing connection (a client, a test's next session) may
 * take it before the server binds it, or while a stopped sandbox waits to start on it again.
 */
export async function pickFreePort(): Promise<number> {
  const ephemeralFrom = ephemeralPortsFrom();
  if (ephemeralFrom - PICKED_PORTS_FROM >= 1_000) {
    for (let attempt = 0; attempt < PICK_ATTEMPTS; attempt++) {
      const port = crypto.randomInt(PICKED_PORTS_FROM, ephemeralFrom);
      if (await isPortFree(port)) return port;
    }
  }
  return kernelPickedPort();
}

/** The first port of the kernel's ephemeral range (Linux's default where it cannot be read). */
function ephemeralPortsFrom(): number {
  try {
    return Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

function kernelPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, SANDBOX_HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.on("error", () => resolve(false));
    server.listen(port, SANDBOX_HOST, () => server.close(() => resolve(true)));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
