/**
 * The daemon's links: creates them after the prechecks, keeps their definitions on disk and a
 * runner for each in memory. The control API calls only this.
 */
import { listSelectedTables, refuseUnsafeTables } from "../catalog/selected-tables";
import { checkTargetTables, planCopyUnits, prepareTargetTables } from "../copy/copy-planner";
import { copySchemaObjects } from "../copy/schema-objects";
import { checkCanReplayAccounts, copyAccounts } from "../copy/accounts";
import { accountPolicy } from "../catalog/accounts";
import { dropTriggers, keptTriggers } from "../dr-state/trigger-store";
import { rewaitReplicaEvents } from "../promote/replica-events";
import { deleteCopyUnits, ensureCopyStateTable, insertCopyUnits } from "../dr-state/copy-state";
import { type ServerAddress, formatHostPort } from "../core/connection-url";
import { ObjectFilter } from "../core/object-filter";
import { type VerifyReport, verificationResult, verify } from "../verify/verifier";
import { type BarrierReport, verifyAtBarrier } from "../verify/barrier-verifier";
import { differenceCount } from "../verify/differences";
import { type DrillReport, drill } from "../drill/drill";
import { type Connection, openConnection } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import { type ServerFacts, checkSource, checkTarget, currentGtidPosition, inspectServer } from "../core/server-inspector";
import { deleteCheckpoint, fencedLinks, initCheckpoint, lockName, readCheckpoint } from "../dr-state/checkpoint-store";
import { writeAsLink } from "../dr-state/link-writer";
import { type LastDrill, type LastVerification, type LinkRecordKind, type LinkRecords, saveLinkRecord } from "../dr-state/link-records";
import { QueueBudget } from "../stream/bounded-queue";
import { HEARTBEAT_TABLE, HeartbeatWriters, linkHeartbeatKey } from "../stream/heartbeat";
import { type LinkDefinition, RECORD_FIELDS, parseFailback, parseLinkRequest, parseOnMissingRow, parseSelection, parseServers, validateLinkName } from "./link-definition";
import { type LinkRunnerHooks, type LinkStatus, LinkRunner, QUEUE_BUDGET_ROWS, QUEUE_MAX_SHARE_ROWS, QUEUE_MIN_SHARE_ROWS } from "./link-runner";
import type { LinkStore } from "./link-store";
import { directed } from "./link-cycle";
import type { DrillRequest, LinkRequest, LinkUpdate, VerifyRequest } from "./request-schemas";

export class LinkManager {
  private readonly runners = new Map<string, LinkRunner>();
  /** Drills under way: a shutdown aborts them and waits for their sandboxes to be removed. */
  private readonly drills = new Set<{ abort: AbortController; done: Promise<unknown> }>();
  /** Names whose creation is under way: a second create of one name is refused at once, never run beside it. */
  private readonly creating = new Set<string>();

  private readonly hooks: LinkRunnerHooks;

  /** `owner`: which process runs the links (host, pid, state directory), written beside the heartbeat for conflict messages. */
  constructor(private readonly store: LinkStore, { owner, ...hooks }: Omit<LinkRunnerHooks, "persist" | "resynced" | "heartbeats" | "queues"> & { owner: string }) {
    this.hooks = { ...hooks, heartbeats: new HeartbeatWriters(hooks.daemonId, owner), queues: new QueueBudget(QUEUE_BUDGET_ROWS, QUEUE_MAX_SHARE_ROWS, QUEUE_MIN_SHARE_ROWS), persist: () => this.persist(), resynced: (link) => this.verifyResync(link) };
  }

  /**
   * After tables were re-copied over a divergence, a verification at a barrier checks them (and
   * the rest of the selection); its result is the link's lastVerification, which failbackReady reads.
   */
  private verifyResync(link: string): void {
    this.verify(link, { atBarrier: true }).then(
      (report) => this.hooks.log(report.identical ? "info" : "warn", "resync verified", { link, identical: report.identical }),
      (err: Error) => this.hooks.log("warn", "resync not verified", { link, error: errorMessage(err) }),
    );
  }

