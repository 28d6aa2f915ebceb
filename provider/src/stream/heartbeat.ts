/**
 * Lag measurement. The heartbeat writer stamps a row on the master with the daemon's clock; the
 * assembler recognizes the row when it comes back through the binlog and the applier reports it
 * applied. Lag is the age of the oldest change written but not yet applied: 0 when caught up,
 * millisecond resolution. One writer per daemon and master login serves every link reading from
 * that login (HeartbeatWriters). Without write rights on the master, binlog event timestamps
 * (second resolution, a lower bound) stand in, and status says so.
 */
import * as crypto from "node:crypto";
import { type ServerAddress, formatHostPort } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError } from "../core/errors";

export const HEARTBEAT_TABLE = { db: "mysql_dr", table: "heartbeat" } as const;
export const HEARTBEAT_INTERVAL_MS = 250;
export const LAG_SOURCES = ["heartbeat", "event-timestamps"] as const;
export type LagSource = (typeof LAG_SOURCES)[number];

/** A live writer's row changes every HEARTBEAT_INTERVAL_MS; after this, an unchanged row is a dead one. */
const CLAIM_CHECK_MS = 1_000;

/**
 * The heartbeat row's key: one per daemon and master login, so the links a daemon runs from one
 * master with one user share one row (a row per link made 32 links write 128 commits a second on
 * the master, each read back by all 32), and two daemons on one master never take each other's
 * markers for their own. The user is hashed to keep the key within the column's 64 characters.
 */
export function heartbeatKey(daemonId: string, user: string): string {
  return `${daemonId}/${crypto.createHash("sha256").update(user).digest("hex").slice(0, 12)}`;
}

/** The per-link key of releases before the row was shared, still removed when its link is deleted. */
export function linkHeartbeatKey(link: string, daemonId: string): string {
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

/**
 * Which heartbeat writer serves links reading from `master`: links share one only when they would
 * open the same session (server, user, password, TLS settings), so a link's ssl-mode and
 * credentials hold for its heartbeat too. Kept in memory only. Writers of one user share the row.
 */
function connectionIdentity(master: ServerAddress): string {
  return JSON.stringify([formatHostPort(master), master.user, master.password, master.tls ?? null]);
}

/** A link's share of its master login's heartbeat: markers go to its tracker until released. */
export interface HeartbeatLease {
  /** The row's key, which the link's assembler recognizes in the binlog. */
  readonly key: string;
  readonly source: LagSource;
  release(): Promise<void>;
}

/** The daemon's heartbeat writers, one per master login, each shared by the links that read from that login. */
export class HeartbeatWriters {
  private readonly writers = new Map<string, { writer: HeartbeatWriter; started: Promise<void> }>();

  /** `owner` names this process in the row, so a second process writing it is caught (HeartbeatWriter). */
  constructor(private readonly daemonId: string, private readonly owner: string) {}

  /** Starts the login's writer if it is not running, and stamps `tracker` with its markers from now on. */
  async acquire(master: ServerAddress, tracker: LagTracker): Promise<HeartbeatLease> {
    const identity = connectionIdentity(master);
    let entry = this.writers.get(identity);
    if (!entry) {
      const writer = new HeartbeatWriter(master, heartbeatKey(this.daemonId, master.user), this.owner);
      const started = writer.start();
      const created = { writer, started };
      this.writers.set(identity, created);
      // A writer that failed to start, or fell back to event timestamps (no right to write), is
      // not shared: the next link to start tries again, and finds the rights granted meanwhile.
      const forget = () => this.writers.get(identity) === created && this.writers.delete(identity);
      started.then(() => writer.source === "heartbeat" || forget(), forget);
      entry = created;
    }
    const { writer, started } = entry;
    writer.trackers.add(tracker);
    try {
      await started;
    } catch (err) {
      writer.trackers.delete(tracker);
      throw err;
    }
    return {
      key: writer.key,
      source: writer.source,
      release: async () => {
        writer.trackers.delete(tracker);
        if (writer.trackers.size || this.writers.get(identity)?.writer !== writer) return;
        this.writers.delete(identity);
        await writer.stop();
      },
    };
  }
}

/** How long after a failed beat the writer opens a new session (a master that is down is not asked four times a second). */
const RECONNECT_AFTER_MS = 1_000;

export class HeartbeatWriter {
  private conn?: Connection;
  private timer?: NodeJS.Timeout;
  private writing = false;
  /** When a beat last failed; the next session is opened RECONNECT_AFTER_MS later. */
  private lostAt = 0;
  source: LagSource = "heartbeat";
  lastError?: string;
  /** The links' trackers: each beat is a marker for every one. */
  readonly trackers = new Set<LagTracker>();

  /**
   * `key` names the row (heartbeatKey); `owner` the writing process, so a second process that
   * writes the same row (a daemon started from a copy of another's state directory) is caught.
   */
  constructor(
    private readonly master: ServerAddress,
    readonly key: string,
    private readonly owner: string,
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
      await this.stamp(this.conn);
    } catch (err) {
      if (!NO_WRITE_RIGHTS_ERRNOS.has((err as { errno?: number }).errno ?? -1)) throw err;
      this.source = "event-timestamps";
      this.lastError = (err as Error).message;
      await this.conn?.end().catch(() => undefined);
      this.conn = undefined;
      return;
    }
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
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
        new DrError("CONFLICT", `Another daemon (${second.owner}) is writing this daemon's heartbeat row on this master, so it has this daemon's identity; it was probably started from a copy of this daemon's state directory: give each daemon its own state directory (delete the daemon-id file in the copy).`),
        { retryable: false },
      );
    }
  }

  /** Stamps the row; a marker for every tracker once the master has it. */
  private async stamp(conn: Connection): Promise<void> {
    const now = Date.now();
    await conn.query(`INSERT INTO ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} (link, ts_ms, owner) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ts_ms = VALUES(ts_ms), owner = VALUES(owner) /* mysql-dr heartbeat */`, [this.key, now, this.owner]);
    for (const tracker of this.trackers) tracker.written(now);
  }

  /**
   * A beat that fails is no marker (the links' lag grows meanwhile). The writer outlives the
   * pipelines of the links that share it, so after a failure it opens a new session for a later beat.
   */
  private async beat(): Promise<void> {
    if (this.writing || !this.timer) return;
    this.writing = true;
    try {
      if (!this.conn) {
        if (Date.now() - this.lostAt < RECONNECT_AFTER_MS) return;
        const conn = await openConnection(this.master, "source");
        if (!this.timer) return conn.destroy();
        this.conn = conn;
      }
      await this.stamp(this.conn);
    } catch (err) {
      // Whatever failed (a lost connection, one the statement time limit destroyed, a refused
      // write), the next beat starts on a new session: a broken one never heals by itself.
      this.lastError = (err as Error).message;
      this.conn?.destroy();
      this.conn = undefined;
      this.lostAt = Date.now();
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
