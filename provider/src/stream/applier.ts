/**
 * Replays `ApplyItem`s on the DR server. Source transactions are grouped into target transactions
 * (BEGIN, rows, checkpoint, COMMIT), so throughput is not bound by one commit per source
 * transaction, and the checkpoint is exact: it commits with the rows it covers. A batch commits
 * when the queue runs dry (low latency when caught up) or grows large (bounded transaction size).
 * A large source transaction streams through in bounded statements and commits once, at its end.
 *
 * Every change is applied exactly as the master did it, or the link stops: an UPDATE or DELETE
 * must find its row (as native replication requires, error 1032), values are written in strict
 * mode, the master session's foreign_key_checks/unique_checks apply per statement, DDL runs under
 * the master session's context. When a batch fails, it is rolled back and replayed one row at a
 * time to name the GTID, table and key (values redacted) of the change that cannot be applied.
 */
import type { Mutex } from "async-mutex";
import { type Connection, RELAXED_WRITE_SQL_MODE, WRITE_SQL_MODE } from "../core/db";
import { DrError } from "../core/errors";
import { scratchSchema } from "../core/object-filter";
import type { Flavor } from "../core/flavor";
import { type GtidProgress, gtidCovers } from "../core/gtid";
import { type PendingDdl, advanceCheckpoint, markDdlPending } from "../dr-state/checkpoint-store";
import { definitionsDigest } from "./ddl-guard";
import { deleteXa, loadXa, saveXa } from "../dr-state/xa-store";
import { ValueWriter, needsRelaxedMode, statementForMessage, wire, wireId } from "../sql/literals";
import { STATEMENT_MAX_BYTES } from "../sql/statements";
import type { ApplyMode, ApplyModes } from "./apply-modes";
import type { BoundedQueue } from "./bounded-queue";
import { type ApplyItem, type RowChange, itemWeight } from "./change-events";
import { contextStatements } from "./session-context";
import { type Footprint, type GroupKind, type Origin, type Outgoing, type SessionFlags, StatementWindow } from "./statement-window";
import type { TablePlan, TablePlans } from "./table-plans";

/**
 * Commit the target transaction once it holds this many rows or source transactions, or once it
 * has been open this long: batching amortizes commits while behind, the age bound keeps the
 * latency it adds small when the stream runs just below the applier's speed.
 */
export const BATCH_MAX_ROWS = 5_000;
export const BATCH_MAX_TRANSACTIONS = 1_000;
export const BATCH_MAX_AGE_MS = 100;
/** Statements sent to the DR server in one round trip (a multi-statement query). */
export const ROUND_TRIP_MAX_STATEMENTS = 200;
/**
 * Rows gathered into multi-row statements before they are sent (see StatementWindow): more rows
 * mean fewer statements, fewer mean the DR server starts on them sooner.
 */
export const WINDOW_MAX_ROWS = 1_000;
/**
 * Round trips sent and not yet answered: while the DR server runs one, the applier builds the
 * next (the session queues them, in order, inside the batch's transaction). Their answers are all
 * checked before the batch's checkpoint is written, so a failed statement never commits.
 */
export const ROUND_TRIPS_IN_FLIGHT = 4;

/** What to do when an UPDATE or DELETE finds no row on the DR server. */
export const ON_MISSING_ROW = ["error", "skip-and-count"] as const;
export type OnMissingRow = (typeof ON_MISSING_ROW)[number];

/** Errors a retry from the checkpoint can fix; anything else stops the link. */
const RETRYABLE_APPLY_ERRNOS = new Set([1205, 1213, 1927, 2006, 2013]);
/** The applier's session between statements that change it. */
const RESET_SESSION = `SET SESSION foreign_key_checks = 1, unique_checks = 1, sql_mode = '${WRITE_SQL_MODE}'`;

export interface AppliedBatch {
  rows: number;
  transactions: number;
  missingRowsSkipped: number;
  gtid: string;
  heartbeatMs?: number;
  lastEventMs: number;
}

export interface ApplierOptions {
  /** A wire-text connection (openWireConnection) with multipleStatements, holding the link's lock. */
  conn: Connection;
  link: string;
  flavor: Flavor;
  /** The master's character set for a collation id (the DDL context names the client's). */
  charsetOf(collationId: number): string | undefined;
  plans: TablePlans;
  progress: GtidProgress;
  /** The DDL that was in flight when the previous run stopped, if any. */
  recoveredDdl: PendingDdl | null;
  onMissingRow: OnMissingRow;
  /** Per-table treatment while tables are being copied; all exact without it. */
  modes?: ApplyModes;
  /** Held from a batch's first statement to its commit; the copier takes it for its chunks. */
  applyLock: Mutex;
  /** The master's position as last polled, recorded with each batch. */
  sourceSeen(): string | null;
  onApplied(batch: AppliedBatch): void;
  log?(level: "warn", message: string, fields: Record<string, unknown>): void;
}

