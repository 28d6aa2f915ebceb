/**
 * Replays `ApplyItem`s on the DR server. Source transactions are grouped into target transactions
 * (BEGIN, rows, checkpoint, COMMIT), so throughput is not bound by one commit per source
 * transaction, and the checkpoint is exact: it commits with the rows it covers. A batch commits
 * when the queue runs dry (low latency when caught up) or grows large (bounded transaction size).
 * A large source transaction streams through in bounded statements and commits once, at its end.
 */
import type { Mutex } from "async-mutex";
import { STATEMENT_MAX_BYTES, STATEMENT_MAX_ROWS, estimateBytes, multiRowSql } from "../sql/statements";
import type { Connection } from "../core/db";
import { quoteId } from "../core/db";
import { DrError } from "../core/errors";
import type { GtidProgress } from "../core/gtid";
import type { BoundedQueue } from "./bounded-queue";
import type { ApplyItem, RowChange, RowValues } from "./change-events";
import { advanceCheckpoint, markDdlPending } from "../dr-state/checkpoint-store";
import type { TablePlan, TablePlans } from "./table-plans";
import type { ApplyMode, ApplyModes } from "./apply-modes";

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

/** Errors a replayed DDL may raise when it already ran before a crash ("already done"). */
const DDL_ALREADY_DONE_ERRNOS = new Set([
  1007, // database exists
  1008, // database does not exist
  1050, // table exists
  1051, // unknown table
  1054, // unknown column
  1060, // duplicate column name
  1061, // duplicate key name
  1091, // cannot drop field or key
  1146, // table does not exist
  1826, // duplicate foreign key constraint name
]);

export interface AppliedBatch {
  rows: number;
  transactions: number;
  gtid: string;
  heartbeatMs?: number;
  lastEventMs: number;
}

export interface ApplierOptions {
  conn: Connection;
  link: string;
  plans: TablePlans;
  progress: GtidProgress;
  /** The DDL that was in flight when the previous run stopped, if any. */
  recoveredDdlGtid: string | null;
  /** Per-table treatment while tables are being copied; all exact without it. */
  modes?: ApplyModes;
  /** Held from a batch's first statement to its commit; the copier takes it for its chunks. */
  applyLock: Mutex;
  /** The master's position as last polled, recorded with each batch. */
  sourceSeen(): string | null;
  onApplied(batch: AppliedBatch): void;
}

type PendingStatement = { kind: "insert" | "upsert" | "delete"; plan: TablePlan; params: unknown[]; rows: number; bytes: number };

export class Applier {
  private inTransaction = false;
  private batchRows = 0;
  private batchTransactions = 0;
  private batchHeartbeatMs?: number;
  private batchLastEventMs = 0;
  private pending?: PendingStatement;
  /** Statements built but not sent yet, in order; sent together in one round trip. */
  private outgoing: { sql: string; params: unknown[]; table: string }[] = [];
  private outgoingBytes = 0;
  private batchStartedAt = 0;
  private releaseLock?: () => void;

  constructor(private readonly o: ApplierOptions) {}

  /** Applies items until the queue is closed; rejects with the reason it was closed, or the apply error. */
  async run(queue: BoundedQueue<ApplyItem>): Promise<never> {
    for (;;) {
      const item = await queue.take();
      switch (item.kind) {
        case "rows":
          await this.begin();
          await this.applyRows(item.change, this.o.modes?.modeOf(item.change.db, item.change.table, item.gtid) ?? "exact");
          break;
        case "commit":
          await this.begin();
          this.o.progress.add(item.gtid);
          this.batchTransactions++;
          this.batchLastEventMs = item.timestampMs;
          if (item.heartbeatMs !== undefined) this.batchHeartbeatMs = item.heartbeatMs;
          if (queue.isEmpty() || this.batchRows >= BATCH_MAX_ROWS || this.batchTransactions >= BATCH_MAX_TRANSACTIONS || Date.now() - this.batchStartedAt >= BATCH_MAX_AGE_MS) {
            await this.commitBatch();
          }
          break;
        case "ddl":
          await this.commitBatch();
          this.releaseLock = await this.o.applyLock.acquire();
          try {
            await this.applyDdl(item);
          } finally {
            this.unlock();
          }
          break;
      }
    }
  }

