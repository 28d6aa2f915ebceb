/**
 * The daemon process: owns the state directory (pid, address and token files, link definitions),
 * serves the control API and runs the links. One daemon per state directory.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import type * as http from "node:http";
import * as path from "node:path";
import pino from "pino";
import writeFileAtomic from "write-file-atomic";
import { DrError } from "../core/errors";
import { STATE_FILES, ensurePrivateDir } from "../core/state-dir";
import { createControlServer } from "./control-api";
import { LinkManager } from "./link-manager";
import { LinkStore } from "./link-store";
import { Metrics } from "./metrics";

export const DEFAULT_LISTEN = "127.0.0.1:7766";

export interface DaemonOptions {
  stateDir: string;
  listen: string;
}

export interface RunningDaemon {
  url: string;
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const { host, port } = parseListen(o.listen);
  ensurePrivateDir(o.stateDir);
  claimPidFile(o.stateDir);
  const logger = pino({ name: "mysql-dr", base: { pid: process.pid } });
  const token = loadOrCreateToken(o.stateDir);
  const links = new LinkManager(new LinkStore(o.stateDir), {
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
    daemonId: loadOrCreateDaemonId(o.stateDir),
    owner: `host ${os.hostname()}, pid ${process.pid}, state directory ${o.stateDir}`,
  });
  const server = createControlServer({
    token,
    links,
    metrics: new Metrics(() => links.snapshot()),
    info: () => ({ pid: process.pid, stateDir: o.stateDir, version: packageVersion() }),
  });
  await listen(server, host, port);
  const address = server.address() as { address: string; port: number };
  const url = `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
  writeFileAtomic.sync(path.join(o.stateDir, STATE_FILES.address), url + "\n", { mode: 0o600 });
  links.restore();
  logger.info({ url, stateDir: o.stateDir }, "daemon listening");

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      server.close();
      server.closeAllConnections();
      await links.shutdown();
      for (const f of [STATE_FILES.pid, STATE_FILES.address]) fs.rmSync(path.join(o.stateDir, f), { force: true });
      logger.info("daemon stopped");
    })());
  return { url, stop };
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new DrError("BAD_INPUT", `--listen ${JSON.stringify(listen)} is malformed; write host:port, for example 127.0.0.1:7766.`);
  return { host: m[1] ?? m[2], port };
}

/** Refuses to start while another live daemon owns this state directory. */
function claimPidFile(stateDir: string): void {
  const file = path.join(stateDir, STATE_FILES.pid);
  const existing = Number(fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : NaN);
  if (Number.isInteger(existing) && existing !== process.pid && isDaemonAlive(existing)) {
    throw new DrError("CONFLICT", `A daemon is already running for state directory ${stateDir} (pid ${existing}); stop it first or pass another --state-dir.`);
  }
  writeFileAtomic.sync(file, `${process.pid}\n`, { mode: 0o600 });
}

function isDaemonAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A stale pid file can name a recycled pid: only a mysql-dr daemon counts.
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("daemon");
  } catch {
    return true;
  }
}

function loadOrCreateToken(stateDir: string): string {
  const file = path.join(stateDir, STATE_FILES.token);
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const token = crypto.randomBytes(32).toString("base64url");
  writeFileAtomic.sync(file, token + "\n", { mode: 0o600 });
  return token;
}

function loadOrCreateDaemonId(stateDir: string): string {
  const file = path.join(stateDir, STATE_FILES.daemonId);
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const id = crypto.randomBytes(6).toString("hex");
  writeFileAtomic.sync(file, id + "\n", { mode: 0o600 });
  return id;
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new DrError("CONFLICT", `Address ${host}:${port} is in use; pass another --listen.`) : err),
    );
    server.listen(port, host, () => resolve());
  });
}

function packageVersion(): string {
  return (require("../../../../package.json") as { version: string }).version;
}
