import * as net from "node:net";
import * as mysql from "mysql2/promise";
import { type ServerAddress, formatHostPort } from "./connection-url";
import { DrError } from "./errors";
import { isTlsHandshakeError, isTlsUnsupported, mysql2Ssl, tlsOrDefault } from "./tls";

export type Connection = mysql.Connection;

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long a statement may go unanswered before the session is given up: a server that hangs
 * (SIGSTOP, a dead network path that still holds the socket open) must never hang the daemon.
 * Control statements (inspection, checkpoint, locks, prechecks) answer in milliseconds; the
 * pipeline's data sessions pass their own limit (copy, verify) or none where a watchdog on
 * another session stands in (the applier: a DDL may legitimately run for hours).
 */
export const CONTROL_QUERY_TIMEOUT_MS = 30_000;
/** Copy and verification read and write chunks of up to 10k rows: generous, still bounded. */
export const DATA_QUERY_TIMEOUT_MS = 10 * 60_000;

/**
 * Options shared by every connection the product opens, so values read by queries and by the
 * binlog reader agree: exact strings for DECIMAL and 64-bit integers, temporal values as strings
 * (microseconds and zero dates survive), UTC for TIMESTAMP conversion. TLS as the address's
 * ssl-mode says; `plain` is the PREFERRED fallback (see withTlsFallback).
 */
export function connectionOptions(address: ServerAddress, { plain = false } = {}): mysql.ConnectionOptions {
  const ssl = plain ? undefined : mysql2Ssl(tlsOrDefault(address.tls));
  return {
    host: address.host,
    port: address.port,
    user: address.user,
    password: address.password,
    ...(ssl && { ssl }),
    ...(ssl?.verifyIdentity && net.isIP(address.host) !== 0 && { stream: socketNamingIp(address) }),
    charset: "utf8mb4_general_ci",
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    timezone: "Z",
    jsonStrings: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    multipleStatements: false,
    // mysql2 sizes every connection's prepared-statement cache up front (16,000 entries: about
    // 0.5 MiB of arrays per connection). The daemon's statements are text; at 32 links (about 8
    // sessions each) the default caches alone held 127 MiB of the daemon's heap.
    maxPreparedStatements: PREPARED_STATEMENT_CACHE,
  };
}

/** Prepared statements kept per connection (only the demo's writer prepares any). */
const PREPARED_STATEMENT_CACHE = 16;

/**
 * mysql2 gives Node no server name when the host is an IP address, and Node then checks the
 * certificate's identity against "localhost": a certificate naming localhost would pass for any
 * address, and one naming only the IP would fail. Node takes the name from the socket's `_host`
 * (set by net only after a DNS lookup), so for VERIFY_IDENTITY to an IP address the socket is
 * opened here with it set.
 */
function socketNamingIp(address: ServerAddress): () => net.Socket {
  return () => {
    const socket = net.connect(address.port, address.host);
    socket.setNoDelay(true);
    return Object.assign(socket, { _host: address.host });
  };
}

/**
 * The sql_mode of every session the product opens, whatever the server's global one: nothing that
 * changes how statements are written or read (ANSI_QUOTES, NO_BACKSLASH_ESCAPES,
 * PAD_CHAR_TO_FULL_LENGTH...).
 */
export const READ_SQL_MODE = "NO_ENGINE_SUBSTITUTION";
/**
 * Sessions that write rows on the DR server: a value that does not fit is an error, never silently
 * truncated; values the master stored (zero dates, invalid dates allowed there, 0 in an
 * AUTO_INCREMENT column) are written as they are.
 */
export const WRITE_SQL_MODE = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION";
/** For the one value strict mode refuses to write back: ENUM's empty error value (index 0). */
export const RELAXED_WRITE_SQL_MODE = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION";

export interface SessionOptions {
  multipleStatements?: boolean;
  /** Per statement, in ms; 0 for none. Default CONTROL_QUERY_TIMEOUT_MS. */
  queryTimeoutMs?: number;
}

/** Opens a connection; failures become one sentence naming the server's role and what to check. */
export async function openConnection(address: ServerAddress, role: string, options: SessionOptions = {}): Promise<Connection> {
  return open(address, role, options, {}, [`SET SESSION time_zone = '+00:00', sql_mode = '${READ_SQL_MODE}'`]);
}

/**
 * A connection for statements in "wire text" (sql/literals.ts): mysql2 sends each char of the
 * text as one byte (the handshake's binary character set), while the server reads it as utf8mb4.
 * Session tracking of character_set_client is turned off first, or mysql2 would follow the
 * SET NAMES and encode as UTF-8 again.
 */
