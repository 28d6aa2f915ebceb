/**
 * Runs one link: reader -> assembler -> bounded queue -> applier, plus the heartbeat writer and a
 * poller of the master's position. Any failure tears the whole pipeline down; retryable ones
 * (lost connections, restarts, deadlocks) start it again from the checkpoint after a backoff,
 * others stop the link and show the error until `resume`.
 */
import { foreignKeyParents } from "../catalog/selected-tables";
import { CopyModes } from "../copy/copy-modes";
import { TableCopier } from "../copy/table-copier";
import { ApplyLock } from "../stream/apply-lock";
import { formatHostPort } from "../core/connection-url";
import { type Connection, isRetryable, onSide, openConnection, openWireConnection } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidMissingCount, parseGtidProgress } from "../core/gtid";
import { ObjectFilter } from "../core/object-filter";
import { type ServerFacts, checkSource, collationCharsets, currentGtidPosition, holdsHistory, inspectServer, refuseServerIdInUse, threadState } from "../core/server-inspector";
import { type Checkpoint, acquireLinkLock, ensureCheckpointTable, readCheckpoint, recordSourceIdentity } from "../dr-state/checkpoint-store";
import { type CopyUnit, loadCopyUnits } from "../dr-state/copy-state";
import type { LastDrill, LastVerification } from "../dr-state/link-records";
import { type GuardrailReport, blockers, evaluateGuardrails } from "../promote/guardrails";
import { recordWriter, writeAsLink } from "../dr-state/link-writer";
import { ensureTriggerTable } from "../dr-state/trigger-store";
import { ensureEventTable } from "../dr-state/event-store";
import { ensureXaTable } from "../dr-state/xa-store";
import { Applier, type AppliedBatch, type OnMissingRow } from "../stream/applier";
import { ApplyBarrier, type ApplyHold } from "../stream/apply-barrier";
import { BINLOG_HEARTBEAT_PERIOD_MS, BinlogReader } from "../stream/binlog-reader";
import { BoundedQueue, type QueueBudget } from "../stream/bounded-queue";
import { type ApplyItem, endsTransaction, itemWeight } from "../stream/change-events";
import { type HeartbeatWriters, type LagSource, LagTracker } from "../stream/heartbeat";
import { TablePlans } from "../stream/table-plans";
import { TransactionAssembler } from "../stream/transaction-assembler";
import { accountPolicy, accountsSummary } from "../catalog/accounts";
import { type Direction, type Failback, type LinkDefinition, describeLink } from "./link-definition";
import { directed, nextStep } from "./link-cycle";
import type { Divergence } from "../dr-state/promotion-record";

export const LINK_STATES = ["starting", "running", "retrying", "paused", "error", "promoted"] as const;
export type LinkState = (typeof LINK_STATES)[number];

/**
 * Rows queued between reader and applier before a link's reader pauses (it resumes at a quarter):
 * a daemon-wide budget split over the running links (`QueueBudget`). Queued rows are most of the
 * daemon's live heap: 20,000 per link kept TPC-C catch-up at 330-345 MiB RSS, 5,000 at 240 with
 * the same throughput and CPU, so one link keeps 5,000, and 32 links get 625 each.
 */
export const QUEUE_BUDGET_ROWS = 20_000;
export const QUEUE_MAX_SHARE_ROWS = 5_000;
export const QUEUE_MIN_SHARE_ROWS = 500;
export const RETRY_INITIAL_DELAY_MS = 500;
export const RETRY_MAX_DELAY_MS = 30_000;
export const SOURCE_POLL_INTERVAL_MS = 1_000;
/**
 * Each second both servers are asked something trivial on sessions of their own; one that does
 * not answer within this is unresponsive, and the pipeline is torn down and started again. The
 * applier's own session has no statement limit (a DDL may run for hours), so this is what
 * notices a DR server that hung.
 */
export const LIVENESS_TIMEOUT_MS = 5_000;
/** `link status` answers with what is known if the master's position takes longer than this. */
const STATUS_POLL_WAIT_MS = 1_000;
/** How often a promoted link looks whether it can run the other way (the old master answers). */
const TURN_AROUND_POLL_MS = 2_000;

