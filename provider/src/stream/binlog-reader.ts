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
 *
 * Most rows never reach zongji's decoding: rows events of tables whose column types rows-event.ts
 * reads are decoded from their packets, to the values zongji gives with the adjusted table map,
 * and a table map identical to its table's previous one is not parsed again.
 */
import type ZongJi from "@vlasky/zongji" with { "resolution-mode": "import" };
import type { AnyBinlogEvent, BinlogEventByName, RowData, TableMapEntry, UpdateRowData } from "@vlasky/zongji" with { "resolution-mode": "import" };
import type { ConnectionOptions } from "mysql2";
import { type ServerAddress, formatHostPort } from "../core/connection-url";
import { CONTROL_QUERY_TIMEOUT_MS, unresponsive, withTlsFallback } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import { loadZongji } from "../core/gtid";
import { PLAIN, type ValueKind } from "../sql/literals";
import type { RowChange, RowOperation, RowValues, SourceEvent, TableColumns } from "./change-events";
import { decodeQueryEvent, statementText } from "./query-event";
import { COLUMN_TYPE, FRACTION_BYTES, type RawPacket, pad, type ValueReader, decodeRowsEvent, eventTableId, planReaders, rowsEventKind, tableMapBody } from "./rows-event";

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
  /**
   * Whether the rows of `db`.`table` are wanted (default: every table's). The rows of other
   * tables are skipped undecoded, their table maps read no further than the table's name: a link
   * of one database among many on a busy master decodes only its own rows.
   */
  rowsWanted?(db: string, table: string): boolean;
  /**
   * The PROCESSLIST state of the master's thread for connection `id` (this dump); null when the
   * master has no such thread. Asked when the stream has been silent too long: a master still
   * reading its binlog for this dump (the GTID seek through a long binlog file sends nothing,
   * heartbeats included) is working, not unresponsive. Without it, silence alone ends the stream.
   */
  dumpState?(id: number): Promise<string | null>;
  /** How long the stream may be silent before the master is asked or, without `dumpState`, the stream ends (SOURCE_SILENCE_LIMIT_MS). */
  silenceLimitMs?: number;
  /**
   * Who decodes rows events: "packet" (default) reads the tables it can from the packet's bytes
   * (rows-event.ts) and leaves the rest to zongji; "zongji" leaves all to zongji, the reference the
   * tests compare the other with.
   */
  rowDecoder?: "packet" | "zongji";
}

/**
 * The master sends a heartbeat event on an idle dump connection every period (as a replica's
 * MASTER_HEARTBEAT_PERIOD asks), so silence longer than SOURCE_SILENCE_LIMIT_MS means the master
 * or the path to it hung, not that nobody writes. Native replication waits slave_net_timeout
 * (60 s) for this; a DR link should say so within seconds.
 */
export const BINLOG_HEARTBEAT_PERIOD_MS = 1_000;
export const SOURCE_SILENCE_LIMIT_MS = 5_000;
const SILENCE_CHECK_MS = 500;
/**
 * A dump thread in this state has sent everything and waits for new events (MariaDB: "Master has
 * sent all binlog to slave; waiting for more updates", older: "...waiting for binlog to be
 * updated"; MySQL 8.0.26+: "Source has sent all binlog to replica; ..."): it sends heartbeats,
 * so silence then is the path's or the master's fault. Any other state is the master at work.
 */
const DUMP_CAUGHT_UP = /has sent all binlog/i;

const EVENTS = [
  // Compressed payloads and partial JSON updates are reported by zongji as errors naming the
  // master setting to change; they stop the link.
  "gtid", "mariadbgtid", "query", "xid", "xaprepare", "tablemap", "writerows", "updaterows", "deleterows",
];

/** Rows event flags (the master session's foreign_key_checks=0 and unique_checks=0). */
const NO_FOREIGN_KEY_CHECKS_F = 0x2;
const RELAXED_UNIQUE_CHECKS_F = 0x4;

const T = COLUMN_TYPE;
const STRING_TYPES = new Set<number>([T.VARCHAR, T.VAR_STRING, T.STRING, T.VARCHAR_COMPRESSED]);
const BLOB_TYPES = new Set<number>([T.TINY_BLOB, T.MEDIUM_BLOB, T.LONG_BLOB, T.BLOB, T.BLOB_COMPRESSED]);
/** MariaDB types carried as binary strings whose text form zongji already writes exactly. */
const FORMATTED_STRING_TYPES = /^(uuid|inet4|inet6)\b/;
/** MariaDB 5.3-era fractional TIME, which zongji decodes correctly itself. */
const HIRES_TIME = /^time\(\d\)/;