  /** Starts every persisted link that is not paused. */
  restore(): void {
    for (const def of this.store.load()) {
      const runner = new LinkRunner(def, this.hooks);
      this.runners.set(def.name, runner);
      if (def.paused) void runner.stop("paused");
      else runner.start();
    }
  }

  /** Snapshots without I/O, for metrics. */
  snapshot(): LinkStatus[] {
    return [...this.runners.values()].map((r) => r.status());
  }

  list(): Promise<LinkStatus[]> {
    return Promise.all([...this.runners.values()].map((r) => r.freshStatus()));
  }

  get(name: string): Promise<LinkStatus> {
    return this.runner(name).freshStatus();
  }

  /** Validates, checks both servers, records the starting position on the DR server, then starts. */
  async create(req: LinkRequest): Promise<LinkStatus> {
    const def = parseLinkRequest(req);
    if (this.runners.has(def.name) || this.creating.has(def.name)) {
      throw new DrError("CONFLICT", `Link ${def.name} exists already${this.creating.has(def.name) ? " (it is being created)" : ""}; delete it first or choose another name.`);
    }
    this.creating.add(def.name);
    try {
      const copyPlanned = await prepareLink(def, req.reusePromoted === true);
      const runner = new LinkRunner(def, this.hooks);
      if (copyPlanned) runner.planCopy();
      this.runners.set(def.name, runner);
      this.persist();
      runner.start();
      return runner.status();
    } finally {
      this.creating.delete(def.name);
    }
  }

  /**
   * Changes a running link: its selection, or its servers' URLs. Tables that become selected are
   * created on the DR server and copied, then join the stream, with the views, routines, events and
   * triggers the new selection brings (as at link creation); the other tables are not disturbed.
   * What leaves the selection stays on the DR server as it is, no longer followed; the link forgets
   * its triggers and events, so a promotion does not create or enable them.
   * New URLs (a rotated password, another address) must reach the same master and DR server.
   */
  async update(name: string, update: LinkUpdate): Promise<LinkStatus> {
    const runner = this.runner(name);
    const def = runner.definition;
    const selection = parseSelection(update ?? {}, def.objects);
    const onMissingRow = parseOnMissingRow(update?.onMissingRow, def.onMissingRow);
    const failback = parseFailback(update?.failback, def.failback);
    if (def.direction === "reverse" && (update.include !== undefined || update.exclude !== undefined)) {
      throw new DrError("PRECONDITION", `Link ${name} runs back to the old master now; change its selection after the switch back.`);
    }
    const servers = parseServers(update ?? {}, def);
    const previous = new ObjectFilter(def.objects);
    await withServers({ ...def, ...servers }, async ({ source, target, sourceFacts }) => {
      await checkSameServers(def.name, servers, target, sourceFacts);
      // The tables this adds are the link's writes, not errant ones.
      await writeAsLink(target, def.name, sourceFacts.flavor);
      const added = (await listSelectedTables(source, new ObjectFilter(selection), sourceFacts.flavor)).filter((t) => !previous.tableSelected(t.db, t.table));
      await refuseUnsafeTables(added, target, sourceFacts.flavor);
      await checkTargetTables(target, added, update.overwrite === true);
      const units = await planCopyUnits(source, added, def.copyParallelism);
      // The runner reads the copy plan and the URLs when it starts: stop it while they change.
      await runner.stop("starting");
      try {
        await prepareTargetTables(source, target, added, update.overwrite === true);
        // Before the copy plan: a view the link cannot keep refuses the update, and the link goes on unchanged.
        await copySchemaObjects(source, target, def.name, new ObjectFilter(selection), previous);
        await ensureCopyStateTable(target);
        await insertCopyUnits(target, def.name, units);
        if (units.length) runner.planCopy();
        def.objects = selection;
        def.onMissingRow = onMissingRow;
        def.failback = failback;
        def.source = servers.source;
        def.target = servers.target;
        this.persist();
      } finally {
        if (!def.paused) runner.start();
      }
    });
    return runner.status();
  }

