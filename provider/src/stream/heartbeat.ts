/**
 * Lag measurement. The heartbeat writer stamps a row on the master with the daemon's clock; the
 * assembler recognizes the row when it comes back through the binlog and the applier reports it
 * applied. Lag is the age of the oldest change written but not yet applied: 0 when caught up,
 * millisecond resolution. Without write rights on the master, binlog event timestamps (second
 * resolution, a lower bound) stand in, and status says so.
 */
import type { ServerAddress } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError } from "../core/errors";

export const HEARTBEAT_TABLE = { db: "mysql_dr", table: "heartbeat" } as const;
export const HEARTBEAT_INTERVAL_MS = 250;
export const LAG_SOURCES = ["heartbeat", "event-timestamps"] as const;
export type LagSource = (typeof LAG_SOURCES)[number];

/** A live writer's row changes every HEARTBEAT_INTERVAL_MS; after this, an unchanged row is a dead one. */
const CLAIM_CHECK_MS = 1_000;

/**
 * The heartbeat row's key: per link and per daemon, so two daemons that run links of the same
 * name from one master (each to its own DR server) never take each other's markers for their own.
 */
export function heartbeatKey(link: string, daemonId: string): string {
  return `${link}@${daemonId}`;
}

/** Errors that mean "no right to write the heartbeat", not "the master is down". */
const NO_WRITE_RIGHTS_ERRNOS = new Set([1044, 1142, 1227, 1290, 1792, 1836]);

/** Markers written (in order) and applied; lag is now minus the oldest marker not yet applied. */
export class LagTracker {
  private pending: number[] = [];
  private head = 0;

  written(markerMs: number): void {
    this.pending.push(markerMs);
  }

  /** Everything up to and including `markerMs` is applied. */
  applied(markerMs: number): void {
    while (this.head < this.pending.length && this.pending[this.head] <= markerMs) this.head++;
    if (this.head > 4096) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  lagMs(nowMs: number): number {
    return this.head < this.pending.length ? Math.max(0, nowMs - this.pending[this.head]) : 0;
  }

  reset(): void {
    this.pending = [];
    this.head = 0;
  }
}

export class HeartbeatWriter {
  private conn?: Connection;
  private timer?: NodeJS.Timeout;
  private writing = false;
  source: LagSource = "heartbeat";
  lastError?: string;

  /**
   * `key` names the row (heartbeatKey); `owner` the writing process, so a second process that
   * writes the same row (a daemon started from a copy of another's state directory) is caught.
   */
  constructor(
    private readonly master: ServerAddress,
    private readonly key: string,
    private readonly owner: string,
    private readonly tracker: LagTracker,
  ) {}

  /** Prepares the table; falls back to event timestamps when the master refuses the write. */
  async start(): Promise<void> {
    try {
      this.conn = await openConnection(this.master, "source");
      await this.conn.query(`CREATE DATABASE IF NOT EXISTS ${HEARTBEAT_TABLE.db} /* mysql-dr heartbeat */`);
      await this.conn.query(`CREATE TABLE IF NOT EXISTS ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} (link VARCHAR(64) NOT NULL PRIMARY KEY, ts_ms BIGINT NOT NULL, owner VARCHAR(255) NULL) ENGINE=InnoDB /* mysql-dr heartbeat */`);
      const [columns] = await this.conn.query(`SHOW COLUMNS FROM ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} LIKE 'owner' /* mysql-dr heartbeat */`);
      if (!(columns as unknown[]).length) await this.conn.query(`ALTER TABLE ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} ADD COLUMN owner VARCHAR(255) NULL /* mysql-dr heartbeat */`);
      await this.refuseLiveOtherWriter();
      await this.beat();
    } catch (err) {
      if (!NO_WRITE_RIGHTS_ERRNOS.has((err as { errno?: number }).errno ?? -1)) throw err;
      this.source = "event-timestamps";
      this.lastError = (err as Error).message;
      await this.conn?.end().catch(() => undefined);
      this.conn = undefined;
      return;
    }
    this.timer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
  }

  /** Another process writing this row right now shares this daemon's identity: refuse before both corrupt each other's lag and binlog dump. */
  private async refuseLiveOtherWriter(): Promise<void> {
    const read = async () => {
      const [rows] = await this.conn!.query(`SELECT owner, ts_ms FROM ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} WHERE link = ? /* mysql-dr heartbeat */`, [this.key]);
      return (rows as { owner: string | null; ts_ms: string | number }[])[0];
    };
    const first = await read();
    if (!first?.owner || first.owner === this.owner) return;
    await new Promise((resolve) => setTimeout(resolve, CLAIM_CHECK_MS));
    const second = await read();
    if (second?.owner === first.owner && String(second.ts_ms) !== String(first.ts_ms)) {
      throw Object.assign(
        new DrError("CONFLICT", `Another daemon (${second.owner}) is running link ${this.key.split("@")[0]} from this master with the same daemon identity and replica server_id; it was probably started from a copy of this daemon's state directory: give each daemon its own state directory (delete the daemon-id file in the copy).`),
        { retryable: false },
      );
    }
  }

  private async beat(): Promise<void> {
    if (!this.conn || this.writing) return;
    this.writing = true;
    try {
      const now = Date.now();
      await this.conn.query(`INSERT INTO ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} (link, ts_ms, owner) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ts_ms = VALUES(ts_ms), owner = VALUES(owner) /* mysql-dr heartbeat */`, [this.key, now, this.owner]);
      this.tracker.written(now);
    } finally {
      this.writing = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    // destroy, not end: a master that went away would leave end() waiting for its answer.
    this.conn?.destroy();
    this.conn = undefined;
  }
}