/** zongji reads an ENUM value as `values[index - 1]` and a SET as `values[bit]` joined with commas. */
const ENUM_INDEXES = indexList((i) => i + 1);
const SET_BITS = indexList((i) => i);

type Decode = (value: unknown) => unknown;

/** What the reader adds to zongji's table map entry: how to write each column back, and how to finish decoding it. */
interface Adjusted {
  columns: TableColumns;
  decode: (Decode | undefined)[];
  /** Readers of every column from a rows event's bytes; undefined when zongji must decode the table's rows. */
  readers?: ValueReader[];
  /** The body of the table map this entry was made from (`tableMapBody`). */
  tableMapBody?: Buffer;
}
type PatchedEntry = TableMapEntry & { mysqlDr?: Adjusted };

/** The packet zongji is handling while it emits that packet's events (it emits synchronously). */
interface PacketTap {
  current?: RawPacket;
  /** The packet is an event the reader takes care of itself: zongji is to skip it. */
  skip?: boolean;
}

export class BinlogReader {
  private zongji?: ZongJi;
  private paused = false;
  /** When bytes last arrived on the dump connection (or reading resumed after a pause). */
  private lastHeardAt = 0;
  private silenceTimer?: NodeJS.Timeout;
  /** When the master last said its dump thread was at work while the stream was silent. */
  private excusedAt = 0;
  /** Rows events this reader decoded from their packets (the rest went through zongji). */
  decodedFromPackets = 0;
  /** Silences the master explained by its dump thread being at work (the stream went on). */
  silencesExcused = 0;

  constructor(private readonly options: BinlogReaderOptions) {}

  /** Milliseconds since the master was last heard on the dump connection; 0 while reading is paused. */
  silenceMs(now = Date.now()): number {
    return this.paused || !this.lastHeardAt ? 0 : Math.max(0, now - this.lastHeardAt);
  }

  async start(): Promise<void> {
    await withTlsFallback(this.options.source, (options) => this.startStream(options));
  }

