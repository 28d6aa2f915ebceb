/**
 * The daemon process: owns the state directory (pid, address and token files, link definitions),
 * serves the control API (HTTPS when given a certificate) and runs the links. One daemon per state
 * directory.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import pino from "pino";
import writeFileAtomic from "write-file-atomic";
import { DrError } from "../core/errors";
import { STATE_FILES, ensurePrivateDir } from "../core/state-dir";
import { createControlHandler } from "./control-api";
import { LinkManager } from "./link-manager";
import { LinkStore } from "./link-store";
import { Metrics } from "./metrics";

export { DEFAULT_LISTEN } from "./defaults";

export interface DaemonOptions {
  stateDir: string;
  listen: string;
  /** PEM certificate (chain) and key files: with both, the control API is served over HTTPS. */
  tlsCert?: string;
  tlsKey?: string;
  /** Serve plain HTTP on a non-loopback address: the token and link URLs then cross the network in clear. */
  insecureHttp?: boolean;
}

export interface RunningDaemon {
  url: string;
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const { host, port } = parseListen(o.listen);
  const credentials = loadTlsCredentials(o);
  if (!credentials && !o.insecureHttp && !isLoopback(host)) {
    throw new DrError("BAD_INPUT", `Listening on ${host} would expose the control API's token and link passwords in clear; pass --tls-cert FILE and --tls-key FILE (or --insecure-http to accept that).`);
  }
  ensurePrivateDir(o.stateDir);
  claimPidFile(o.stateDir);
  const logger = pino({ name: "mysql-dr", base: { pid: process.pid } });
  const token = loadOrCreateToken(o.stateDir);
  const links = new LinkManager(new LinkStore(o.stateDir), {
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
    daemonId: loadOrCreateDaemonId(o.stateDir),
    owner: `host ${os.hostname()}, pid ${process.pid}, state directory ${o.stateDir}`,
  });
  const handler = createControlHandler({
    token,
    links,
    metrics: new Metrics(() => links.snapshot()),
    info: () => ({ pid: process.pid, stateDir: o.stateDir, version: packageVersion() }),
    onInternalError: (err) => logger.error({ err }, "control API request failed"),
  });
  const server = credentials ? https.createServer(credentials, handler) : http.createServer(handler);
  await listen(server, host, port);
  const url = localUrl(credentials ? "https" : "http", host, (server.address() as net.AddressInfo).port);
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

/** Both PEM files read and checked to form a key pair, or undefined for plain HTTP. */
function loadTlsCredentials(o: DaemonOptions): { cert: Buffer; key: Buffer } | undefined {
  if (o.tlsCert === undefined && o.tlsKey === undefined) return undefined;
  if (o.tlsCert === undefined || o.tlsKey === undefined) {
    throw new DrError("BAD_INPUT", `--tls-cert and --tls-key go together; pass both (${o.tlsCert === undefined ? "--tls-cert" : "--tls-key"} is missing).`);
  }
  const read = (file: string, option: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new DrError("BAD_INPUT", `Cannot read ${option} ${file} (${(err as NodeJS.ErrnoException).code}); pass a readable PEM file.`);
    }
  };
  const credentials = { cert: read(o.tlsCert, "--tls-cert"), key: read(o.tlsKey, "--tls-key") };
  try {
    tls.createSecureContext(credentials);
  } catch (err) {
    throw new DrError("BAD_INPUT", `--tls-cert ${o.tlsCert} and --tls-key ${o.tlsKey} are not a PEM certificate and its private key (${(err as Error).message}); pass a matching pair.`);
  }
  return credentials;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const family = net.isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The URL clients on this machine use (written to the address file): the host as given, since a
 * certificate names it, and loopback for a wildcard address.
 */
function localUrl(scheme: "http" | "https", host: string, port: number): string {
  const local = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `${scheme}://${local.includes(":") ? `[${local}]` : local}:${port}`;
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

function listen(server: net.Server, host: string, port: number): Promise<void> {
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