/**
 * A transaction boundary the applier stops at (verification at a GTID barrier, like START SLAVE
 * UNTIL SQL_AFTER_GTIDS): the first boundary where every transaction of `gtid` is applied. There it
 * commits its batch, says so, and applies nothing more until the stop is passed.
 */
export interface ApplyStop {
  /** Resolves once the applier committed everything up to the stop and waits there. */
  reached: Promise<void>;
  /** Lets the applier go on (also cancels a stop not reached yet). */
  pass(): void;
}

interface PendingStop {
  gtid: string;
  reached(): void;
  passed: Promise<void>;
}

/** An UPDATE or DELETE that found fewer rows than it had to change. */
class MissingRows extends Error {
  constructor(readonly origin: Origin | undefined) {
    super("a row to change was not found");
  }
}

/**
 * A failed batch is replayed one row at a time to name the change that failed; a batch holding
 * more rows than this (one very large source transaction) is not kept for that, and its failure
 * is described from the statement that failed.
 */
export const DIAGNOSIS_MAX_ROWS = 20_000;

export class Applier {
  private inTransaction = false;
  private batchRows = 0;
  private batchTransactions = 0;
  private batchMissing = 0;
  private batchHeartbeatMs?: number;
  private batchLastEventMs = 0;
  private batchStartedAt = 0;
  /** Every item since the batch began (undefined past DIAGNOSIS_MAX_ROWS): replayed one row at a time when the batch fails. */
  private batchItems: ApplyItem[] | undefined = [];
  /** The source change whose statements are being built. */
  private origin?: Origin;
  /** A CREATE ... SELECT's DDL ran in this batch: its commit confirms it. */
  private batchConfirmsDdl = false;
  private batchRowsKept = 0;
  private window = new StatementWindow();
  /** Rows of this batch were gathered past other changes or applied as upserts (see gathering). */
  private batchGathered = false;
  /**
   * Gathered statements once failed where the same changes one by one did not (a DR table that
   * differs from the master's, say): the rest of this run applies rows in the master's order,
   * one statement per update, as before gathering.
   */
  private gatherOff = false;
  private readonly values = new ValueWriter();
  private outgoing: Outgoing[] = [];
  private outgoingBytes = 0;
  /** Round trips sent, oldest first; each settles once its answer is checked. */
  private inFlight: Promise<void>[] = [];
  /** Diagnosing: every row is its own statement, sent at once and checked. */
  private oneByOne = false;
  private session: SessionFlags = { foreignKeyChecks: true, uniqueChecks: true };
  private releaseLock?: () => void;
  /** Changes of XA transactions prepared in this run (the table keeps them across runs). */
  private readonly xaKept = new Map<string, RowChange[]>();
  private recoveredDdl: PendingDdl | null;
  private stop?: PendingStop;

  constructor(private readonly o: ApplierOptions) {
    this.recoveredDdl = o.recoveredDdl;
  }

  /** Applies items until the queue is closed; rejects with the reason it was closed, or the apply error. */
  async run(queue: BoundedQueue<ApplyItem>): Promise<never> {
    for (;;) {
      const item = await queue.take();
      if (item.kind === "ddl") {
        await this.applyDdl(item);
        continue;
      }
      await this.begin();
      await this.keepForDiagnosis(item);
      await this.guard(() => this.applyChanges(item));
      if (item.kind === "commit" || item.kind === "xa-prepare" || item.kind === "xa-end") {
        this.o.progress.add(item.gtid);
        this.batchTransactions++;
        this.batchLastEventMs = item.timestampMs;
        if (item.kind === "commit" && item.heartbeatMs !== undefined) this.batchHeartbeatMs = item.heartbeatMs;
        if (this.atStop()) {
          await this.commitBatch();
          await this.waitAtStop();
        } else if (queue.isEmpty() || this.batchRows >= BATCH_MAX_ROWS || this.batchTransactions >= BATCH_MAX_TRANSACTIONS || Date.now() - this.batchStartedAt >= BATCH_MAX_AGE_MS) {
          await this.commitBatch();
        }
      }
    }
  }