  /** Opens zongji's connections with `options` and starts the dump; a failed start leaves nothing open. */
  private async startStream(options: ConnectionOptions): Promise<void> {
    const { default: ZongJiClass } = await loadZongji();
    const zongji = new ZongJiClass(options);
    this.zongji = zongji;
    const tap: PacketTap = {};
    try {
      await new Promise<void>((resolve, reject) => {
        let ready = false;
        // zongji's own queries have no time limit: a master that hangs during the preamble must not hang the link.
        const startTimer = setTimeout(() => reject(unresponsive(this.options.source, "source", CONTROL_QUERY_TIMEOUT_MS)), CONTROL_QUERY_TIMEOUT_MS);
        zongji.on("ready", () => {
          ready = true;
          clearTimeout(startTimer);
          resolve();
        });
        zongji.on("error", (err: Error) => {
          if (ready) return this.options.onError(err);
          clearTimeout(startTimer);
          reject(err);
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
        tapPackets(zongji, tap, this.options.rowDecoder === "zongji" ? undefined : (packet) => this.ownEvent(zongji, packet));
        if (this.options.rowsWanted) skipUnwantedTables(zongji, this.options.rowsWanted);
        this.askForHeartbeats(zongji);
      });
    } catch (err) {
      this.stop();
      throw err;
    }
    this.watchForSilence();
    // The binlog connection ends when the master goes away; zongji reports it as an error.
    zongji.connection?.on("end", () => {
      if (!zongji.stopped) this.options.onError(Object.assign(new Error("binlog connection closed by the master"), { code: "PROTOCOL_CONNECTION_LOST" }));
    });
  }

  /**
   * Queued on the dump connection before zongji's preamble (it runs its own queries
   * asynchronously, then the dump command), so the setting is in place when the dump starts.
   * Both flavours read @master_heartbeat_period, in nanoseconds.
   */
  private askForHeartbeats(zongji: ZongJi): void {
    const connection = zongji.connection as unknown as { query(sql: string, cb: (err: Error | null) => void): void; stream?: NodeJS.EventEmitter } | null;
    if (!connection) throw new Error("zongji opened no binlog connection");
    connection.query(`SET @master_heartbeat_period = ${BINLOG_HEARTBEAT_PERIOD_MS * 1_000_000}`, (err) => {
      // A failed connection fails zongji's start on its own (and PREFERRED retries in plain); only a refused setting is news.
      if (err && !(err as { fatal?: boolean }).fatal) this.options.onError(err);
    });
    this.lastHeardAt = Date.now();
    connection.stream?.on("data", () => (this.lastHeardAt = Date.now()));
  }

  /**
   * Ends the stream when nothing arrived for the silence limit and the master cannot explain it:
   * its dump thread is gone, waits with everything sent (its heartbeats did not arrive), or the
   * question itself fails (dumpState's session has a time limit).
   */
  private watchForSilence(): void {
    const limit = this.options.silenceLimitMs ?? SOURCE_SILENCE_LIMIT_MS;
    let asking = false;
    const endSilent = (silent: number, why: string) => {
      clearInterval(this.silenceTimer);
      this.options.onError(Object.assign(
        new DrError("UNREACHABLE", `Source unresponsive: no binlog event or heartbeat from the master at ${formatHostPort(this.options.source)} for ${Math.round(silent / 1000)} s${why}; reconnecting.`),
        { retryable: true },
      ));
    };
    this.silenceTimer = setInterval(() => {
      const now = Date.now();
      if (asking || this.silenceMs(now) <= limit || now - this.excusedAt <= limit) return;
      const id = this.zongji?.connection?.threadId;
      if (!this.options.dumpState || id === undefined || id === null) return endSilent(this.silenceMs(now), "");
      asking = true;
      this.options.dumpState(id).then(
        (state) => {
          const silent = this.silenceMs();
          if (!this.zongji || silent <= limit) return;
          if (state !== null && !DUMP_CAUGHT_UP.test(state)) {
            this.excusedAt = Date.now();
            this.silencesExcused++;
            return;
          }
          endSilent(silent, state === null ? " (the master has no dump thread for this stream)" : " (the master says it sent everything)");
        },
        (err: Error) => this.zongji && endSilent(this.silenceMs(), ` (and it did not say why: ${errorMessage(err)})`),
      ).finally(() => (asking = false));
    }, SILENCE_CHECK_MS);
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
    // Silence is counted from here: nothing could be heard while reading was paused.
    this.lastHeardAt = Date.now();
    this.zongji?.connection?.resume();
  }

  stop(): void {
    clearInterval(this.silenceTimer);
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
        if (entry) {
          adjustTableMap(entry);
          const body = tap.current && tableMapBody(tap.current, checksum);
          if (body && entry.mysqlDr && !entry.mysqlDr.tableMapBody) entry.mysqlDr.tableMapBody = Buffer.from(body);
        }
        return undefined;
      }
      case "writerows":
      case "deleterows":
      case "updaterows": {
        const e = event as BinlogEventByName<"writerows" | "deleterows" | "updaterows">;
        const entry = adjusted(e.tableMap[e.tableId] as PatchedEntry);
        const values = (row: RowData) => entry.mysqlDr.columns.names.map((c, i) => (entry.mysqlDr.decode[i] ? entry.mysqlDr.decode[i]!(row[c]) : row[c]));
        const name = e.getEventName();
        const op: RowOperation = name === "writerows" ? "insert" : name === "deleterows" ? "delete" : "update";
        const rows = op === "update" ? (e.rows as UpdateRowData[]).map((r) => values(r.before)) : (e.rows as RowData[]).map(values);
        const after = op === "update" ? (e.rows as UpdateRowData[]).map((r) => values(r.after)) : undefined;
        return { kind: "rows", change: rowChange(entry, op, e.flags, rows, after, tap.current && tap.current.end - tap.current.start), timestampMs };
      }
      default:
        return undefined;
    }
  }

