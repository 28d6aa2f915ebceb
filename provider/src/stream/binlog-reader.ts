/**
 * Reads a master's binlog from a GTID position with zongji and turns its events into the daemon's
 * own `SourceEvent`s. The only file that knows zongji's event types. `pause()`/`resume()` give the
 * backpressure zongji lacks: they stop reading from the socket, so the master's stream waits in
 * TCP buffers instead of in this process's memory.
 *
 * Values must reach the DR server exactly as the master stored them, which zongji's decoding does
 * not do for every type: it decodes text through iconv (MySQL's latin1 bytes 0x81, 0x8D, 0x8F,
 * 0x90 and 0x9D become U+FFFD), maps ENUM's empty value to undefined, parses GEOMETRY into shapes
 * and decodes Query events as UTF-8. So each table map is adjusted before its rows are decoded
 * (text and spatial columns come as raw bytes, ENUM and SET as indexes), and Query events are
 * decoded from the packet's own bytes (query-event.ts).
 */
import type ZongJi from "@vlasky/zongji" with { "resolution-mode": "import" };
import type { AnyBinlogEvent, BinlogEventByName, RowData, TableMapEntry, UpdateRowData } from "@vlasky/zongji" with { "resolution-mode": "import" };
import { type ServerAddress } from "../core/connection-url";
import { connectionOptions } from "../core/db";
import { loadZongji } from "../core/gtid";
import { PLAIN, type ValueKind } from "../sql/literals";
import type { RowChange, RowOperation, SourceEvent, TableColumns } from "./change-events";
import { decodeQueryEvent, statementText } from "./query-event";

export interface BinlogReaderOptions {
  source: ServerAddress;
  /** Executed GTIDs to resume after: a MySQL set or a MariaDB position. */
  fromGtid: string;
  /** The replica server_id this stream announces to the master; unique per link. */
  replicaServerId: number;
  /** The master's character set for a collation id (to read statements logged by non-UTF-8 clients). */
  charsetOf(collationId: number): string | undefined;
  onEvent(event: SourceEvent): void;
  onError(err: Error): void;
}

const EVENTS = [
  // Compressed payloads and partial JSON updates are reported by zongji as errors naming the
  // master setting to change; they stop the link.
  "gtid", "mariadbgtid", "query", "xid", "xaprepare", "tablemap", "writerows", "updaterows", "deleterows",
];

/** Rows event flags (the master session's foreign_key_checks=0 and unique_checks=0). */
const NO_FOREIGN_KEY_CHECKS_F = 0x2;
const RELAXED_UNIQUE_CHECKS_F = 0x4;

/** Column type codes of the binlog's table map. */
const T = {
  YEAR: 13, BIT: 16, VARCHAR: 15, BLOB_COMPRESSED: 140, VARCHAR_COMPRESSED: 141, JSON: 245, ENUM: 247, SET: 248,
  TINY_BLOB: 249, MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const;
const STRING_TYPES = new Set<number>([T.VARCHAR, T.VAR_STRING, T.STRING, T.VARCHAR_COMPRESSED]);
const BLOB_TYPES = new Set<number>([T.TINY_BLOB, T.MEDIUM_BLOB, T.LONG_BLOB, T.BLOB, T.BLOB_COMPRESSED]);
/** MariaDB types carried as binary strings whose text form zongji already writes exactly. */
const FORMATTED_STRING_TYPES = /^(uuid|inet4|inet6)\b/;

/** A YEAR column: written like any number, read with zongji's +1900 undone for 0000. */
const YEAR: ValueKind = { kind: "plain" };

/** zongji reads an ENUM value as `values[index - 1]` and a SET as `values[bit]` joined with commas. */
const ENUM_INDEXES = indexList((i) => i + 1);
const SET_BITS = indexList((i) => i);

/** The adjusted columns of a table map entry (the entry is zongji's; this rides along on it). */
type PatchedEntry = TableMapEntry & { mysqlDrColumns?: TableColumns };

/** The packet zongji is handling while it emits that packet's events (it emits synchronously). */
interface PacketTap {
  current?: { buffer: Buffer; start: number; end: number };
}

export class BinlogReader {
  private zongji?: ZongJi;
  private paused = false;

  constructor(private readonly options: BinlogReaderOptions) {}

  async start(): Promise<void> {
    const { default: ZongJiClass } = await loadZongji();
    const zongji = new ZongJiClass({ ...connectionOptions(this.options.source) });
    this.zongji = zongji;
    const tap: PacketTap = {};
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
        try {
          const translated = this.translate(event, tap, zongji.useChecksum);
          if (translated) this.options.onEvent(translated);
        } catch (err) {
          this.options.onError(err as Error);
        }
      });
      zongji.start({
        gtidSet: this.options.fromGtid,
        serverId: this.options.replicaServerId,
        includeEvents: EVENTS,
      });
      tapPackets(zongji, tap);
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

  private translate(event: AnyBinlogEvent, tap: PacketTap, checksum: boolean): SourceEvent | undefined {
    const timestampMs = event.timestamp;
    switch (event.getEventName()) {
      case "gtid":
        return { kind: "gtid", gtid: String(event.gtid), timestampMs, standalone: undefined, xa: false };
      case "mariadbgtid": {
        const e = event as BinlogEventByName<"mariadbgtid">;
        return { kind: "gtid", gtid: String(e.gtid), timestampMs, standalone: e.standalone, xa: e.preparedXa };
      }
      case "xid":
        return { kind: "xid", timestampMs };
      case "xaprepare":
        return { kind: "xa-prepare", onePhase: (event as BinlogEventByName<"xaprepare">).onePhase, timestampMs };
      case "query": {
        const packet = tap.current;
        if (!packet) throw new Error("the raw bytes of a Query event were not available");
        const decoded = decodeQueryEvent(packet.buffer.subarray(packet.start + 5, packet.end), checksum);
        const sql = statementText(decoded.raw, decoded.context, this.options.charsetOf);
        return { kind: "query", statement: { ...decoded, sql }, timestampMs };
      }
      case "tablemap": {
        const e = event as BinlogEventByName<"tablemap">;
        const entry = e.tableMap[e.tableId] as PatchedEntry | undefined;
        if (entry) adjustTableMap(entry);
        return undefined;
      }
      case "writerows":
      case "deleterows":
      case "updaterows":
        return { kind: "rows", change: rowChange(event as BinlogEventByName<"writerows" | "deleterows" | "updaterows">), timestampMs };
      default:
        return undefined;
    }
  }
}