  /**
   * Stops at the first transaction boundary where everything in `gtid` is applied (the batch is
   * cut there). The caller makes sure that boundary is ahead: the applier must not have applied
   * anything `gtid` lacks, and it holds the apply lock while it registers the stop.
   */
  stopAt(gtid: string): ApplyStop {
    let reached!: () => void;
    let pass!: () => void;
    const stop: PendingStop = {
      gtid,
      reached: () => reached(),
      passed: new Promise<void>((resolve) => (pass = resolve)),
    };
    this.stop = stop;
    return {
      reached: new Promise<void>((resolve) => (reached = resolve)),
      pass: () => {
        if (this.stop === stop) this.stop = undefined;
        pass();
      },
    };
  }

  private atStop(): boolean {
    return this.stop !== undefined && gtidCovers(this.o.flavor, this.o.progress.toString(), this.stop.gtid);
  }

  /** Called with the batch committed: nothing more is applied until the stop is passed. */
  private async waitAtStop(): Promise<void> {
    const stop = this.stop!;
    stop.reached();
    await stop.passed;
  }

  // ---------------------------------------------------------------------------------------------
  // Changes
  // ---------------------------------------------------------------------------------------------

  /** Queues the statements of one item (an ending item's own statements, if any). */
  private async applyChanges(item: Exclude<ApplyItem, { kind: "ddl" }>): Promise<void> {
    this.origin = undefined;
    switch (item.kind) {
      case "rows":
        return this.applyRows(item.change, this.o.modes?.modeOf(item.change.db, item.change.table, item.gtid) ?? "exact", item.gtid);
      case "savepoint":
        await this.flush();
        return this.execute(`${item.rollback ? "ROLLBACK TO SAVEPOINT" : "SAVEPOINT"} ${wireId(item.name)}`);
      case "xa-prepare":
        this.xaKept.set(item.xid, item.changes);
        await this.flush();
        await this.send();
        await this.drain();
        return saveXa(this.o.conn, this.o.link, item.xid, item.gtid, item.changes);
      case "xa-end":
        return this.applyXaEnd(item);
      case "refuse":
        throw new DrError("APPLY_FAILED", item.message);
      case "commit":
        return;
    }
  }

  private async applyXaEnd(item: Extract<ApplyItem, { kind: "xa-end" }>): Promise<void> {
    await this.flush();
    await this.send();
    await this.drain();
    const changes = this.xaKept.get(item.xid) ?? (await loadXa<RowChange>(this.o.conn, this.o.link, item.xid));
    if (item.commit) {
      if (changes === undefined) {
        throw new DrError("APPLY_FAILED", `XA COMMIT ${item.xid} (GTID ${item.gtid}) commits a transaction this link did not see prepared (it was prepared before the link's starting position); recreate the link with --initial full.`);
      }
      for (const change of changes) await this.applyRows(change, "exact", item.gtid);
    }
    await this.flush();
    await this.send();
    await this.drain();
    await deleteXa(this.o.conn, this.o.link, item.xid);
    this.xaKept.delete(item.xid);
  }

  private async applyRows(change: RowChange, mode: ApplyMode, gtid: string): Promise<void> {
    if (mode === "skip") return;
    const plan = await this.o.plans.plan(change.db, change.table, change.columns).catch((err: unknown) => {
      // The catalog's refusals name the table and the fix; the GTID says where the link stopped.
      if (err instanceof DrError) throw new DrError(err.code, `${err.message.replace(/\.$/, "")}; the link stopped at GTID ${gtid}.`, { cause: err.cause, errno: err.errno });
      throw err;
    });
    this.origin = { gtid, db: change.db, table: change.table, op: change.op.toUpperCase() };
    this.batchRows += change.rows.length;
    const flags: SessionFlags = { foreignKeyChecks: change.foreignKeyChecks, uniqueChecks: change.uniqueChecks };
    if (mode === "idempotent") return this.applyIdempotent(change, plan, flags);
    const gather = this.gathering();
    const kinds = change.columns.kinds;
    switch (change.op) {
      case "insert": {
        for (const row of change.rows) {
          const footprint = gather ? plan.insertFootprint(row, flags) : inPlace(plan);
          if (needsRelaxedMode(row, kinds)) await this.place(relaxed({ sql: `${plan.insertPrefix}${plan.insertTuple(row, this.values)} /* mysql-dr applier */` }), footprint, flags);
          else await this.gather("insert", plan, plan.insertTuple(row, this.values), footprint, flags);
        }
        return;
      }
      case "delete": {
        for (const row of change.rows) {
          const footprint = gather ? plan.deleteFootprint(row) : inPlace(plan);
          if (plan.deleteInPrefix) await this.gather("delete-in", plan, plan.keyLiteral(row, this.values), footprint, flags);
          else await this.place([{ sql: plan.delete(row, this.values), expect: 1 }], footprint, flags);
        }
        return;
      }
      case "update": {
        const after = change.after!;
        for (let i = 0; i < change.rows.length; i++) {
          const kind = plan.updateKind(change.rows[i], after[i]);
          const footprint = gather ? plan.updateFootprint(kind, change.rows[i]) : inPlace(plan);
          // As an upsert it needs no foreign key check: none of its foreign key columns changes.
          if (gather && kind === "values" && plan.upsertUpdates && flags.uniqueChecks && !needsRelaxedMode(after[i], kinds)) {
            await this.gather("update", plan, plan.insertTuple(after[i], this.values), footprint, { foreignKeyChecks: false, uniqueChecks: true });
            continue;
          }
          const sql = plan.update(change.rows[i], after[i], this.values);
          await this.place(needsRelaxedMode(after[i], kinds) ? relaxed({ sql, expect: 1 }) : [{ sql, expect: 1 }], footprint, flags);
        }
        return;
      }
    }
  }