  /**
   * Verifies the link's selected tables and records the result in its status: live, waiting on
   * the link's own applied position, or at a GTID barrier the link is held at (barrier-verifier.ts).
   */
  async verify(name: string, options: VerifyRequest = {}): Promise<VerifyReport | BarrierReport> {
    const runner = this.runner(name);
    const def = directed(runner.definition);
    const repair = options.repair === true;
    let report: VerifyReport | BarrierReport;
    let record: LastVerification;
    if (options.atBarrier) {
      const barrier = await verifyAtBarrier({
        link: def.name,
        source: def.source,
        target: def.target,
        objects: def.objects,
        hold: (timeoutMs) => runner.holdAtBoundary(timeoutMs),
        repair,
        timeoutMs: options.barrierTimeoutSeconds === undefined ? undefined : options.barrierTimeoutSeconds * 1000,
      });
      report = barrier;
      record = {
        ...verificationRecord(barrier),
        mode: "barrier",
        gtid: barrier.proof.gtid,
        proofDigest: barrier.proof.digest,
        proofChunks: barrier.proof.tables,
      };
      this.hooks.log("info", "verified at a barrier", { link: name, gtid: barrier.proof.gtid, identical: barrier.identical, rows: barrier.rowsCompared, digest: barrier.proof.digest, linkHeldMs: barrier.linkHeldMs, masterLockMs: barrier.masterLockMs });
    } else {
      report = await verify({
        source: def.source,
        target: def.target,
        objects: def.objects,
        repair,
        appliedPosition: async () => runner.status().appliedGtid ?? undefined,
        link: def.name,
      });
      record = { ...verificationRecord(report), mode: "live", gtid: runner.status().appliedGtid };
    }
    await this.keepRecord(runner, "verification", record);
    return report;
  }

  /**
   * Rehearses a failover of the link's DR copy in a throwaway local server (see drill.ts); runs
   * here because the daemon holds the link's URLs. The link itself is only read, and keeps running;
   * with `record`, the figures are kept as its last drill (keepRecord).
   */
  async drill(name: string, options: DrillRequest = {}): Promise<DrillReport> {
    const runner = this.runner(name);
    const { phase, state } = runner.status();
    if (state === "promoted") throw new DrError("PRECONDITION", `Link ${name}'s DR server was promoted: it is a primary now, not a DR copy to drill.`);
    // Until the copy has caught up, the DR tables are a mix of copied chunks and applied changes, at no single GTID.
    if (phase !== "syncing") throw new DrError("PRECONDITION", `Link ${name} is still ${phase}, so its DR copy is not yet consistent at any GTID; run the drill once 'mysql-dr link status' shows it syncing.`);
    const def = directed(runner.definition);
    const abort = new AbortController();
    const done = drill({ link: def.name, source: def.source, target: def.target, objects: def.objects, signal: abort.signal });
    const entry = { abort, done: done.catch(() => undefined) };
    this.drills.add(entry);
    const report = await done.finally(() => this.drills.delete(entry));
    this.hooks.log("info", "drill done", { link: name, gtid: report.gtid, rtoMs: report.rtoMs, rpoTransactions: report.rpoTransactions, identical: report.identical, writable: report.writable, recorded: options.record === true });
    if (options.record) {
      const record: LastDrill = { at: new Date().toISOString(), gtid: report.gtid, rtoMs: report.rtoMs, rpoTransactions: report.rpoTransactions, identical: report.identical, writable: report.writable };
      await this.keepRecord(runner, "drill", record);
    }
    return report;
  }

