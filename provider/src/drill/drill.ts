/**
 * `mysql-dr drill`: rehearses a failover without touching production. The DR copy is read in one
 * consistent snapshot at the GTID its link's checkpoint names, copied into a throwaway local
 * sandbox server made read-only like a DR copy, and that sandbox is promoted by promote(), the
 * code a real forced promotion runs (fence the link's checkpoint row, take its lock, open the
 * server). Then: does it take an application's writes, does it hold exactly the snapshot's data,
 * how long did the promotion take (RTO) and how far behind the master was the copy (RPO). The
 * sandbox is removed whatever happens.
 *
 * Only reads reach production: the DR server in a read-only transaction, the master for its
 * position. The link keeps running. The copy goes through SQL (the project's own copy code),
 * not the server's native backup (mariabackup, CLONE): those need the DR host's files or rights
 * a DR user does not have, and the copy must be exact at the checkpoint's GTID, which one
 * snapshot gives for free.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import type { SourceTable } from "../catalog/selected-tables";
import type { ServerAddress } from "../core/connection-url";
import { openConnection } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidMissingCount } from "../core/gtid";
import type { ObjectSelection } from "../core/object-filter";
import { currentGtidPosition } from "../core/server-inspector";
import { type PromotionResult, promote, setReadOnly } from "../promote/promoter";
import { type SandboxInfo, runningPid, sandboxRootPassword, startSandbox, stopSandbox } from "../sandbox/sandbox";
import { DrSnapshot, type TableChecksum, tableChecksums } from "./dr-snapshot";
import { WriteProbe } from "./write-probe";

const SANDBOX_NAME = "drill";
const SANDBOX_DIR_PREFIX = "mysql-dr-drill-";

export interface DrillOptions {
  link: string;
  /** The link's master: only its GTID position is read, for the RPO. */
  source: ServerAddress;
  /** The link's DR server: only read, in one snapshot. */
  target: ServerAddress;
  objects: ObjectSelection;
  /** Where the sandbox's temporary directory goes (default: the system's temporary directory). */
  workDir?: string;
  /** Stops the drill at once (the daemon shutting down); the sandbox is still removed. */
  signal?: AbortSignal;
}

export interface DrillTable {
  table: string;
  rows: number;
  identical: boolean;
}

export interface DrillReport {
  link: string;
  /** Master GTIDs the DR copy had applied at the snapshot: the sandbox held exactly this. */
  gtid: string;
  /** The master's position read right after the snapshot opened; null when the master did not answer. */
  masterGtid: string | null;
  /** Master transactions not in the copy at that moment (GTID distance); null when the master did not answer. */
  rpoTransactions: number | null;
  /** Why the RPO is unknown (the master's connection error), else null. */
  masterError: string | null;
  /** How long promote() took on the sandbox, in ms. */
  rtoMs: number;
  /** Every selected table of the promoted sandbox has the snapshot's checksum. */
  identical: boolean;
  /** An application-like user's write committed after the promotion. */
  writable: boolean;
  /** The same write was refused before it: the sandbox stood read-only, as a DR copy does. */
  readOnlyBeforePromotion: boolean;
  tables: DrillTable[];
  rowsCopied: number;
  promotion: PromotionResult;
  sandbox: { flavor: Flavor; version: string; dir: string; pid: number; removed: true };
  startedAt: string;
  durationMs: number;
}

export async function drill(o: DrillOptions): Promise<DrillReport> {
  const startedAt = new Date();
  const dir = fs.mkdtempSync(path.join(o.workDir ?? os.tmpdir(), SANDBOX_DIR_PREFIX));
  let report: Omit<DrillReport, "sandbox" | "durationMs"> & { sandbox: SandboxInfo };
  try {
    report = await drillIn(dir, o, startedAt);
  } catch (caught) {
    // An abort surfaces as whatever the closed session threw; the abort's own sentence says why.
    const err: unknown = o.signal?.aborted ? o.signal.reason : caught;
    const leftover = await removeSandbox(dir);
    if (leftover) throw new DrError(err instanceof DrError ? err.code : "INTERNAL", `${errorMessage(err).replace(/\.$/, "")}; and ${leftover}`, { cause: err });
    throw err;
  }
  const leftover = await removeSandbox(dir);
  if (leftover) throw new DrError("INTERNAL", `The drill ran, but ${leftover}`);
  const { sandbox, ...figures } = report;
  return {
    ...figures,
    sandbox: { flavor: sandbox.flavor, version: sandbox.version, dir: sandbox.dir, pid: sandbox.pid, removed: true },
    durationMs: Date.now() - startedAt.getTime(),
  };
}