  /**
   * While a copied table catches up, a change may meet a row that the copy wrote later or not at
   * all: inserts become upserts of the new image, deletes by key may find nothing, and an update
   * moves the row it finds before upserting the new image (never a DELETE: ON DELETE CASCADE on
   * the DR server would remove children that the master only updated).
   */
  private async applyIdempotent(change: RowChange, plan: TablePlan, flags: SessionFlags): Promise<void> {
    const footprint = inPlace(plan);
    if (change.op === "delete") {
      for (const row of change.rows) await this.place([{ sql: plan.delete(row, this.values) }], footprint, flags);
      return;
    }
    for (let i = 0; i < change.rows.length; i++) {
      const image = change.op === "insert" ? change.rows[i] : change.after![i];
      if (change.op === "update") await this.place([{ sql: plan.update(change.rows[i], image, this.values) }], footprint, flags);
      await this.gather("upsert", plan, plan.insertTuple(image, this.values), footprint, flags);
    }
  }

  /**
   * Whether rows may be gathered past other changes and updates applied as upserts: not while
   * diagnosing, not once that failed in this run, and only while the batch can be replayed
   * without it (see keepForDiagnosis).
   */
  private gathering(): boolean {
    const on = !this.oneByOne && !this.gatherOff && this.batchItems !== undefined;
    if (on) this.batchGathered = true;
    return on;
  }

  /** Adds a row to a multi-row statement of the window. */
  private async gather(kind: GroupKind, plan: TablePlan, part: string, footprint: Footprint, flags: SessionFlags): Promise<void> {
    await this.preambleFirst();
    this.window.addRow(kind, plan, part, footprint, flags, this.origin!);
    await this.windowCheck();
  }

  /** Adds statements that run where they are in the window. */
  private async place(statements: Outgoing[], footprint: Footprint, flags: SessionFlags): Promise<void> {
    await this.preambleFirst();
    this.window.addStatements(statements.map((s) => ({ ...s, origin: this.origin })), footprint, flags);
    await this.windowCheck();
  }

  /** Large values are assembled before the row that refers to them: whatever the window holds goes first. */
  private async preambleFirst(): Promise<void> {
    const preamble = this.values.takePreamble();
    if (!preamble.length) return;
    await this.flush();
    for (const sql of preamble) await this.enqueue({ sql });
  }

  /**
   * A full window goes out as a round trip of its own, so the DR server works on it while the next
   * one is gathered (gathered statements are few: waiting for ROUND_TRIP_MAX_STATEMENTS of them
   * would send a whole batch at its end, the DR server idle while it was built).
   */
  private async windowCheck(): Promise<void> {
    if (!this.oneByOne && this.window.rows < WINDOW_MAX_ROWS && this.window.bytes < STATEMENT_MAX_BYTES) return;
    await this.flush();
    await this.send();
  }

  /** Moves the window's statements, in order, to the round trips being filled. */
  private async flush(): Promise<void> {
    if (this.window.empty) return;
    for (const statement of this.window.take(this.session)) await this.enqueue(statement);
  }

