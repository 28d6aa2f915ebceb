/**
 * The one place tests get MySQL/MariaDB servers from. Backends: "sandbox" (two local servers from
 * the mariadbd/mysqld on PATH) and container images through testcontainers when a container engine
 * is reachable. Each test file loops over the backends with `describeEachBackend`, and the run
 * prints once which backends it used and which it skipped, and why.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { StartedTestContainer } from "testcontainers";
import { errorMessage } from "../../src/core/errors";
import {
  findServerBinary,
  replicationServerFlags,
  runningPid,
  startSandbox,
  stopSandbox,
  type SandboxTls,
  waitForServer,
  type Flavor,
} from "../../src/sandbox/sandbox";

export interface TestServer {
  backend: string;
  /** e.g. "sandbox mariadb 10.11.19" or "mysql:8.0 container". */
  label: string;
  flavor: Flavor;
  /** mysql://root@127.0.0.1:port, or with the password. */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
  /**
   * Takes the server down (SIGTERM, data kept) and brings it back on the same address after
   * `downMs`. Undefined where the backend cannot keep the address (containers' mapped ports).
   */
  restart?(downMs: number): Promise<void>;
  /**
   * Sends the server process a signal (SIGSTOP hangs it with its sockets open, SIGCONT wakes it).
   * Undefined where the process is not on this machine (containers).
   */
  signal?(sig: NodeJS.Signals): void;
}

export interface ServerPair {
  master: TestServer;
  replica: TestServer;
}

export interface ServerPairFactory {
  backend: string;
  label: string;
  createPair(tag: string): Promise<ServerPair>;
}

export interface SkippedBackend {
  backend: string;
  reason: string;
}

export const CONTAINER_BACKENDS = ["mysql:5.7", "mysql:8.0", "mysql:8.4", "mariadb:11"] as const;
export type ContainerBackend = (typeof CONTAINER_BACKENDS)[number];
export const ALL_BACKENDS = ["sandbox", ...CONTAINER_BACKENDS] as const;

/** Comma list restricting the backends, e.g. "sandbox" or "sandbox,mysql:8.0". */
export const BACKENDS_ENV = "MYSQL_DR_TEST_BACKENDS";

/** Flags are chosen before the container runs, so each image's version is known in advance. */
const CONTAINER_IMAGES: Record<ContainerBackend, { flavor: Flavor; assumedVersion: string }> = {
  "mysql:5.7": { flavor: "mysql", assumedVersion: "5.7.44" },
  "mysql:8.0": { flavor: "mysql", assumedVersion: "8.0.40" },
  "mysql:8.4": { flavor: "mysql", assumedVersion: "8.4.0" },
  "mariadb:11": { flavor: "mariadb", assumedVersion: "11.4.0" },
};

const CONTAINER_ROOT_PASSWORD = "mysql-dr-test";
const CONTAINER_MYSQL_PORT = 3306;
const ENGINE_PROBE_TIMEOUT_MS = 10_000;
const CONTAINER_START_TIMEOUT_MS = 300_000;
const CONTAINER_READY_TIMEOUT_MS = 120_000;
/** A before() hook may pull images; mocha's default timeout is far too short for that. */
const PAIR_START_HOOK_TIMEOUT_MS = 600_000;
const PAIR_STOP_HOOK_TIMEOUT_MS = 120_000;
/** Container server ids start here; sandbox ids are their ports, so the ranges never meet. */
const FIRST_CONTAINER_SERVER_ID = 100;
const MAX_SANDBOX_NAME_CHARS = 40;

const started = new Set<TestServer>();
const pairCache = new Map<string, Promise<ServerPair>>();
let nextContainerServerId = FIRST_CONTAINER_SERVER_ID;
let tagCounter = 0;

// ---------------------------------------------------------------------------------------------
// Which backends
// ---------------------------------------------------------------------------------------------

interface Plan {
  factories: ServerPairFactory[];
  skipped: SkippedBackend[];
}

let planMemo: Plan | undefined;
let availableMemo: Promise<Plan> | undefined;
let engineProbe: Promise<string | undefined> | undefined;
let summaryPrinted = false;

/**
 * The backends decided synchronously (mocha's describe() cannot wait): sandbox when a server
 * binary exists, containers when an engine looks present. The engine is confirmed asynchronously.
 */