  /**
   * Keeps the link's latest record of a kind: with its definition in the state directory (link
   * status, across restarts), and on its DR server, written as the link's own (not errant), where a
   * DrInstance refresh reads it (and the promotion guardrails the verification).
   */
  private async keepRecord<K extends LinkRecordKind>(runner: LinkRunner, kind: K, record: LinkRecords[K]): Promise<void> {
    Object.assign(runner.definition, { [RECORD_FIELDS[kind]]: record });
    this.persist();
    const def = directed(runner.definition);
    const target = await openConnection(def.target, "target");
    try {
      await writeAsLink(target, def.name, (await inspectServer(target)).flavor);
      await saveLinkRecord(target, kind, def.name, record);
    } finally {
      target.destroy();
    }
  }

  async pause(name: string): Promise<LinkStatus> {
    const runner = this.runner(name);
    runner.definition.paused = true;
    this.persist();
    await runner.stop("paused");
    return runner.status();
  }

  async resume(name: string): Promise<LinkStatus> {
    const runner = this.runner(name);
    runner.definition.paused = false;
    this.persist();
    await runner.stop("starting");
    runner.start();
    return runner.status();
  }

  /** Stops and forgets the link; the DR data and its checkpoint stay (a new link of the same name resumes from it). */
  async delete(name: string): Promise<void> {
    const runner = this.runner(name);
    await runner.stop("paused");
    this.runners.delete(name);
    this.persist();
    // Only the row of a release that kept one per link: the daemon's shared row stays, updated in
    // place, so a native replica of the master that skipped its delete never meets its insert again.
    await removeHeartbeatRow(directed(runner.definition).source, linkHeartbeatKey(name, this.hooks.daemonId)).catch(() => undefined);
  }

  async shutdown(): Promise<void> {
    // A drill's sandbox server is a process of its own: it would outlive the daemon if not removed.
    for (const d of this.drills) d.abort.abort(new DrError("CONFLICT", "The daemon is shutting down; the drill was stopped and its sandbox removed."));
    await Promise.all([...this.runners.values()].map((r) => r.stop("paused")));
    await Promise.all([...this.drills].map((d) => d.done));
  }

  private runner(name: string): LinkRunner {
    validateLinkName(name);
    const runner = this.runners.get(name);
    if (!runner) throw new DrError("NOT_FOUND", `There is no link named ${name}; list links with 'mysql-dr link status'.`);
    return runner;
  }

  private persist(): void {
    this.store.save([...this.runners.values()].map((r) => r.definition));
  }
}

interface ServerSessions {
  source: Connection;
  target: Connection;
  sourceFacts: ServerFacts;
}