  private async begin(): Promise<void> {
    if (this.inTransaction) return;
    this.releaseLock = await this.o.applyLock.acquire();
    await this.o.conn.query("START TRANSACTION /* mysql-dr applier */");
    this.inTransaction = true;
    this.batchStartedAt = Date.now();
  }

  private unlock(): void {
    const release = this.releaseLock;
    this.releaseLock = undefined;
    release?.();
  }

  private async commitBatch(): Promise<void> {
    if (!this.inTransaction) return;
    await this.flush();
    await this.send();
    const gtid = this.o.progress.toString();
    await advanceCheckpoint(this.o.conn, this.o.link, gtid, this.batchRows, this.batchTransactions, this.o.sourceSeen());
    await this.o.conn.query("COMMIT /* mysql-dr applier */");
    this.inTransaction = false;
    this.unlock();
    this.o.modes?.applied(gtid);
    this.o.onApplied({ rows: this.batchRows, transactions: this.batchTransactions, gtid, heartbeatMs: this.batchHeartbeatMs, lastEventMs: this.batchLastEventMs });
    this.batchRows = 0;
    this.batchTransactions = 0;
    this.batchHeartbeatMs = undefined;
  }

  private async applyRows(change: RowChange, mode: ApplyMode): Promise<void> {
    if (mode === "skip") return;
    const plan = await this.o.plans.plan(change.db, change.table, change.columns);
    this.batchRows += change.rows.length;
    if (mode === "idempotent") return this.applyIdempotent(change, plan);
    if (change.op === "insert") {
      for (const row of change.rows) await this.append("insert", plan, pick(row, plan.writeIdx));
      return;
    }
    if (change.op === "delete" && plan.deleteInPrefix) {
      for (const row of change.rows) await this.append("delete", plan, [row[plan.keyIdx[0]]]);
      return;
    }
    await this.flush();
    if (change.op === "delete") {
      for (const row of change.rows) await this.execute(plan.deleteSql, pick(row, plan.keyIdx), plan);
      return;
    }
    const after = change.after!;
    for (let i = 0; i < change.rows.length; i++) {
      await this.execute(plan.updateSql, [...pick(after[i], plan.writeIdx), ...pick(change.rows[i], plan.keyIdx)], plan);
    }
  }

  /**
   * While a copied table catches up, a change may meet a row that the copy wrote later or not at
   * all: inserts and updates become upserts of the after image, deletes by key may find nothing.
   */
  private async applyIdempotent(change: RowChange, plan: TablePlan): Promise<void> {
    if (change.op === "delete") {
      await this.flush();
      for (const row of change.rows) await this.execute(plan.deleteSql, pick(row, plan.keyIdx), plan);
      return;
    }
    for (let i = 0; i < change.rows.length; i++) {
      const image = change.op === "insert" ? change.rows[i] : change.after![i];
      if (change.op === "update" && plan.keyIdx.some((k) => !sameValue(change.rows[i][k], image[k]))) {
        await this.flush();
        await this.execute(plan.deleteSql, pick(change.rows[i], plan.keyIdx), plan);
      }
      await this.append("upsert", plan, pick(image, plan.writeIdx));
    }
  }