export async function openWireConnection(address: ServerAddress, role: string, options: SessionOptions = {}): Promise<Connection> {
  return open(address, role, options, { charset: "BINARY", queryFormat: formatWithoutScan }, [
    "SET SESSION session_track_system_variables = ''",
    "SET NAMES utf8mb4",
    `SET SESSION time_zone = '+00:00', sql_mode = '${WRITE_SQL_MODE}'`,
  ]);
}

/**
 * mysql2's formatting, except that a statement without values goes out untouched: mysql2 would
 * scan all its text for placeholders it then has nothing to put in (the copy's and applier's
 * statements carry their rows as literals, and are large).
 */
function formatWithoutScan(sql: string, values: unknown, timezone?: string): string {
  return values === undefined || (Array.isArray(values) && values.length === 0) ? sql : mysql.format(sql, values as Parameters<typeof mysql.format>[1], false, timezone as Parameters<typeof mysql.format>[3]);
}

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 text in wire form (one char per byte), for a wire connection's statements and parameters. */
export function wire(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, "utf8").toString("latin1") : text;
}

/** Unknown system variable: session tracking does not exist before MySQL 5.7 / MariaDB 10.2. */
const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

/**
 * Connects with the address's TLS options; under PREFERRED, a server that does not offer TLS is
 * connected to again in plain, as the mysql client does. mysql2 has no such mode, so every place
 * that connects (queries here, zongji's binlog stream) goes through this.
 */
export async function withTlsFallback<T>(address: ServerAddress, connect: (options: mysql.ConnectionOptions) => Promise<T>): Promise<T> {
  try {
    return await connect(connectionOptions(address));
  } catch (err) {
    if (tlsOrDefault(address.tls).mode !== "PREFERRED" || !isTlsUnsupported(err)) throw err;
    return connect(connectionOptions(address, { plain: true }));
  }
}