function planBackends(): Plan {
  if (planMemo) return planMemo;
  const selected = selectedBackends();
  const factories: ServerPairFactory[] = [];
  const skipped: SkippedBackend[] = [];

  if (!selected.has("sandbox")) {
    skipped.push({ backend: "sandbox", reason: `not selected by ${BACKENDS_ENV}` });
  } else {
    try {
      const binary = findServerBinary();
      factories.push(sandboxFactory(`sandbox ${binary.flavor} ${binary.version}`));
    } catch (err) {
      skipped.push({ backend: "sandbox", reason: errorMessage(err) });
    }
  }

  const engineHint = containerEngineHint();
  for (const backend of CONTAINER_BACKENDS) {
    if (!selected.has(backend)) skipped.push({ backend, reason: `not selected by ${BACKENDS_ENV}` });
    else if (engineHint !== undefined) skipped.push({ backend, reason: `no container engine reachable: ${engineHint}` });
    else factories.push(containerFactory(backend));
  }
  planMemo = { factories, skipped };
  return planMemo;
}

/** The backends that can run here: the synchronous plan with the container engine confirmed. */
export async function availableBackends(): Promise<{ factories: ServerPairFactory[]; skipped: SkippedBackend[] }> {
  availableMemo ??= (async () => {
    const plan = planBackends();
    const factories: ServerPairFactory[] = [];
    const skipped = [...plan.skipped];
    for (const factory of plan.factories) {
      const reason = await unavailableReason(factory);
      if (reason === undefined) factories.push(factory);
      else skipped.push({ backend: factory.backend, reason });
    }
    return { factories, skipped };
  })();
  const result = await availableMemo;
  return { factories: [...result.factories], skipped: [...result.skipped] };
}

function selectedBackends(): Set<string> {
  const raw = process.env[BACKENDS_ENV];
  if (raw === undefined || raw.trim() === "") return new Set(ALL_BACKENDS);
  const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(ALL_BACKENDS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new Error(`${BACKENDS_ENV} names unknown backends ${unknown.join(", ")}; known: ${ALL_BACKENDS.join(", ")}`);
  }
  return new Set(names);
}

/** undefined when an engine may be there; otherwise why there is none (cheap, synchronous). */
function containerEngineHint(): string | undefined {
  if (process.env.DOCKER_HOST) return undefined;
  const sockets = ["/var/run/docker.sock", path.join(os.homedir(), ".docker", "run", "docker.sock")];
  if (process.env.XDG_RUNTIME_DIR) sockets.push(path.join(process.env.XDG_RUNTIME_DIR, "docker.sock"));
  if (sockets.some((s) => fs.existsSync(s))) return undefined;
  return "DOCKER_HOST is unset and /var/run/docker.sock does not exist";
}

function unavailableReason(factory: ServerPairFactory): Promise<string | undefined> {
  if (factory.backend === "sandbox") return Promise.resolve(undefined);
  engineProbe ??= probeContainerEngine();
  return engineProbe;
}