  /** Adds a row to the pending multi-row statement, flushing it when the table, kind or size changes. */
  private async append(kind: PendingStatement["kind"], plan: TablePlan, params: unknown[]): Promise<void> {
    if (this.pending && (this.pending.kind !== kind || this.pending.plan !== plan)) await this.flush();
    const p = (this.pending ??= { kind, plan, params: [], rows: 0, bytes: 0 });
    for (const v of params) p.params.push(v);
    p.rows++;
    p.bytes += estimateBytes(params);
    if (p.rows >= STATEMENT_MAX_ROWS || p.bytes >= STATEMENT_MAX_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const sql = p.kind === "delete"
      ? `${p.plan.deleteInPrefix}(${Array(p.rows).fill("?").join(", ")}) /* mysql-dr applier */`
      : multiRowSql(p.plan.insertPrefix, p.plan.rowPlaceholders, p.rows, p.kind === "upsert" ? p.plan.upsertSuffix : "");
    await this.execute(sql, p.params, p.plan);
  }

  /** Queues a statement; the queue goes out when it is full and before the batch commits. */
  private async execute(sql: string, params: unknown[], plan: TablePlan): Promise<void> {
    this.outgoing.push({ sql, params, table: plan.table });
    this.outgoingBytes += sql.length + estimateBytes(params);
    if (this.outgoing.length >= ROUND_TRIP_MAX_STATEMENTS || this.outgoingBytes >= STATEMENT_MAX_BYTES) await this.send();
  }

  private async send(): Promise<void> {
    const statements = this.outgoing;
    if (!statements.length) return;
    this.outgoing = [];
    this.outgoingBytes = 0;
    try {
      await this.o.conn.query(statements.map((s) => s.sql).join(";\n"), statements.flatMap((s) => s.params));
    } catch (err) {
      throw describeApplyError(err, [...new Set(statements.map((s) => s.table))].join(" or "));
    }
  }

  /** DDL commits implicitly, so it is bracketed: mark pending, run, then record it applied. */
  private async applyDdl(item: Extract<ApplyItem, { kind: "ddl" }>): Promise<void> {
    const { conn, link } = this.o;
    const replay = item.gtid === this.o.recoveredDdlGtid;
    await markDdlPending(conn, link, item.gtid);
    try {
      if (item.schema) await conn.query(`USE ${quoteId(item.schema)}`).catch((err) => {
        if ((err as { errno?: number }).errno !== 1049) throw err;
      });
      await conn.query(item.sql);
    } catch (err) {
      const errno = (err as { errno?: number }).errno ?? -1;
      if (!(replay && DDL_ALREADY_DONE_ERRNOS.has(errno))) {
        throw new DrError("APPLY_FAILED", `DDL from the master failed on the DR server (${(err as Error).message}): ${truncate(item.sql)}`, { cause: err, errno });
      }
    }
    this.o.plans.invalidate();
    this.o.progress.add(item.gtid);
    const gtid = this.o.progress.toString();
    await conn.query("START TRANSACTION /* mysql-dr applier */");
    await advanceCheckpoint(conn, link, gtid, 0, 1);
    await markDdlPending(conn, link, null);
    await conn.query("COMMIT /* mysql-dr applier */");
    this.o.onApplied({ rows: 0, transactions: 1, gtid, lastEventMs: item.timestampMs });
  }
}

function pick(row: RowValues, idx: number[]): unknown[] {
  return idx.map((i) => row[i]);
}

function sameValue(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

/** Errors that retrying cannot fix keep their errno (for classification) and name the table. */
function describeApplyError(err: unknown, table: string): unknown {
  const e = err as { errno?: number; code?: string; message?: string; fatal?: boolean };
  if (e.errno === undefined || e.fatal) return err;
  const retryable = [1205, 1213, 1927, 2006, 2013].includes(e.errno);
  if (retryable) return err;
  return new DrError("APPLY_FAILED", `Applying a change to ${table} failed on the DR server: ${e.message}; the DR copy has diverged from the master (fix or re-copy the table, then resume the link).`, { cause: err, errno: e.errno });
}

function truncate(sql: string): string {
  return sql.length > 300 ? `${sql.slice(0, 300)}...` : sql;
}