  /**
   * What the reader does itself with `packet`, for zongji to skip: a table map identical to the
   * one its table's entry was made from needs nothing (zongji would parse it and, on MySQL with
   * binlog_row_metadata=FULL and on MariaDB, build the entry again for every transaction); a rows
   * event of a table with readers is decoded here, by the function returned, to be run once
   * zongji has handled (skipped) the packet. Undefined for any other packet: zongji decodes it.
   */
  private ownEvent(zongji: ZongJi, packet: RawPacket): (() => void) | undefined {
    // Not ready before the dump runs, nor once stopped: the packets still in the chunk being read
    // then go to zongji, which drops them, so nothing is handed on after stop().
    if (!zongji.ready) return undefined;
    const tableMap = tableMapBody(packet, zongji.useChecksum);
    if (tableMap) {
      const known = (zongji.tableMap[eventTableId(packet)] as PatchedEntry | undefined)?.mysqlDr?.tableMapBody;
      return known?.equals(tableMap) ? () => undefined : undefined;
    }
    if (!rowsEventKind(packet)) return undefined;
    const entry = zongji.tableMap[eventTableId(packet)] as PatchedEntry | undefined;
    const readers = entry?.mysqlDr?.readers;
    if (!entry || !readers) return undefined;
    const raw = { buffer: packet.buffer, start: packet.start, end: packet.end };
    return () => {
      try {
        const decoded = decodeRowsEvent(raw, zongji.useChecksum, readers);
        this.decodedFromPackets++;
        this.options.onEvent({ kind: "rows", change: rowChange(adjusted(entry), decoded.op, decoded.flags, decoded.rows, decoded.after, raw.end - raw.start), timestampMs: decoded.timestampMs });
      } catch (err) {
        this.options.onError(new Error(`cannot read the rows of ${entry.parentSchema}.${entry.tableName} from the binlog: ${(err as Error).message}`, { cause: err }));
      }
    };
  }
}

/**
 * Keeps the packet being handled in `tap` while zongji handles it: mysql2 passes every packet of
 * the binlog connection to `handlePacket`, and zongji emits a Query event before returning.
 *
 * A packet that `ownEvent` takes is still handed to zongji first (mysql2 counts every packet,
 * and zongji's bookkeeping sees it), which skips it unparsed as it skips events it was not asked
 * for; then the reader's own work runs, in stream order. Only then: handing a change on can pause
 * the connection (backpressure), and a packet arriving at a paused connection is queued by mysql2
 * and comes back here when the connection resumes, so it is taken then, and only then.
 */
function tapPackets(zongji: ZongJi, tap: PacketTap, ownEvent?: (packet: RawPacket) => (() => void) | undefined): void {
  const connection = zongji.connection as unknown as { handlePacket(packet: RawPacket | undefined): unknown; _paused: boolean } | null;
  if (!connection) throw new Error("zongji opened no binlog connection");
  const handle = connection.handlePacket.bind(connection);
  const internals = zongji as unknown as { _skipEvent(name: string): boolean };
  const skipEvent = internals._skipEvent.bind(zongji);
  internals._skipEvent = (name) => tap.skip === true || skipEvent(name);
  connection.handlePacket = (packet) => {
    const own = packet !== undefined && !connection._paused ? ownEvent?.(packet) : undefined;
    tap.skip = own !== undefined;
    tap.current = packet;
    let handled: unknown;
    try {
      handled = handle(packet);
    } finally {
      tap.current = undefined;
      tap.skip = false;
    }
    own?.();
    return handled;
  };
}

/**
 * Has zongji skip the table maps of tables whose rows are not wanted, which skips their rows
 * events too (zongji drops rows without a table map entry, and `ownEvent` leaves them to it).
 * The answer is kept per table: zongji asks at every table map, one per table per transaction.
 */
function skipUnwantedTables(zongji: ZongJi, wanted: (db: string, table: string) => boolean): void {
  const answers = new Map<string, boolean>();
  (zongji as unknown as { _skipSchema(db: string, table: string): boolean })._skipSchema = (db, table) => {
    const key = `${db}\0${table}`;
    let skip = answers.get(key);
    if (skip === undefined) answers.set(key, (skip = !wanted(db, table)));
    return skip;
  };
}

/**
 * Makes zongji read the table's values in an exact form, and records how to write each back:
 * text and spatial values as raw bytes, ENUM and SET as indexes, TIME as its raw bytes (zongji
 * decodes negative TIMEs wrongly: -12:30:00 as -12:29:64), YEAR 0000 as 0 (zongji adds 1900).
 */