async function open(address: ServerAddress, role: string, session: SessionOptions, overrides: mysql.ConnectionOptions, setup: string[]): Promise<Connection> {
  let conn: Connection | undefined;
  try {
    conn = await withTlsFallback(address, (options) => mysql.createConnection({ ...options, ...overrides, multipleStatements: session.multipleStatements === true }));
    // A session that outlives the caller's attention must not bring the process down.
    conn.on("error", () => undefined);
    boundStatements(conn, session.queryTimeoutMs ?? CONTROL_QUERY_TIMEOUT_MS, address, role);
    for (const statement of setup) {
      await conn.query(statement).catch((err: { errno?: number }) => {
        if (err.errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw err;
      });
    }
    return conn;
  } catch (err) {
    conn?.destroy();
    throw describeConnectError(err, address, role);
  }
}

/**
 * Gives every statement of the session a time limit (unless the call sets its own `timeout`).
 * mysql2 only rejects the statement on its timeout and leaves the session waiting for the
 * answer, so the session is destroyed: nothing later queues behind a server that went silent.
 */
function boundStatements(conn: Connection, timeoutMs: number, address: ServerAddress, role: string): void {
  if (timeoutMs <= 0) return;
  const query = conn.query.bind(conn) as (options: mysql.QueryOptions, values?: unknown) => Promise<unknown>;
  const bounded = async (sql: string | mysql.QueryOptions, values?: unknown) => {
    const options = typeof sql === "string" ? { sql, timeout: timeoutMs } : { timeout: timeoutMs, ...sql };
    try {
      return await query(options, values);
    } catch (err) {
      if ((err as { code?: string }).code !== "PROTOCOL_SEQUENCE_TIMEOUT") throw err;
      conn.destroy();
      throw unresponsive(address, role, options.timeout ?? timeoutMs);
    }
  };
  (conn as unknown as { query: typeof bounded }).query = bounded;
}

/** The error of a server that stopped answering: retryable, like a lost connection. */
export function unresponsive(address: ServerAddress, role: string, waitedMs: number): DrError {
  return Object.assign(
    new DrError("UNREACHABLE", `${capitalize(role)} unresponsive: the ${role} server at ${formatHostPort(address)} did not answer within ${waitedMs / 1000} s; check that it is running and reachable.`),
    { retryable: true },
  );
}

/**
 * A lost connection as one sentence that says which server: mysql2's own ("read ECONNRESET",
 * "Connection lost: The server closed the connection.") do not. Anything else passes unchanged.
 */
export function onSide(role: string, address: ServerAddress, err: Error): Error {
  const e = err as { code?: string; errno?: number; fatal?: boolean };
  const lost = (e.code !== undefined && RETRYABLE_CODES.has(e.code)) || (e.errno !== undefined && CONNECTION_LOST_ERRNOS.has(e.errno)) || (e.fatal === true && e.errno === undefined);
  if (err instanceof DrError || !lost) return err;
  // Node's socket errors carry negative errnos (-104): their code says more.
  const reason = e.errno !== undefined && e.errno > 0 ? `error ${e.errno}: ${err.message}` : (e.code ?? err.message);
  return Object.assign(new DrError("UNREACHABLE", `Lost the connection to the ${role} server at ${formatHostPort(address)} (${reason}); reconnecting.`, { cause: stripSecrets(err), errno: e.errno }), { retryable: true });
}

/** Maps a connection failure to UNREACHABLE or ACCESS_DENIED; never includes the password. */
export function describeConnectError(err: unknown, address: ServerAddress, role: string): DrError {
  const e = err as { code?: string; errno?: number; message?: string };
  const where = `the ${role} server at ${formatHostPort(address)}`;
  const mode = tlsOrDefault(address.tls).mode;
  if (isTlsUnsupported(err)) {
    return new DrError("PRECONDITION", `${capitalize(where)} does not offer TLS, which ssl-mode ${mode} requires; enable TLS on the server (ssl_cert, ssl_key) or choose ssl-mode PREFERRED.`, { cause: stripSecrets(err) });
  }
  if (isTlsHandshakeError(err)) {
    const reason = (e.message ?? "handshake failed").replace(/\.$/, "");
    return new DrError("PRECONDITION", `The TLS handshake with ${where} failed (${reason}); check ssl-ca (the CA that signed the server's certificate), the host name for VERIFY_IDENTITY, or the ssl-mode.`, { cause: stripSecrets(err) });
  }
  if (e.errno === 1045) {
    return new DrError("ACCESS_DENIED", `${capitalize(where)} refused user '${address.user}' (access denied); check the user and password in the ${role} URL.`, { errno: 1045 });
  }
  if (e.errno === 1044 || e.errno === 1227) {
    return new DrError("ACCESS_DENIED", `User '${address.user}' lacks a privilege on ${where}; grant it (see README: privileges).`, { errno: e.errno });
  }
  if (e.code === "ETIMEDOUT") {
    // The TCP connect went through (a hung server's kernel still accepts) or hung: either way nobody answers.
    return new DrError("UNREACHABLE", `${capitalize(role)} unresponsive: ${where} did not answer the connection within ${CONNECT_TIMEOUT_MS / 1000} s; check that it is running and reachable.`, { cause: stripSecrets(err) });
  }
  const reason = e.code === "ECONNREFUSED" ? "connection refused"
    : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN" ? "host not found"
    : e.code ?? "connection failed";
  return new DrError("UNREACHABLE", `Cannot connect to ${where} (${reason}); check the host and port and that the server is running.`, { cause: stripSecrets(err), errno: e.errno });
}

/** MySQL error numbers and client codes that a reconnect and resume from the checkpoint fixes. */
const RETRYABLE_ERRNOS = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1205, // lock wait timeout
  1213, // deadlock
  1927, // connection killed (MariaDB)
  2002, 2003, 2006, 2013, 2055, // client: cannot connect, gone away, lost
  4031, // disconnected by the server for inactivity (MySQL 8.0.24+)
]);
/** Of those, the ones that mean the session is gone (not a deadlock or a lock wait). */
const CONNECTION_LOST_ERRNOS = new Set([1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031]);
const RETRYABLE_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ENOTFOUND",
  "PROTOCOL_CONNECTION_LOST", "PROTOCOL_SEQUENCE_TIMEOUT", "ER_SERVER_SHUTDOWN", "ER_CON_COUNT_ERROR",
]);

/** Classifies by error number and code, never by message text. */
export function isRetryable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; fatal?: boolean; retryable?: boolean };
  if (e?.retryable !== undefined) return e.retryable;
  if (err instanceof DrError) return err.code === "UNREACHABLE";
  if (e?.errno !== undefined && RETRYABLE_ERRNOS.has(e.errno)) return true;
  if (e?.code !== undefined && RETRYABLE_CODES.has(e.code)) return true;
  return e?.fatal === true && e?.errno === undefined;
}

function stripSecrets(err: unknown): unknown {
  // mysql2 errors carry no password, but keep only what is useful for the chain.
  const e = err as { code?: string; errno?: number; message?: string };
  return { code: e?.code, errno: e?.errno, message: e?.message };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Quotes an identifier with backticks. */
export function quoteId(name: string): string {
  return "`" + name.replace(/`/g, "``") + "`";
}

export function quoteTable(db: string, table: string): string {
  return `${quoteId(db)}.${quoteId(table)}`;
}