/**
 * Keeps the packet being handled in `tap` while zongji handles it: mysql2 passes every packet of
 * the binlog connection to `handlePacket`, and zongji emits a Query event before returning.
 */
function tapPackets(zongji: ZongJi, tap: PacketTap): void {
  const connection = zongji.connection as unknown as { handlePacket(packet: PacketTap["current"]): unknown } | null;
  if (!connection) throw new Error("zongji opened no binlog connection");
  const handle = connection.handlePacket.bind(connection);
  connection.handlePacket = (packet) => {
    tap.current = packet;
    try {
      return handle(packet);
    } finally {
      tap.current = undefined;
    }
  };
}

/** Makes zongji read the table's values in an exact form, and records how to write each back. */
function adjustTableMap(entry: PatchedEntry): void {
  if (entry.mysqlDrColumns || !entry.columns) return;
  const kinds: ValueKind[] = entry.columns.map((column, i) => {
    const schema = entry.columnSchemas[i];
    const charset = schema.CHARACTER_SET_NAME;
    const text = charset !== null && charset !== "binary";
    if (STRING_TYPES.has(column.type)) {
      if (FORMATTED_STRING_TYPES.test(schema.COLUMN_TYPE)) return PLAIN;
      // zongji returns a VARBINARY's bytes as they are; CHAR/VARCHAR text would be decoded.
      if (text) schema.COLUMN_TYPE = "varbinary";
      return text ? { kind: "text", charset } : { kind: "binary" };
    }
    if (BLOB_TYPES.has(column.type)) {
      column.charset = null;
      return text ? { kind: "text", charset } : { kind: "binary" };
    }
    switch (column.type) {
      case T.ENUM:
        schema.ENUM_VALUES = ENUM_INDEXES;
        return { kind: "enum" };
      case T.SET:
        schema.SET_VALUES = SET_BITS;
        return { kind: "set" };
      case T.GEOMETRY:
        // Read as the BLOB it is stored as: the server's internal form (SRID + WKB), written back as is.
        column.type = T.LONG_BLOB;
        column.charset = null;
        return { kind: "binary" };
      case T.BIT:
        return { kind: "binary" };
      case T.YEAR:
        return YEAR;
      case T.JSON:
        return { kind: "json" };
      default:
        return PLAIN;
    }
  });
  entry.mysqlDrColumns = { names: entry.columns.map((c) => c.name), kinds };
}

function rowChange(event: BinlogEventByName<"writerows" | "deleterows" | "updaterows">): RowChange {
  const entry = event.tableMap[event.tableId] as PatchedEntry;
  const columns = entry.mysqlDrColumns;
  if (!columns) throw new Error(`no table map was read for the rows of ${entry.parentSchema}.${entry.tableName}`);
  const name = event.getEventName();
  const op: RowOperation = name === "writerows" ? "insert" : name === "deleterows" ? "delete" : "update";
  const values = (row: RowData) => columns.names.map((c, i) => exactValue(row[c], columns.kinds[i]));
  const base = {
    db: entry.parentSchema,
    table: entry.tableName,
    op,
    columns,
    foreignKeyChecks: (event.flags & NO_FOREIGN_KEY_CHECKS_F) === 0,
    uniqueChecks: (event.flags & RELAXED_UNIQUE_CHECKS_F) === 0,
  };
  if (op === "update") {
    const rows = event.rows as UpdateRowData[];
    return { ...base, rows: rows.map((r) => values(r.before)), after: rows.map((r) => values(r.after)) };
  }
  return { ...base, rows: (event.rows as RowData[]).map(values) };
}

/**
 * A SET read as "0,3" (member bits) becomes its bit mask; YEAR 0000 (stored as 0, read as
 * 0 + 1900) becomes 0 again; everything else is already exact.
 */
function exactValue(value: unknown, kind: ValueKind): unknown {
  if (kind === YEAR) return value === 1900 ? 0 : value;
  if (kind.kind !== "set" || typeof value !== "string") return value;
  let mask = 0n;
  for (const bit of value.split(",")) if (bit !== "") mask |= 1n << BigInt(bit);
  return mask.toString();
}

/** An array whose element at any integer index (negative ones too) is `at(index)`. */
function indexList(at: (index: number) => number): string[] {
  return new Proxy([] as string[], {
    get: (target, prop, receiver) => (typeof prop === "string" && /^-?\d+$/.test(prop) ? at(Number(prop)) : Reflect.get(target, prop, receiver)),
  });
}