  /** Queues a statement; the queue goes out when it is full and before the batch commits. */
  private async execute(sql: string, expect?: number, origin = this.origin): Promise<void> {
    // Large values the statement refers to are assembled first (see ValueWriter).
    for (const preamble of this.values.takePreamble()) await this.enqueue({ sql: preamble });
    await this.enqueue({ sql, expect, origin });
  }

  private async enqueue(statement: Outgoing): Promise<void> {
    this.outgoing.push(statement);
    this.outgoingBytes += statement.sql.length;
    if (this.oneByOne || this.outgoing.length >= ROUND_TRIP_MAX_STATEMENTS || this.outgoingBytes >= STATEMENT_MAX_BYTES) await this.send();
  }

  /**
   * Sends the queued statements in one round trip without waiting for the answer, unless
   * ROUND_TRIPS_IN_FLIGHT are unanswered already (or while diagnosing, one row at a time).
   */
  private async send(): Promise<void> {
    const statements = this.outgoing;
    if (statements.length) {
      this.outgoing = [];
      this.outgoingBytes = 0;
      const origin = this.origin;
      const trip = this.o.conn.query(statements.map((s) => s.sql).join(";\n")).then(
        ([results]) => this.checkFound(statements, results),
        (err: unknown) => {
          // Answered after the applier moved on: the change being built then is this trip's.
          if (origin && err instanceof Object) sentBy.set(err, origin);
          throw err;
        },
      );
      // Its failure is seen where it is awaited (drain); until then it must not count as unhandled.
      trip.catch(() => undefined);
      this.inFlight.push(trip);
    }
    while (this.inFlight.length > (this.oneByOne ? 0 : ROUND_TRIPS_IN_FLIGHT)) await this.inFlight.shift();
  }

  /** Waits for every round trip sent: after it, the batch's statements all ran and were checked. */
  private async drain(): Promise<void> {
    while (this.inFlight.length) await this.inFlight.shift();
  }

  /** The rows each UPDATE or DELETE found, against the rows it had to change. */
  private checkFound(statements: Outgoing[], results: unknown): void {
    const headers = (statements.length === 1 ? [results] : results) as { affectedRows?: number }[];
    let missing = 0;
    let first: Origin | undefined;
    let skippable = true;
    statements.forEach((s, i) => {
      const short = s.expect === undefined ? 0 : Math.max(0, s.expect - (headers[i]?.affectedRows ?? 0));
      if (short && !first) first = s.origin;
      if (short && s.neverSkip) skippable = false;
      missing += short;
    });
    if (missing === 0) return;
    if (this.o.onMissingRow === "skip-and-count" && skippable) this.batchMissing += missing;
    else throw new MissingRows(first);
  }

  // ---------------------------------------------------------------------------------------------
  // Batches
  // ---------------------------------------------------------------------------------------------

  private async begin(): Promise<void> {
    if (this.inTransaction) return;
    this.releaseLock = await this.o.applyLock.acquire();
    await this.o.conn.query("START TRANSACTION /* mysql-dr applier */");
    this.inTransaction = true;
    this.batchStartedAt = Date.now();
  }

  private async commitBatch(): Promise<void> {
    if (!this.inTransaction) return;
    await this.guard(() => this.settle());
    const gtid = this.o.progress.toString();
    if (!this.session.foreignKeyChecks || !this.session.uniqueChecks) await this.o.conn.query(RESET_SESSION);
    this.session = { foreignKeyChecks: true, uniqueChecks: true };
    await advanceCheckpoint(this.o.conn, this.o.link, {
      sourceGtid: gtid,
      rows: this.batchRows,
      transactions: this.batchTransactions,
      missingRowsSkipped: this.batchMissing,
      sourceSeenGtid: this.o.sourceSeen(),
      clearsPendingDdl: this.batchConfirmsDdl,
      sourceTimeMs: Math.max(this.batchHeartbeatMs ?? 0, this.batchLastEventMs) || undefined,
    });
    await this.o.conn.query("COMMIT /* mysql-dr applier */");
    this.inTransaction = false;
    this.unlock();
    this.o.modes?.applied(gtid);
    this.o.onApplied({ rows: this.batchRows, transactions: this.batchTransactions, missingRowsSkipped: this.batchMissing, gtid, heartbeatMs: this.batchHeartbeatMs, lastEventMs: this.batchLastEventMs });
    this.resetBatch();
  }

  private resetBatch(): void {
    this.batchRows = 0;
    this.batchTransactions = 0;
    this.batchMissing = 0;
    this.batchHeartbeatMs = undefined;
    this.batchItems = [];
    this.batchRowsKept = 0;
    this.batchConfirmsDdl = false;
    this.batchGathered = false;
    this.clearStatements();
  }