function adjustTableMap(entry: PatchedEntry): void {
  if (entry.mysqlDr || !entry.columns) return;
  const decode: (Decode | undefined)[] = [];
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
        decode[i] = setMask;
        return { kind: "set" };
      case T.GEOMETRY:
        // Read as the BLOB it is stored as: the server's internal form (SRID + WKB), written back as is.
        column.type = T.LONG_BLOB;
        column.charset = null;
        return { kind: "binary" };
      case T.TIME2: {
        // zongji reads a BIT column's bytes as they are: here the TIME2 value's 3 to 6 bytes.
        const decimals = Number(column.metadata.decimals ?? 0);
        column.type = T.BIT;
        column.metadata = { bits: 8 * (3 + FRACTION_BYTES[decimals]) };
        decode[i] = (v) => (Buffer.isBuffer(v) ? time2(v, decimals) : v);
        return PLAIN;
      }
      case T.TIME:
        if (HIRES_TIME.test(schema.COLUMN_TYPE)) return PLAIN;
        column.type = T.BIT;
        column.metadata = { bits: 24 };
        decode[i] = (v) => (Buffer.isBuffer(v) ? classicTime(v) : v);
        return PLAIN;
      case T.YEAR:
        decode[i] = (v) => (v === 1900 ? 0 : v);
        return PLAIN;
      case T.BIT:
        return { kind: "binary" };
      case T.JSON:
        return { kind: "json" };
      default:
        return PLAIN;
    }
  });
  entry.mysqlDr = { columns: { names: entry.columns.map((c) => c.name), kinds }, decode, readers: planReaders(entry.columns, entry.columnSchemas, decode) };
}

function adjusted(entry: PatchedEntry): PatchedEntry & { mysqlDr: Adjusted } {
  if (!entry.mysqlDr) throw new Error(`no table map was read for the rows of ${entry.parentSchema}.${entry.tableName}`);
  return entry as PatchedEntry & { mysqlDr: Adjusted };
}

function rowChange(entry: PatchedEntry & { mysqlDr: Adjusted }, op: RowOperation, flags: number, rows: RowValues[], after: RowValues[] | undefined, bytes: number | undefined): RowChange {
  return {
    db: entry.parentSchema,
    table: entry.tableName,
    op,
    columns: entry.mysqlDr.columns,
    foreignKeyChecks: (flags & NO_FOREIGN_KEY_CHECKS_F) === 0,
    uniqueChecks: (flags & RELAXED_UNIQUE_CHECKS_F) === 0,
    bytes,
    rows,
    ...(after ? { after } : {}),
  };
}

/** A SET read as "0,3" (member bits) becomes its bit mask. */
function setMask(value: unknown): unknown {
  if (typeof value !== "string") return value;
  let mask = 0n;
  for (const bit of value.split(",")) if (bit !== "") mask |= 1n << BigInt(bit);
  return mask.toString();
}

const TIMEF_INT_OFS = 0x800000n;
const TIMEF_OFS = 0x800000000000n;

/**
 * A TIME2 value (MySQL 5.6.4+ and MariaDB's default format): big-endian, offset so it sorts as
 * unsigned, fractions in 1, 2 or 3 bytes (sql-common/my_time.c, my_time_packed_from_binary).
 */
export function time2(bytes: Buffer, decimals: number): string {
  let packed: bigint;
  if (decimals >= 5) packed = BigInt(bytes.readUIntBE(0, 6)) - TIMEF_OFS;
  else {
    let int = BigInt(bytes.readUIntBE(0, 3)) - TIMEF_INT_OFS;
    let frac = 0n;
    if (decimals > 0) {
      const size = FRACTION_BYTES[decimals];
      frac = BigInt(bytes.readUIntBE(3, size));
      if (int < 0n && frac !== 0n) {
        int++;
        frac -= 1n << BigInt(8 * size);
      }
      frac *= decimals <= 2 ? 10_000n : 100n;
    }
    packed = (int << 24n) + frac;
  }
  const negative = packed < 0n;
  if (negative) packed = -packed;
  const hms = packed >> 24n;
  const micros = packed % (1n << 24n);
  const text = `${negative ? "-" : ""}${pad((hms >> 12n) % 1024n, 2)}:${pad((hms >> 6n) % 64n, 2)}:${pad(hms % 64n, 2)}`;
  return decimals > 0 ? `${text}.${pad(micros, 6)}` : text;
}

/** A classic TIME value: a signed little-endian 3-byte integer HHMMSS. */
export function classicTime(bytes: Buffer): string {
  const value = bytes.readIntLE(0, 3);
  const abs = Math.abs(value);
  return `${value < 0 ? "-" : ""}${pad(BigInt(Math.floor(abs / 10000)), 2)}:${pad(BigInt(Math.floor(abs / 100) % 100), 2)}:${pad(BigInt(abs % 100), 2)}`;
}

/** An array whose element at any integer index (negative ones too) is `at(index)`. */
function indexList(at: (index: number) => number): string[] {
  return new Proxy([] as string[], {
    get: (target, prop, receiver) => (typeof prop === "string" && /^-?\d+$/.test(prop) ? at(Number(prop)) : Reflect.get(target, prop, receiver)),
  });
}