async function drillIn(dir: string, o: DrillOptions, startedAt: Date) {
  // Started first: its initialization takes seconds the DR snapshot need not be held open for.
  const sandbox = await startSandbox({ name: SANDBOX_NAME, dir, secureRoot: true });
  o.signal?.throwIfAborted();
  const address: ServerAddress = { host: "127.0.0.1", port: sandbox.port, user: "root", password: sandboxRootPassword(dir) };

  const copy = await copyAtSnapshot(o, sandbox, address);
  o.signal?.throwIfAborted();

  const admin = await openConnection(address, "sandbox");
  let probe: WriteProbe;
  try {
    probe = await WriteProbe.create(admin, address);
    // A DR copy stands read-only; promote() is what must open it.
    await setReadOnly(admin, sandbox.flavor, true);
  } finally {
    admin.destroy();
  }
  const readOnlyBeforePromotion = !(await probe.tryWrite());

  // No master is given, so promote() runs its forced path: a planned one would make the real master read-only.
  const promoting = performance.now();
  const promotion = await promote({ target: address, allowDataLoss: true });
  const rtoMs = Math.round((performance.now() - promoting) * 10) / 10;

  const writable = await probe.tryWrite();
  const tables = await compareWithSnapshot(address, copy.tables, copy.expected);
  return {
    link: o.link,
    gtid: copy.gtid,
    masterGtid: copy.masterGtid,
    rpoTransactions: copy.masterGtid === null ? null : gtidMissingCount(sandbox.flavor, copy.gtid, copy.masterGtid),
    masterError: copy.masterError,
    rtoMs,
    identical: tables.every((t) => t.identical),
    writable,
    readOnlyBeforePromotion,
    tables,
    rowsCopied: copy.rowsCopied,
    promotion,
    sandbox,
    startedAt: startedAt.toISOString(),
  };
}

interface SnapshotCopy {
  gtid: string;
  masterGtid: string | null;
  masterError: string | null;
  tables: SourceTable[];
  expected: TableChecksum[];
  rowsCopied: number;
}

/** Copies the DR copy into the sandbox within one snapshot, and the master's position at that moment. */
async function copyAtSnapshot(o: DrillOptions, sandbox: SandboxInfo, address: ServerAddress): Promise<SnapshotCopy> {
  // Connected beforehand, so the position is read as close to the snapshot as one round trip.
  const master = await openConnection(o.source, "source").catch((err: unknown) => err as Error);
  const snapshot = await DrSnapshot.open(o.target, o.link).catch((err: unknown) => {
    if (!(master instanceof Error)) master.destroy();
    throw err;
  });
  // The copy may take long: an abort ends it by closing the snapshot's session under it.
  const abort = () => snapshot.close();
  o.signal?.addEventListener("abort", abort, { once: true });
  try {
    o.signal?.throwIfAborted();
    if (snapshot.flavor !== sandbox.flavor) {
      throw new DrError("PRECONDITION", `The DR server runs ${snapshot.flavor} and the local server binary is ${sandbox.flavor} ${sandbox.version}; install the DR server's flavour (mariadbd or mysqld on PATH) where the daemon runs.`);
    }
    // Read after the snapshot opened, so the figure is an upper bound: the copy is never fresher than it says.
    const position = master instanceof Error ? master : await currentGtidPosition(master, snapshot.flavor).catch((err: unknown) => err as Error);
    const tables = await snapshot.selectedTables(o.objects);
    const rowsCopied = await snapshot.copyInto(address, o.link, tables);
    const expected = await snapshot.checksums(tables);
    return {
      gtid: snapshot.gtid,
      masterGtid: position instanceof Error ? null : position,
      masterError: position instanceof Error ? errorMessage(position) : null,
      tables,
      expected,
      rowsCopied,
    };
  } finally {
    o.signal?.removeEventListener("abort", abort);
    snapshot.close();
    if (!(master instanceof Error)) master.destroy();
  }
}

/** The promoted sandbox's tables against the snapshot's checksums. */
async function compareWithSnapshot(address: ServerAddress, tables: SourceTable[], expected: TableChecksum[]): Promise<DrillTable[]> {
  const conn = await openConnection(address, "sandbox");
  try {
    const actual = await tableChecksums(conn, tables);
    return expected.map((e, i) => ({
      table: e.table,
      rows: e.rows,
      identical: actual[i].rows === e.rows && actual[i].sum === e.sum && actual[i].xor === e.xor,
    }));
  } finally {
    conn.destroy();
  }
}

/** Stops the sandbox and deletes its directory; returns what was left behind, as a clause, or undefined. */
async function removeSandbox(dir: string): Promise<string | undefined> {
  try {
    await stopSandbox({ name: SANDBOX_NAME, dir });
  } catch (err) {
    return `the drill's sandbox server (pid ${runningPid(dir) ?? "unknown"}) could not be stopped (${errorMessage(err)}); stop it and delete ${dir}`;
  }
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    return `the drill's sandbox directory could not be deleted (${errorMessage(err)}); delete ${dir}`;
  }
  return undefined;
}