async function probeContainerEngine(): Promise<string | undefined> {
  let getContainerRuntimeClient: typeof import("testcontainers").getContainerRuntimeClient;
  try {
    ({ getContainerRuntimeClient } = await import("testcontainers"));
  } catch (err) {
    // testcontainers 12 (through undici 8) needs a newer Node than some test machines have.
    return `testcontainers cannot load on Node ${process.version} (it declares node ${testcontainersEngines()}): ${errorMessage(err)}`;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ENGINE_PROBE_TIMEOUT_MS / 1000} s`)), ENGINE_PROBE_TIMEOUT_MS);
    });
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return undefined;
  } catch (err) {
    return `no container engine reachable: ${errorMessage(err)}`;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function testcontainersEngines(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(require.resolve("testcontainers/package.json"), "utf8")) as { engines?: { node?: string } };
    return pkg.engines?.node ?? "any";
  } catch {
    return "unknown";
  }
}

/** Prints `test backends: ...; skipped: ...` once per process. */
export async function printBackendSummaryOnce(): Promise<void> {
  if (summaryPrinted) return;
  summaryPrinted = true;
  const { factories, skipped } = await availableBackends();
  const used = factories.map((f) => f.label).join(", ") || "none";
  const byReason = new Map<string, string[]>();
  for (const s of skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s.backend]);
  const skippedText = [...byReason].map(([reason, names]) => `${names.join(", ")} (${reason})`).join("; ");
  console.log(`test backends: ${used}${skippedText ? `; skipped: ${skippedText}` : ""}`);
}

// ---------------------------------------------------------------------------------------------
// Mocha helper
// ---------------------------------------------------------------------------------------------

/**
 * Registers `describe("<backend>: <title>")` per backend. A fresh master/replica pair is started
 * in its before() hook and stopped in its after() hook; `getPair()` returns it inside tests and
 * hooks. A backend that turns out unreachable skips the block and says why.
 */
export function describeEachBackend(
  title: string,
  body: (getPair: () => ServerPair, factory: ServerPairFactory) => void,
): void {
  const { factories, skipped } = planBackends();
  for (const factory of factories) {
    describe(`${factory.backend}: ${title}`, function () {
      const tag = `${title}#${++tagCounter}`;
      let pair: ServerPair | undefined;

      before(async function () {
        this.timeout(PAIR_START_HOOK_TIMEOUT_MS);
        await printBackendSummaryOnce();
        const reason = await unavailableReason(factory);
        if (reason !== undefined) {
          console.log(`    skipped ${factory.backend}: ${reason}`);
          this.skip();
        }
        pair = await factory.createPair(tag);
      });

      after(async function () {
        this.timeout(PAIR_STOP_HOOK_TIMEOUT_MS);
        pairCache.delete(cacheKey(factory.backend, tag));
        if (pair) await stopPair(pair);
        pair = undefined;
      });

      body(() => {
        if (!pair) throw new Error(`the ${factory.backend} server pair is not started: call getPair() inside it() or a hook`);
        return pair;
      }, factory);
    });
  }
  if (factories.length === 0) {
    describe(title, function () {
      it.skip(`no test backend available: ${skipped.map((s) => `${s.backend} (${s.reason})`).join(", ")}`);
    });
  }
}