/** Opens and checks both servers of a link, runs `work`, and closes them whatever happens. */
async function withServers<T>(def: LinkDefinition, work: (s: ServerSessions) => Promise<T>): Promise<T> {
  const connections: Connection[] = [];
  try {
    const source = await openConnection(def.source, "source");
    connections.push(source);
    const target = await openConnection(def.target, "target");
    connections.push(target);
    const [sourceFacts, targetFacts] = await Promise.all([inspectServer(source), inspectServer(target)]);
    checkSource(sourceFacts, def.source);
    checkTarget(targetFacts, sourceFacts, def.target);
    return await work({ source, target, sourceFacts });
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * A link's servers, reached through (possibly new) URLs, are still its own: the DR server holds
 * this link's checkpoint, and the master is the one that checkpoint was recorded for.
 */
async function checkSameServers(link: string, servers: Pick<LinkDefinition, "source" | "target">, target: Connection, sourceFacts: ServerFacts): Promise<void> {
  const checkpoint = await readCheckpoint(target, link);
  if (!checkpoint) {
    throw new DrError("PRECONDITION", `The target server at ${formatHostPort(servers.target)} holds no checkpoint of link ${link}, so it is not this link's DR server; give the DR server's address, or create a new link for another server.`);
  }
  // A row from before identities were recorded cannot tell which master it came from: accepted.
  if (checkpoint.sourceIdentity !== "" && checkpoint.sourceIdentity !== sourceFacts.identity) {
    throw new DrError("PRECONDITION", `The source server at ${formatHostPort(servers.source)} is not the master link ${link} replicates (its identity is ${sourceFacts.identity}, the link's master is ${checkpoint.sourceIdentity}); give that master's address, or create a new link for another master.`);
  }
}

/**
 * "Save and verify": every check runs before the first write. Then the starting position goes to
 * the DR server, and for an initial copy the tables and the copy plan (the position is read
 * first, so the stream from it covers every change the copy might miss).
 */
async function prepareLink(def: LinkDefinition, reusePromoted: boolean): Promise<boolean> {
  return withServers(def, async ({ source, target, sourceFacts }) => {
    const [held] = await target.query("SELECT IS_USED_LOCK(?) AS holder", [lockName(def.name)]);
    const holder = (held as { holder: number | null }[])[0].holder;
    if (holder !== null) {
      throw new DrError("CONFLICT", `Link ${def.name} is already being applied to the DR server at ${formatHostPort(def.target)} by another daemon (connection ${holder} holds lock ${lockName(def.name)}); delete it there or choose another name.`);
    }
    const fenced = await fencedLinks(target);
    if (fenced.length && !reusePromoted) {
      throw new DrError("CONFLICT", `The DR server at ${formatHostPort(def.target)} was promoted (link ${fenced.map((f) => `${f.link} fenced at ${f.updatedAt}`).join(", ")}) and may hold writes made on it as a primary, which a link would overwrite or diverge from; point the link at another server, or pass --reuse-promoted to make it a DR copy again anyway.`);
    }
    const accounts = accountPolicy(def.objects, def.target.user, sourceFacts.flavor);
    if (accounts) await checkCanReplayAccounts(target, `the target server at ${formatHostPort(def.target)}`);
    // The fenced position belongs to the promoted past: the new link starts from a fresh one. The
    // triggers promotion created from the fenced links' definitions go too: as a replica again the
    // server must not fire them on applied rows (the new link keeps their definitions); and the
    // events it enabled or disabled wait on the replica side again.
    if (fenced.length) {
      await dropTriggers(target, await keptTriggers(target, fenced.map((f) => f.link)));
      await rewaitReplicaEvents(target, fenced.map((f) => f.link));
    }
    if (fenced.some((f) => f.link === def.name)) await deleteCheckpoint(target, def.name);
    const position = await currentGtidPosition(source, sourceFacts.flavor);
    const tables = await listSelectedTables(source, new ObjectFilter(def.objects), sourceFacts.flavor);
    await refuseUnsafeTables(tables, target, sourceFacts.flavor);
    if (def.initial === "none") {
      await initCheckpoint(target, def.name, position, sourceFacts.identity);
      return false;
    }
    await checkTargetTables(target, tables, def.overwrite);
    const units = await planCopyUnits(source, tables, def.copyParallelism);
    await prepareTargetTables(source, target, tables, def.overwrite);
    await copySchemaObjects(source, target, def.name, new ObjectFilter(def.objects));
    if (accounts) await copyAccounts(source, target, accounts);
    await ensureCopyStateTable(target);
    await deleteCopyUnits(target, def.name);
    await insertCopyUnits(target, def.name, units);
    await initCheckpoint(target, def.name, position, sourceFacts.identity, true);
    return units.length > 0;
  });
}

/** The record of a verification, whatever its mode (the caller adds mode and GTID). */
function verificationRecord(report: VerifyReport): Omit<LastVerification, "mode" | "gtid"> {
  return {
    at: new Date().toISOString(),
    result: verificationResult(report),
    tablesChecked: report.tables.length,
    rowsChecked: report.rowsCompared,
    differences: report.tables.reduce((n, t) => n + differenceCount(t), 0),
  };
}

async function removeHeartbeatRow(master: ServerAddress, key: string): Promise<void> {
  const source = await openConnection(master, "source");
  try {
    await source.query(`DELETE FROM ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} WHERE link = ? /* mysql-dr heartbeat */`, [key]);
  } finally {
    await source.end().catch(() => undefined);
  }
}