export const LINK_PHASES = ["copying", "catching-up", "syncing"] as const;
export type LinkPhase = (typeof LINK_PHASES)[number];

/** Initial copy progress, while a link copies or catches up. */
export interface CopyProgress {
  tablesTotal: number;
  tablesDone: number;
  rowsCopied: number;
  rowsEstimated: number;
  /** Seconds left at the rate of this run's copy so far; null before it can be told. */
  etaSeconds: number | null;
  warnings: string[];
}

export interface LinkStatus {
  name: string;
  state: LinkState;
  /** copying (initial copy) -> catching-up (stream passing the copy's end) -> syncing. */
  phase: LinkPhase;
  copy: CopyProgress | null;
  /** The declared master and DR server (the link runs from target to source while "reverse"). */
  source: string;
  target: string;
  /** forward: source to target; reverse: back from the promoted target to the old master. */
  direction: Direction;
  failback: Failback;
  include: string[];
  exclude: string[];
  onMissingRow: OnMissingRow;
  /** Seconds behind the master, millisecond resolution; null until measured. */
  lagSeconds: number | null;
  lagSource: LagSource;
  appliedGtid: string | null;
  sourceGtid: string | null;
  rowsApplied: number;
  transactionsApplied: number;
  ddlSkipped: number;
  /** After a promotion: the old master's transactions the new primary never applied, as last examined. */
  divergence: Divergence | null;
  /** Whether users, roles and grants follow the master, as a sentence. */
  accounts: string;
  /** Account statements not replayed (all, with an include list; else those of the DR login's user). */
  accountStatementsSkipped: number;
  /** Changes that found no row on the DR server and were skipped (onMissingRow "skip-and-count"). */
  missingRowsSkipped: number;
  lastError: string | null;
  /** Master transactions not yet applied (GTID distance from sourceGtid); null until both are known. */
  unappliedTransactions: number | null;
  /** Transactions on the DR server that did not come from the link (dr-state/link-writer.ts); null when that cannot be told. */
  errantGtids: string[] | null;
  /** The last `verify --link` of this link, kept in the daemon's state directory. */
  lastVerification: LastVerification | null;
  /** The last `drill --link --record` of this link, kept the same way. */
  lastDrill: LastDrill | null;
  /** Whether a planned promotion would pass its guardrails (with their default thresholds); null until evaluated. */
  promotionReady: boolean | null;
  /** The failing guardrails' sentences. */
  promotionBlockers: string[];
  /** Rows waiting between reader and applier; the reader pauses above the link's share of QUEUE_BUDGET_ROWS. */
  queuedRows: number;
  readerPaused: boolean;
  updatedAt: string;
}

/** Thrown into the pipeline to stop it on purpose. */
class StopRequested extends Error {}

export interface LinkRunnerHooks {
  log(level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>): void;
  /** This daemon's identity (kept in its state directory): with the link name it makes the replica server_id. */
  daemonId: string;
  /** The daemon's heartbeat writers, one per master login, shared by the links. */
  heartbeats: HeartbeatWriters;
  /** The rows the daemon's queues may hold together; each running link's queue holds a share. */
  queues: QueueBudget;
  /** Saves the link definitions (the runner changes its direction when the link turns around). */
  persist(): void;
  /** Tables re-copied over a divergence (failback.onDivergence "resync") have caught up: verify them. */
  resynced(link: string): void;
}