/** Stops every server this process started (the root after-hook calls it). */
export async function stopAllTestServers(): Promise<void> {
  pairCache.clear();
  const all = [...started];
  const results = await Promise.allSettled(all.map((s) => s.stop()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0) throw new Error(`stopping test servers failed: ${failed.map((f) => errorMessage(f.reason)).join("; ")}`);
}

async function stopPair(pair: ServerPair): Promise<void> {
  const results = await Promise.allSettled([pair.master.stop(), pair.replica.stop()]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

function cacheKey(backend: string, tag: string): string {
  return `${backend}\u0000${tag}`;
}

/** One started pair per (backend, tag) in this process; a failed start is not cached. */
function cachedPair(backend: string, tag: string, start: () => Promise<ServerPair>): Promise<ServerPair> {
  const key = cacheKey(backend, tag);
  let entry = pairCache.get(key);
  if (!entry) {
    entry = start();
    pairCache.set(key, entry);
    entry.catch(() => pairCache.delete(key));
  }
  return entry;
}

/** Starts both; when one fails, stops the other so nothing is left running. */
async function startBoth(start: (role: "master" | "replica") => Promise<TestServer>): Promise<ServerPair> {
  const [m, r] = await Promise.allSettled([start("master"), start("replica")]);
  if (m.status === "fulfilled" && r.status === "fulfilled") return { master: m.value, replica: r.value };
  await Promise.allSettled([m, r].filter((x) => x.status === "fulfilled").map((x) => (x as PromiseFulfilledResult<TestServer>).value.stop()));
  throw (m.status === "rejected" ? m.reason : (r as PromiseRejectedResult).reason) as Error;
}

function track(server: Omit<TestServer, "stop">, stopImpl: () => Promise<void>): TestServer {
  // restart is part of `server` where the backend supports it.
  let stopping: Promise<void> | undefined;
  const s: TestServer = {
    ...server,
    stop: () => {
      // Idempotent: after() and the root hook may both stop the same server.
      stopping ??= stopImpl().finally(() => started.delete(s));
      return stopping;
    },
  };
  started.add(s);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Sandbox backend
// ---------------------------------------------------------------------------------------------

function sandboxFactory(label: string): ServerPairFactory {
  return {
    backend: "sandbox",
    label,
    createPair: (tag) =>
      cachedPair("sandbox", tag, async () => {
        // Two free ports held open together, so the parallel starts cannot pick the same one.
        const [masterPort, replicaPort] = await distinctFreePorts(2);
        return startBoth((role) => startTestSandbox(tag, role, role === "master" ? masterPort : replicaPort, label));
      }),
  };
}

/**
 * One more sandbox server, for a test that needs a third one beside its pair (a native replica as
 * the reference). Stopped by the root hook with the others, or by its own stop().
 */
export async function startExtraSandbox(tag: string, role: string, options: { tls?: SandboxTls } = {}): Promise<TestServer> {
  const [port] = await distinctFreePorts(1);
  const binary = findServerBinary();
  return startTestSandbox(`${tag}#${++tagCounter}`, role, port, `sandbox ${binary.flavor} ${binary.version}`, options.tls);
}

async function startTestSandbox(tag: string, role: string, port: number, label: string, tls?: SandboxTls): Promise<TestServer> {
  const name = `${tag.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, MAX_SANDBOX_NAME_CHARS)}-${role}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-test-"));
  try {
    const info = await startSandbox({ name, port, dir, tls });
    return track(
      {
        backend: "sandbox",
        label,
        flavor: info.flavor,
        url: info.url,
        host: "127.0.0.1",
        port: info.port,
        user: "root",
        password: "",
        restart: async (downMs: number) => {
          await stopSandbox({ name, dir });
          await new Promise((resolve) => setTimeout(resolve, downMs));
          await startSandbox({ name, port: info.port, dir, tls });
        },
        signal: (sig: NodeJS.Signals) => {
          const pid = runningPid(dir);
          if (pid === undefined) throw new Error(`sandbox ${name} is not running`);
          process.kill(pid, sig);
        },
      },
      async () => {
        await stopSandbox({ name, dir });
        fs.rmSync(dir, { recursive: true, force: true });
      },
    );
  } catch (err) {
    await stopSandbox({ name, dir }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function distinctFreePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.on("error", reject);
          server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---------------------------------------------------------------------------------------------
// Container backends
// ---------------------------------------------------------------------------------------------

function containerFactory(backend: ContainerBackend): ServerPairFactory {
  const label = `${backend} container`;
  return {
    backend,
    label,
    createPair: (tag) => cachedPair(backend, tag, () => startBoth(() => startTestContainer(backend, label))),
  };
}

async function startTestContainer(backend: ContainerBackend, label: string): Promise<TestServer> {
  const { flavor, assumedVersion } = CONTAINER_IMAGES[backend];
  const serverId = nextContainerServerId++;
  // The images' entrypoints pass arguments starting with "-" on to the server.
  const flags = replicationServerFlags(flavor, assumedVersion, serverId, "mysql-bin");
  let container: StartedTestContainer;
  if (flavor === "mysql") {
    const { MySqlContainer } = await import("@testcontainers/mysql");
    container = await new MySqlContainer(backend)
      .withRootPassword(CONTAINER_ROOT_PASSWORD)
      .withCommand(flags)
      .withStartupTimeout(CONTAINER_START_TIMEOUT_MS)
      .start();
  } else {
    const { MariaDbContainer } = await import("@testcontainers/mariadb");
    container = await new MariaDbContainer(backend)
      .withRootPassword(CONTAINER_ROOT_PASSWORD)
      .withCommand(flags)
      .withStartupTimeout(CONTAINER_START_TIMEOUT_MS)
      .start();
  }
  const host = container.getHost();
  const port = container.getMappedPort(CONTAINER_MYSQL_PORT);
  try {
    // The images run a temporary server during first-time setup; wait for the real one.
    await waitForServer(port, CONTAINER_READY_TIMEOUT_MS, { host, user: "root", password: CONTAINER_ROOT_PASSWORD });
  } catch (err) {
    await container.stop().catch(() => undefined);
    throw err;
  }
  return track(
    {
      backend,
      label,
      flavor,
      url: `mysql://root:${encodeURIComponent(CONTAINER_ROOT_PASSWORD)}@${host}:${port}`,
      host,
      port,
      user: "root",
      password: CONTAINER_ROOT_PASSWORD,
    },
    async () => {
      await container.stop();
    },
  );
}
