/**
 * Reads a master's binlog from a GTID position with zongji and turns its events into the daemon's
 * own `SourceEvent`s. The only file that knows zongji's event types. `pause()`/`resume()` give the
 * backpressure zongji lacks: they stop reading from the socket, so the master's stream waits in
 * TCP buffers instead of in this process's memory.
 */
import type ZongJi from "@vlasky/zongji" with { "resolution-mode": "import" };
import type { AnyBinlogEvent, RowData, UpdateRowData } from "@vlasky/zongji" with { "resolution-mode": "import" };
import { type ServerAddress } from "../core/connection-url";
import { connectionOptions } from "../core/db";
import { loadZongji } from "../core/gtid";
import type { RowChange, RowOperation, SourceEvent } from "./change-events";

export interface BinlogReaderOptions {
  source: ServerAddress;
  /** Executed GTIDs to resume after: a MySQL set or a MariaDB position. */
  fromGtid: string;
  /** The replica server_id this stream announces to the master; unique per link. */
  replicaServerId: number;
  onEvent(event: SourceEvent): void;
  onError(err: Error): void;
}

const EVENTS = [
  // Compressed payloads and partial JSON updates are reported by zongji as errors naming the
  // master setting to change; they stop the link.
  "gtid", "mariadbgtid", "query", "xid", "tablemap", "writerows", "updaterows", "deleterows",
];

export class BinlogReader {
  private zongji?: ZongJi;
  private paused = false;

  constructor(private readonly options: BinlogReaderOptions) {}

  async start(): Promise<void> {
    const { default: ZongJiClass } = await loadZongji();
    const zongji = new ZongJiClass({ ...connectionOptions(this.options.source) });
    this.zongji = zongji;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      zongji.on("ready", () => {
        ready = true;
        resolve();
      });
      zongji.on("error", (err: Error) => {
        if (!ready) reject(err);
        else this.options.onError(err);
      });
      zongji.on("binlog", (event: AnyBinlogEvent) => {
        const translated = translate(event);
        if (translated) this.options.onEvent(translated);
      });
      zongji.start({
        gtidSet: this.options.fromGtid,
        serverId: this.options.replicaServerId,
        includeEvents: EVENTS,
      });
    });
    // The binlog connection ends when the master goes away; zongji reports it as an error.
    zongji.connection?.on("end", () => {
      if (!zongji.stopped) this.options.onError(Object.assign(new Error("binlog connection closed by the master"), { code: "PROTOCOL_CONNECTION_LOST" }));
    });
  }

  /** Stops reading from the socket until `resume()`. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.zongji?.connection?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.zongji?.connection?.resume();
  }

  stop(): void {
    const zongji = this.zongji;
    this.zongji = undefined;
    if (!zongji) return;
    zongji.removeAllListeners("binlog");
    zongji.on("error", () => undefined);
    try {
      zongji.stop();
    } catch {
      // Already closed: nothing to release.
    }
  }
}

function translate(event: AnyBinlogEvent): SourceEvent | undefined {
  const timestampMs = event.timestamp;
  switch (event.getEventName()) {
    case "gtid":
    case "mariadbgtid":
      return { kind: "gtid", gtid: String(event.gtid), timestampMs };
    case "xid":
      return { kind: "commit", timestampMs };
    case "query": {
      const q = event as Extract<AnyBinlogEvent, { query: string; schema: string }>;
      return { kind: "query", schema: q.schema, sql: q.query, timestampMs };
    }
    case "writerows":
    case "deleterows":
    case "updaterows":
      return { kind: "rows", change: rowChange(event), timestampMs };
    default:
      return undefined;
  }
}

function rowChange(event: AnyBinlogEvent): RowChange {
  const e = event as Extract<AnyBinlogEvent, { tableId: number; rows: unknown[] }>;
  const entry = e.tableMap[e.tableId];
  const columns = entry.columnSchemas.map((c) => c.COLUMN_NAME);
  const op: RowOperation = event.getEventName() === "writerows" ? "insert" : event.getEventName() === "deleterows" ? "delete" : "update";
  const values = (row: RowData) => columns.map((c) => row[c]);
  if (op === "update") {
    const rows = e.rows as UpdateRowData[];
    return { db: entry.parentSchema, table: entry.tableName, op, columns, rows: rows.map((r) => values(r.before)), after: rows.map((r) => values(r.after)) };
  }
  return { db: entry.parentSchema, table: entry.tableName, op, columns, rows: (e.rows as RowData[]).map(values) };
}