export class LinkRunner {
  private state: LinkState = "starting";
  private lastError: string | null = null;
  private appliedGtid: string | null = null;
  private sourceGtid: string | null = null;
  private rowsApplied = 0;
  private transactionsApplied = 0;
  private ddlSkipped = 0;
  private accountStatementsSkipped = 0;
  private missingRowsSkipped = 0;
  private lagSource: LagSource = "heartbeat";
  private readerPaused = false;
  private measured = false;
  private copyUnits: CopyUnit[] = [];
  private copyModes?: CopyModes;
  /** A copy was planned and the pipeline has not loaded it yet. */
  private copyPlanned = false;
  private flavor?: Flavor;
  /** The last guardrail evaluation, and the one under way. */
  private readiness?: GuardrailReport;
  private evaluating?: Promise<unknown>;
  private copyStartedAt = 0;
  private rowsCopiedThisRun = 0;
  private readonly heartbeatLag = new LagTracker();
  private readonly eventLag = new LagTracker();
  private stopRequested = false;
  private wake?: () => void;
  /** Aborted by stop(): ends the current pipeline wherever it is, even while it starts. */
  private abort?: AbortController;
  private queue?: BoundedQueue<ApplyItem>;
  private loop?: Promise<void>;
  /** Reads the master's position; set while the pipeline runs. */
  private pollSource?: () => Promise<unknown>;
  /** When the master was last heard from (binlog bytes or an answered poll); kept across restarts of the pipeline. */
  private sourceHeardAt = 0;
  /** Holds the running pipeline's applier at a transaction boundary; set while it runs. */
  private applyBarrier?: ApplyBarrier;
  /** A resync copy was planned by the last turn around: verify once it has caught up. */
  private verifyAfterResync = false;
  /** What the last turn around found on the old master (link-cycle.ts). */
  private divergence: Divergence | null = null;

  constructor(readonly definition: LinkDefinition, private readonly hooks: LinkRunnerHooks) {}

  start(): void {
    if (this.loop) return;
    this.stopRequested = false;
    this.state = "starting";
    this.loop = this.runWithRetries().finally(() => (this.loop = undefined));
  }

  /** Says, until the pipeline loads it, that copy units were added for this link. */
  planCopy(): void {
    this.copyPlanned = true;
  }

  /** Stops the pipeline; the checkpoint keeps the position. */
  async stop(finalState: LinkState = "paused"): Promise<void> {
    this.stopRequested = true;
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.state = finalState;
  }

  /**
   * Holds the link at the transaction boundary after its current batch (verification at a GTID
   * barrier). Refuses, in one sentence, a link that is not running in sync.
   */
  holdAtBoundary(timeoutMs: number): Promise<ApplyHold> {
    const name = this.definition.name;
    const { state, phase, lastError } = this.status();
    if (state === "paused") throw new DrError("PRECONDITION", `Link ${name} is paused, so it cannot apply up to a barrier; resume it ('mysql-dr link resume ${name}') and verify again.`);
    if (state === "promoted") throw new DrError("PRECONDITION", `Link ${name}'s DR server was promoted: there is no running link to verify at a barrier.`);
    if (state !== "running" || !this.applyBarrier) {
      throw new DrError("PRECONDITION", `Link ${name} is not running (state ${state}${lastError ? `: ${lastError.replace(/\.$/, "")}` : ""}), so it cannot apply up to a barrier; verify again once 'mysql-dr link status' shows it running.`);
    }
    // Until the copy has caught up, the DR tables are a mix of copied chunks and applied changes, at no single GTID.
    if (phase !== "syncing") throw new DrError("PRECONDITION", `Link ${name} is still ${phase}, so its DR copy is not yet at any single GTID; verify at a barrier once 'mysql-dr link status' shows it syncing.`);
    return this.applyBarrier.hold(timeoutMs);
  }

  /** The status with the master's position read now, so sourceGtid is never older than appliedGtid. */
  async freshStatus(): Promise<LinkStatus> {
    const waited = [this.pollSource?.(), this.evaluateReadiness()].filter(Boolean);
    await Promise.race([Promise.all(waited), new Promise((resolve) => setTimeout(resolve, STATUS_POLL_WAIT_MS).unref())]);
    return this.status();
  }

  /** The promotion guardrails for this link, from its servers; unknown (null) when they could not be read. */
  private evaluateReadiness(): Promise<unknown> {
    const def = directed(this.definition);
    return (this.evaluating ??= evaluateGuardrails({ master: def.source, target: def.target, links: [def.name] }).then(
      (report) => (this.readiness = report),
      (err: Error) => {
        this.readiness = undefined;
        this.hooks.log("warn", "promotion guardrails not evaluated", { link: def.name, error: errorMessage(err) });
      },
    ).finally(() => (this.evaluating = undefined)));
  }