  /** Forgets every statement not sent, and the round trips not answered. */
  private clearStatements(): void {
    this.window = new StatementWindow();
    this.outgoing = [];
    this.outgoingBytes = 0;
    this.inFlight = [];
    this.values.reset();
  }

  /** Sends everything built and checks every answer. */
  private async settle(): Promise<void> {
    await this.flush();
    await this.send();
    await this.drain();
  }

  /**
   * Keeps the item for a replay of the batch, unless the batch has grown too large for that: then
   * what was gathered so far is checked first, while a failure of it can still be replayed, and
   * the rest of the batch is applied in the master's order.
   */
  private async keepForDiagnosis(item: ApplyItem): Promise<void> {
    if (!this.batchItems) return;
    const weight = itemWeight(item);
    if (this.batchRowsKept + weight <= DIAGNOSIS_MAX_ROWS) {
      this.batchRowsKept += weight;
      this.batchItems.push(item);
      return;
    }
    if (this.batchGathered) await this.guard(() => this.settle());
    this.batchItems = undefined;
  }

  private unlock(): void {
    const release = this.releaseLock;
    this.releaseLock = undefined;
    release?.();
  }

  /**
   * Runs batch work; when it fails for a reason a retry cannot fix, rolls the batch back. A batch
   * that gathered rows is first applied again in the master's order (replayInOrder), so gathering
   * is never what stops a link; a failure without gathering is replayed one row at a time to say
   * which change failed and why.
   */
  private async guard(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      // The product's own errors already say what is wrong; a retry starts over from the checkpoint.
      this.inFlight = [];
      if (this.oneByOne || isRetryableApplyError(err) || err instanceof DrError) throw err;
      await this.o.conn.query("ROLLBACK /* mysql-dr applier */");
      if (this.batchGathered && this.batchItems) return this.guard(() => this.replayInOrder(err));
      // A missing row names its statement already; any other error needs the replay, when the batch was kept.
      throw err instanceof MissingRows || !this.batchItems ? describeFailure(err, err instanceof MissingRows ? err.origin : originOf(err, this.origin)) : await this.diagnose(err);
    }
  }

  /**
   * Applies the rolled-back batch again without gathering, for the rest of this run, and checks
   * it: the batch then goes on as if nothing had failed. A change that fails this way too is
   * diagnosed like any other failure.
   */
  private async replayInOrder(failure: unknown): Promise<void> {
    const items = this.batchItems!;
    this.gatherOff = true;
    this.batchRows = 0;
    this.batchMissing = 0;
    this.batchGathered = false;
    await this.restartTransaction();
    for (const item of items) if (item.kind !== "ddl") await this.applyChanges(item);
    await this.settle();
    const errno = (failure as { errno?: number }).errno;
    this.o.log?.("warn", "gathered statements failed where the same changes in the master's order apply; applying in the master's order for the rest of this run", {
      link: this.o.link,
      reason: failure instanceof MissingRows ? "an upsert did not change every row it had to" : errno !== undefined ? `error ${errno}` : "unknown",
    });
  }

  /** Rolled back: a new transaction, with nothing pending and the session as the applier keeps it. */
  private async restartTransaction(): Promise<void> {
    this.clearStatements();
    this.session = { foreignKeyChecks: true, uniqueChecks: true };
    await this.o.conn.query(`${RESET_SESSION}; START TRANSACTION /* mysql-dr applier */`);
  }

  /** Replays the failed batch's items one row at a time, in a transaction rolled back at the end. */
  private async diagnose(original: unknown): Promise<unknown> {
    const items = this.batchItems ?? [];
    this.resetBatch();
    this.oneByOne = true;
    try {
      await this.restartTransaction();
      for (const item of items) {
        if (item.kind === "ddl") continue;
        try {
          await this.applyChanges(item);
          await this.flush();
          await this.send();
        } catch (err) {
          if (isRetryableApplyError(err)) return err;
          return describeFailure(err, err instanceof MissingRows ? err.origin : originOf(err, this.origin));
        }
      }
      return describeFailure(original, undefined);
    } finally {
      this.oneByOne = false;
      this.resetBatch();
      await this.o.conn.query("ROLLBACK /* mysql-dr applier */").catch(() => undefined);
      this.inTransaction = false;
      this.unlock();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // DDL
  // ---------------------------------------------------------------------------------------------

  /**
   * DDL commits by itself, so it is bracketed: the mark of the DDL in flight (with a digest of what
   * it touches) is written first, the DDL runs, then the checkpoint moves past it. A replayed DDL
   * runs again unless the digest shows it already ran.
   */
  private async applyDdl(item: Extract<ApplyItem, { kind: "ddl" }>): Promise<void> {
    await this.commitBatch();
    const { conn, link } = this.o;
    // Held from before the DDL until the checkpoint confirms it (or, for CREATE TABLE ... SELECT,
    // until its rows commit): whoever takes the lock finds the DR server exactly at the
    // checkpoint, never with a DDL applied that the checkpoint does not cover.
    this.releaseLock = await this.o.applyLock.acquire();
    let gtid: string;
    try {
      const recovered = this.recoveredDdl?.gtid === item.gtid ? this.recoveredDdl : null;
      this.recoveredDdl = null;
      const alreadyRan = recovered !== null && !item.ddl.idempotent && (await definitionsDigest(conn, item.ddl.touches)) !== recovered.before;
      if (!alreadyRan) {
        await markDdlPending(conn, link, { gtid: item.gtid, before: await definitionsDigest(conn, item.ddl.touches) });
        await this.runDdl(item);
      }
      this.o.plans.invalidate();
      if (!item.ends) {
        // CREATE TABLE ... SELECT: the rows that follow commit with the checkpoint that confirms it.
        await conn.query("START TRANSACTION /* mysql-dr applier */");
        this.inTransaction = true;
        this.batchStartedAt = Date.now();
        this.batchConfirmsDdl = true;
        return;
      }
      this.o.progress.add(item.gtid);
      gtid = this.o.progress.toString();
      await conn.query("START TRANSACTION /* mysql-dr applier */");
      await advanceCheckpoint(conn, link, { sourceGtid: gtid, rows: 0, transactions: 1, clearsPendingDdl: true });
      await conn.query("COMMIT /* mysql-dr applier */");
    } catch (err) {
      this.unlock();
      throw err;
    }
    this.unlock();
    this.o.modes?.applied(gtid);
    this.o.onApplied({ rows: 0, transactions: 1, missingRowsSkipped: 0, gtid, lastEventMs: item.timestampMs });
    if (this.atStop()) await this.waitAtStop();
  }

  /** Runs the DDL under the master session's context, then returns the session to the applier's. */
  private async runDdl(item: Extract<ApplyItem, { kind: "ddl" }>): Promise<void> {
    const { conn } = this.o;
    const { statement, rewritten } = item.ddl;
    try {
      await this.useDatabase(statement.schema);
      for (const sql of contextStatements(statement.context, this.o.flavor, this.o.charsetOf)) await conn.query(sql);
      // A rewritten statement is UTF-8 text; the master's own runs in the client character set it logged.
      if (rewritten !== undefined) await conn.query("SET NAMES utf8mb4");
      await conn.query(rewritten !== undefined ? wire(rewritten) : statement.raw.toString("latin1"));
    } catch (err) {
      const e = err as { errno?: number; message?: string };
      if (isRetryableApplyError(err) || e.errno === undefined) throw err;
      // It failed, so it did not run (DDL is atomic): nothing is left in flight.
      await markDdlPending(conn, this.o.link, null).catch(() => undefined);
      throw new DrError("APPLY_FAILED", `DDL from the master failed on the DR server at GTID ${item.gtid} (${serverMessage(err)}): ${statementForMessage(rewritten ?? statement.sql)}; make the DR server's objects match the master's, then resume the link.`, { cause: err, errno: e.errno });
    } finally {
      await conn.query(`SET NAMES utf8mb4; SET SESSION sql_mode = '${WRITE_SQL_MODE}', time_zone = '+00:00', foreign_key_checks = 1, unique_checks = 1, sql_auto_is_null = 0, timestamp = DEFAULT, lc_time_names = DEFAULT, auto_increment_increment = DEFAULT, auto_increment_offset = DEFAULT`).catch(() => undefined);
      this.session = { foreignKeyChecks: true, uniqueChecks: true };
    }
  }

  /**
   * The master session's default database. When the DR server lacks it, the session gets none
   * (dropping the current database clears it), so an unqualified name fails as on a native
   * replica instead of landing in whatever database the session used before.
   */
  private async useDatabase(schema: string): Promise<void> {
    const { conn } = this.o;
    if (schema !== "") {
      try {
        await conn.query(`USE ${wireId(schema)}`);
        return;
      } catch (err) {
        if ((err as { errno?: number }).errno !== 1049) throw err;
      }
    }
    const scratch = wireId(scratchSchema(this.o.link));
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${scratch}; USE ${scratch}; DROP DATABASE ${scratch}`);
  }
}

/** Statements that run where they are: nothing moves past them. */
function inPlace(plan: TablePlan): Footprint {
  return { table: plan.id, barrier: true };
}

/** A statement holding ENUM's empty value, which strict mode refuses: under the relaxed mode. */
function relaxed(statement: Outgoing): Outgoing[] {
  return [{ sql: `SET SESSION sql_mode = '${RELAXED_WRITE_SQL_MODE}'` }, statement, { sql: `SET SESSION sql_mode = '${WRITE_SQL_MODE}'` }];
}

/** The change whose round trip failed, for errors answered after the applier moved on. */
const sentBy = new WeakMap<object, Origin>();

function originOf(err: unknown, fallback: Origin | undefined): Origin | undefined {
  return (err instanceof Object && sentBy.get(err)) || fallback;
}

function isRetryableApplyError(err: unknown): boolean {
  const e = err as { errno?: number; fatal?: boolean; code?: string };
  return (e.errno !== undefined && RETRYABLE_APPLY_ERRNOS.has(e.errno)) || e.fatal === true || e.code === "PROTOCOL_CONNECTION_LOST";
}

/** One sentence naming the change that failed: GTID, table, operation (never values). */
function describeFailure(err: unknown, origin: Origin | undefined): unknown {
  if (err instanceof DrError) return err;
  const where = origin === undefined ? "A change of the batch" : `The ${origin.op} of ${quoteName(origin.db, origin.table)} in GTID ${origin.gtid} (row key values redacted)`;
  if (err instanceof MissingRows) {
    return new DrError("APPLY_FAILED", `${where} found no row to change on the DR server (native replication stops here too, error 1032), so the DR copy has diverged from the master; re-copy the table (remove it from the link and add it back with 'mysql-dr link update'), or set onMissingRow to skip-and-count to skip such changes.`, { errno: 1032 });
  }
  const e = err as { errno?: number };
  return new DrError("APPLY_FAILED", `${where} failed on the DR server: ${serverMessage(err, true)}; the DR copy has diverged from the master (fix or re-copy the table, then resume the link).`, { cause: err, errno: e.errno });
}

function quoteName(db: string, table: string): string {
  return `\`${db}\`.\`${table}\``;
}

/** Server error numbers whose messages quote row values: described without them. */
const VALUE_QUOTING_ERRORS: Record<number, string> = {
  1062: "a row with the same unique key already exists (error 1062)",
  1292: "a value is not valid for its column (error 1292)",
  1366: "a value is not valid for its column (error 1366)",
  1265: "a value does not fit its column (error 1265)",
  1406: "a value is too long for its column (error 1406)",
  1264: "a value is out of range for its column (error 1264)",
  1452: "a foreign key's parent row does not exist (error 1452)",
  1451: "a row still has children through a foreign key (error 1451)",
  1586: "a row with the same unique key already exists (error 1586)",
  1557: "a foreign key cascade would duplicate a unique key (error 1557)",
  1761: "a foreign key cascade would duplicate a unique key (error 1761)",
  1762: "a foreign key cascade would duplicate a unique key (error 1762)",
  1300: "a string is not valid in its character set (error 1300)",
  1367: "a number is not valid (error 1367)",
  1690: "a value is out of range (error 1690)",
  1918: "a value cannot be converted (error 1918)",
  3140: "a JSON value is not valid (error 3140)",
};

/**
 * The server's message, without row values: known value-quoting errors get a fixed sentence.
 * `hideQuoted` hides every quoted part too, for errors of row changes, whose messages may quote
 * values in ways not listed (names go too, but the origin names the table); a DDL's errors quote
 * the names the user needs. mysql2 decoded the message as latin1 on a wire connection.
 */
function serverMessage(err: unknown, hideQuoted = false): string {
  const e = err as { errno?: number; message?: string };
  if (e.errno !== undefined && VALUE_QUOTING_ERRORS[e.errno]) return VALUE_QUOTING_ERRORS[e.errno];
  const decoded = Buffer.from(e.message ?? String(err), "latin1").toString("utf8");
  const text = hideQuoted ? decoded.replace(/'(?:[^'\\]|\\.|'')*'/g, "'?'") : decoded;
  return e.errno !== undefined ? `${text} (error ${e.errno})` : text;
}