  status(): LinkStatus {
    const now = Date.now();
    // Nothing heard from the master is no evidence that nothing was written: the lag grows.
    const silenceMs = this.sourceHeardAt ? Math.max(0, now - this.sourceHeardAt - BINLOG_HEARTBEAT_PERIOD_MS) : 0;
    const lagMs = Math.max(this.heartbeatLag.lagMs(now), Math.max(0, this.eventLag.lagMs(now) - 999), silenceMs);
    const running = this.state === "running" || this.state === "retrying" || this.state === "starting";
    return {
      ...describeLink(this.definition),
      state: this.state,
      phase: this.copyPlanned || this.copyModes?.copying ? "copying" : this.copyModes?.catchingUp ? "catching-up" : "syncing",
      copy: this.copyModes?.catchingUp ? this.copyProgress(now) : null,
      lagSeconds: running && this.measured ? lagMs / 1000 : null,
      lagSource: this.lagSource,
      appliedGtid: this.appliedGtid,
      sourceGtid: this.sourceGtid,
      rowsApplied: this.rowsApplied,
      transactionsApplied: this.transactionsApplied,
      ddlSkipped: this.ddlSkipped,
      accounts: accountsSummary(accountPolicy(this.definition.objects, directed(this.definition).target.user, this.flavor ?? "mysql")),
      divergence: this.divergence,
      accountStatementsSkipped: this.accountStatementsSkipped,
      missingRowsSkipped: this.missingRowsSkipped,
      lastError: this.lastError,
      unappliedTransactions: this.flavor && this.appliedGtid !== null && this.sourceGtid !== null ? gtidMissingCount(this.flavor, this.appliedGtid, this.sourceGtid) : null,
      errantGtids: this.readiness?.errantGtids ?? null,
      lastVerification: this.definition.lastVerification ?? null,
      lastDrill: this.definition.lastDrill ?? null,
      promotionReady: this.readiness ? blockers(this.readiness).length === 0 : null,
      promotionBlockers: this.readiness ? blockers(this.readiness) : [],
      queuedRows: this.queue?.queuedWeight ?? 0,
      readerPaused: this.readerPaused,
      updatedAt: new Date(now).toISOString(),
    };
  }

  private async runWithRetries(): Promise<void> {
    let delay = RETRY_INITIAL_DELAY_MS;
    while (!this.stopRequested) {
      try {
        await this.runOnce(() => (delay = RETRY_INITIAL_DELAY_MS));
      } catch (err) {
        if (err instanceof StopRequested && err.message === "promoted" && !this.stopRequested) {
          if (await this.turnAround()) continue;
          return;
        }
        if (err instanceof StopRequested || this.stopRequested) return;
        this.lastError = errorMessage(err);
        if (!isRetryable(err)) {
          this.state = "error";
          this.hooks.log("error", "link stopped", { link: this.definition.name, error: this.lastError });
          return;
        }
        this.state = "retrying";
        this.hooks.log("warn", "link retrying", { link: this.definition.name, error: this.lastError, delayMs: delay });
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        delay = Math.min(delay * 2, RETRY_MAX_DELAY_MS);
      }
    }
  }

  /**
   * The target was promoted: wait (state "promoted", the reason in lastError) until the link can
   * run the other way (link-cycle.ts), then switch direction. False when stopped meanwhile.
   */
  private async turnAround(): Promise<boolean> {
    while (!this.stopRequested) {
      try {
        const step = await nextStep(this.definition, replicaServerId(`${this.hooks.daemonId}/${this.definition.name}/scan`, 0));
        this.divergence = step.divergence;
        if ("run" in step) {
          this.definition.direction = step.run;
          this.hooks.persist();
          if (step.copyPlanned) {
            this.planCopy();
            this.verifyAfterResync = true;
          }
          this.lastError = null;
          this.state = "starting";
          this.hooks.log("info", "link turned around", { link: this.definition.name, direction: step.run });
          return true;
        }
        this.lastError = step.wait;
      } catch (err) {
        this.lastError = errorMessage(err);
      }
      this.state = "promoted";
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, TURN_AROUND_POLL_MS);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return false;
  }

  /** One life of the pipeline: resolves never, rejects with why it ended. */
  private async runOnce(onProgress: () => void): Promise<void> {
    const def = directed(this.definition);
    const closers: (() => unknown)[] = [];
    const abort = (this.abort = new AbortController());
    if (this.stopRequested) abort.abort();
    try {
      // The applier sends a batch's statements together, several per round trip, in wire text.
      const target = await openWireConnection(def.target, "target", { multipleStatements: true, queryTimeoutMs: 0 });
      closers.push(() => target.destroy());
      // Before anything is written: even CREATE TABLE IF NOT EXISTS goes to the DR server's binlog.
      const tagged = await writeAsLink(target, def.name, (await inspectServer(target)).flavor);
      await acquireLinkLock(target, def.name);
      await ensureCheckpointTable(target);
      await ensureXaTable(target);
      await ensureTriggerTable(target);
      await ensureEventTable(target);
      const checkpoint = await readCheckpoint(target, def.name);
      if (!checkpoint) {
        throw Object.assign(new DrError("PRECONDITION", `The DR server at ${formatHostPort(def.target)} has no checkpoint for link ${def.name}; delete the link and create it again.`), { retryable: false });
      }
      if (checkpoint.fenced) {
        this.state = "promoted";
        throw new StopRequested("promoted");
      }
      this.rowsApplied = checkpoint.rowsApplied;
      this.transactionsApplied = checkpoint.transactionsApplied;
      this.missingRowsSkipped = checkpoint.missingRowsSkipped;
      this.appliedGtid = checkpoint.sourceGtid;
      if (tagged) await recordWriter(target, def.name);

      const inspector = await openConnection(def.source, "source");
      closers.push(() => inspector.destroy());
      const facts = await inspectServer(inspector);
      this.flavor = facts.flavor;
      checkSource(facts, def.source);
      await this.checkSameMaster(target, inspector, checkpoint, facts);
      const serverId = replicaServerId(`${this.hooks.daemonId}/${def.name}`, facts.serverId);
      await refuseServerIdInUse(inspector, facts, serverId);
      const charsets = await collationCharsets(inspector);
      const catalog = await openConnection(def.target, "target");
      closers.push(() => catalog.destroy());
      const progress = await parseGtidProgress(facts.flavor, checkpoint.sourceGtid);
      this.copyUnits = await loadCopyUnits(target, def.name);
      const modes = await new CopyModes(facts.flavor, this.copyUnits).init();
      modes.applied(checkpoint.sourceGtid);
      this.copyModes = modes;
      this.copyPlanned = false;
      const applyLock = new ApplyLock();

      const heartbeat = await this.hooks.heartbeats.acquire(def.source, this.heartbeatLag);
      closers.push(() => heartbeat.release());
      this.lagSource = heartbeat.source;

      // Everything that can end this run (reader, probes, copier, stop) goes through here.
      let fail!: (err: Error) => void;
      const failed = new Promise<never>((_, reject) => {
        fail = (err) => {
          reject(err);
          queue.close(err);
        };
      });
      failed.catch(() => undefined);
      // The liveness probe of the master; it also asks the master, when the stream falls silent, what its dump thread is doing.
      const sourceProbe = await openConnection(def.source, "source", { queryTimeoutMs: LIVENESS_TIMEOUT_MS });
      closers.push(() => sourceProbe.destroy());
      const reader = new BinlogReader({
        source: def.source,
        fromGtid: checkpoint.sourceGtid,
        replicaServerId: serverId,
        charsetOf: (id) => charsets.get(id),
        onEvent: (event) => assembler.accept(event),
        onError: (err) => fail(onSide("source", def.source, err)),
        rowsWanted: (db, table) => assembler.wantsRows(db, table),
        dumpState: (id) => threadState(sourceProbe, id),
      });
      const share = this.hooks.queues.join();
      closers.push(() => share.leave());
      const queue = new BoundedQueue<ApplyItem>({
        limits: share,
        weigh: itemWeight,
        onFull: () => {
          this.readerPaused = true;
          reader.pause();
        },
        onDrain: () => {
          this.readerPaused = false;
          reader.resume();
        },
      });
      this.queue = queue;
      const stopQueue = () => fail(new StopRequested("stopped"));
      if (abort.signal.aborted) stopQueue();
      else abort.signal.addEventListener("abort", stopQueue, { once: true });
      const assembler = new TransactionAssembler(heartbeat.key, new ObjectFilter(def.objects), (g) => progress.contains(g), {
        push: (item) => {
          if (endsTransaction(item) && "timestampMs" in item) this.eventLag.written(item.timestampMs);
          queue.push(item);
        },
      }, { columnNamesInBinlog: facts.binlogRowMetadata !== null, link: def.name, accounts: accountPolicy(def.objects, def.target.user, facts.flavor) });
      this.eventLag.reset();
      closers.push(() => reader.stop());
      await reader.start();

      const targetProbe = await openConnection(def.target, "target", { queryTimeoutMs: LIVENESS_TIMEOUT_MS });
      closers.push(() => targetProbe.destroy());
      // A probe that fails ends this run like any other failure, through the queue the applier reads.
      let polling: Promise<unknown> | undefined;
      this.pollSource = () => (polling ??= currentGtidPosition(sourceProbe, facts.flavor).then(
        (pos) => {
          this.sourceGtid = pos;
          this.sourceHeardAt = Math.max(this.sourceHeardAt, Date.now() - reader.silenceMs());
        },
        (err: Error) => fail(onSide("source", def.source, err)),
      ).finally(() => (polling = undefined)));
      let probing: Promise<unknown> | undefined;
      const probeTarget = () => (probing ??= targetProbe.query("SELECT 1 /* mysql-dr liveness */").catch((err: Error) => fail(onSide("target", def.target, err))).finally(() => (probing = undefined)));
      this.sourceHeardAt = Date.now();
      void this.pollSource();
      const poller = setInterval(() => {
        void this.pollSource?.();
        void probeTarget();
      }, SOURCE_POLL_INTERVAL_MS);
      closers.push(() => clearInterval(poller), () => (this.pollSource = undefined));

      const applier = new Applier({
        conn: target,
        link: def.name,
        flavor: facts.flavor,
        charsetOf: (id) => charsets.get(id),
        plans: new TablePlans(catalog, facts.flavor),
        progress,
        recoveredDdl: checkpoint.pendingDdl,
        onMissingRow: def.onMissingRow,
        modes,
        applyLock,
        sourceSeen: () => this.sourceGtid,
        log: (level, message, fields) => this.hooks.log(level, message, fields),
        onApplied: (batch) => {
          this.recordApplied(batch);
          this.ddlSkipped = assembler.ddlSkipped;
          this.accountStatementsSkipped = assembler.accountStatementsSkipped;
          if (this.verifyAfterResync && !modes.copying && !modes.catchingUp) {
            this.verifyAfterResync = false;
            this.hooks.resynced(def.name);
          }
          onProgress();
        },
      });
      this.state = "running";
      this.lastError = null;
      this.measured = true;
      this.hooks.log("info", "link running", { link: def.name, from: checkpoint.sourceGtid, copying: modes.copying });
      const applying = applier.run(queue);
      applying.catch(() => undefined);
      const ended = Promise.race([applying, failed]);
      ended.catch(() => undefined);
      this.applyBarrier = new ApplyBarrier({ applier, applyLock, progress, flavor: facts.flavor, link: def.name, ended });
      closers.push(() => (this.applyBarrier = undefined));
      if (modes.copying) {
        this.copyStartedAt = Date.now();
        this.rowsCopiedThisRun = 0;
        const copier = new TableCopier({
          link: def.name,
          source: def.source,
          target: def.target,
          flavor: facts.flavor,
          units: this.copyUnits,
          parents: await foreignKeyParents(inspector),
          parallelism: def.copyParallelism,
          applyLock,
          modes,
          signal: abort.signal,
          onChunk: (_unit, rows) => (this.rowsCopiedThisRun += rows),
          log: (level, message, fields) => this.hooks.log(level, message, fields),
        });
        // A copy failure ends this run like an apply failure: through the queue the applier reads.
        const copying = copier.run().then(
          () => this.hooks.log("info", "initial copy done", { link: def.name, rows: this.copyUnits.reduce((n, u) => n + u.rowsCopied, 0) }),
          (err: Error) => fail(err),
        );
        closers.push(() => copying);
        closers.push(() => abort.abort());
      }
      // The applier may be waiting on the DR server when something else fails: the run ends at
      // once, and the teardown below closes the session it waits on.
      await Promise.race([applying.catch((err: Error) => Promise.reject(onSide("target", def.target, err))), failed]);
    } finally {
      this.queue = undefined;
      this.abort = undefined;
      this.readerPaused = false;
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    }
  }

  /**
   * The master must be the one the link was created for, or one that holds its history (a
   * master that failed over upstream, or moved): a server without the transactions this link
   * applied would stream everything else, or nothing, and the copy would silently diverge.
   */
  private async checkSameMaster(target: Connection, master: Connection, checkpoint: Checkpoint, facts: ServerFacts): Promise<void> {
    const def = this.definition;
    if (checkpoint.sourceIdentity === facts.identity) return;
    if (!(await holdsHistory(master, facts.flavor, checkpoint.sourceGtid))) {
      throw Object.assign(
        new DrError("PRECONDITION", `The master at ${formatHostPort(def.source)} is not the server link ${def.name} was created for (server identity ${facts.identity}, recorded ${checkpoint.sourceIdentity || "unknown"}) and its binlog history lacks transactions the link applied (${checkpoint.sourceGtid}); point the link at its master again, or delete the link and create it anew with --initial full.`),
        { retryable: false },
      );
    }
    await recordSourceIdentity(target, def.name, facts.identity);
    this.hooks.log("warn", "master identity changed; its history holds the link's position", { link: def.name, was: checkpoint.sourceIdentity, now: facts.identity });
  }

  /** Progress of the copies still under way or catching up (earlier, finished copies left out). */
  private copyProgress(now: number): CopyProgress {
    const units = this.copyUnits.filter((u) => this.copyModes?.tracks(u.db, u.table));
    const tables = new Map<string, CopyUnit[]>();
    for (const u of units) tables.set(`${u.db}.${u.table}`, [...(tables.get(`${u.db}.${u.table}`) ?? []), u]);
    const rowsCopied = units.reduce((n, u) => n + u.rowsCopied, 0);
    const rowsEstimated = Math.max(rowsCopied, units.reduce((n, u) => n + (u.done ? u.rowsCopied : Math.max(u.rowsEstimated, u.rowsCopied)), 0));
    const rate = this.rowsCopiedThisRun / Math.max(0.001, (now - this.copyStartedAt) / 1000);
    const copying = units.some((u) => !u.done);
    return {
      tablesTotal: tables.size,
      tablesDone: [...tables.values()].filter((us) => us.every((u) => u.done)).length,
      rowsCopied,
      rowsEstimated,
      etaSeconds: !copying ? 0 : this.rowsCopiedThisRun > 0 ? Math.ceil((rowsEstimated - rowsCopied) / rate) : null,
      warnings: [...tables.entries()].filter(([, us]) => us[0].keyColumns === null).map(([t]) => `${t} has no primary or unique key: copied whole from one snapshot`),
    };
  }

  private recordApplied(batch: AppliedBatch): void {
    this.rowsApplied += batch.rows;
    this.missingRowsSkipped += batch.missingRowsSkipped;
    this.transactionsApplied += batch.transactions;
    this.appliedGtid = batch.gtid;
    if (batch.heartbeatMs !== undefined) this.heartbeatLag.applied(batch.heartbeatMs);
    this.eventLag.applied(batch.lastEventMs);
  }
}

/**
 * A stable server_id per daemon and link for the binlog dump, distinct from the master's own: a
 * master drops the older of two dumps that announce one server_id, so two daemons running links
 * of the same name must not share it.
 */
export function replicaServerId(daemonAndLink: string, masterServerId: number): number {
  let h = 2166136261;
  for (const ch of daemonAndLink) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const id = 1_000_000_000 + (h % 1_000_000_000);
  return id === masterServerId ? id + 1 : id;
}
