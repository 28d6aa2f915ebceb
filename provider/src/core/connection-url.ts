import * as fs from "node:fs";
import { DrError } from "./errors";
import { type TlsInput, type TlsSettings, resolveTls } from "./tls";

/** A server to connect to, parsed from `mysql://user:password@host:port?ssl-mode=...`. */
export interface ServerAddress {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Absent: the default ssl-mode (tls.ts), no certificates. */
  tls?: TlsSettings;
}

const DEFAULT_PORT = 3306;

/** URL parameters, named as the mysql client's options; the files are read when the URL is parsed. */
const URL_PARAMETERS = ["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"] as const;
const PEM_FILE_PARAMETERS = { "ssl-ca": "ca", "ssl-cert": "cert", "ssl-key": "key" } as const;

/**
 * Parses a connection URL. User and password are percent-decoded, so a password with any
 * character (`@`, `:`, `/`, `%`, quotes) works once percent-encoded. The error never echoes the URL.
 */
export function parseServerUrl(url: string, what = "URL"): ServerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DrError("BAD_INPUT", `The ${what} is not a valid URL; write it as mysql://user:password@host:port (percent-encode special characters in the password).`);
  }
  if (parsed.protocol !== "mysql:" && parsed.protocol !== "mariadb:") {
    throw new DrError("BAD_INPUT", `The ${what} must start with mysql:// (got ${parsed.protocol}//).`);
  }
  if (!parsed.hostname) {
    throw new DrError("BAD_INPUT", `The ${what} has no host; write it as mysql://user:password@host:port.`);
  }
  if (!parsed.username) {
    throw new DrError("BAD_INPUT", `The ${what} has no user; write it as mysql://user:password@host:port.`);
  }
  if (parsed.pathname && parsed.pathname !== "/" && parsed.pathname !== "") {
    throw new DrError("BAD_INPUT", `The ${what} must not name a database (${parsed.pathname}); select objects with --include and --exclude.`);
  }
  const port = parsed.port === "" ? DEFAULT_PORT : Number(parsed.port);
  if (port < 1) {
    throw new DrError("BAD_INPUT", `The ${what} has port ${port}; give the server's TCP port (1-65535).`);
  }
  let user: string;
  let password: string;
  try {
    user = decodeURIComponent(parsed.username);
    password = decodeURIComponent(parsed.password);
  } catch {
    throw new DrError("BAD_INPUT", `The ${what} has a malformed percent-encoding in its user or password.`);
  }
  const tls = parseTlsParameters(parsed.searchParams, what);
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port, user, password, ...(tls && { tls }) };
}

/**
 * The URL's TLS parameters, with ssl-ca, ssl-cert and ssl-key read from the files they name (on
 * the machine that parses the URL: the CLI sends the contents to the daemon). Undefined when the
 * URL has none. Values are never echoed: a misplaced password must not land in an error.
 */
function parseTlsParameters(params: URLSearchParams, what: string): TlsSettings | undefined {
  const input: TlsInput = {};
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (!(URL_PARAMETERS as readonly string[]).includes(name)) {
      throw new DrError("BAD_INPUT", `The ${what} has the unknown parameter ${JSON.stringify(name)}; the accepted ones are ${URL_PARAMETERS.join(", ")}.`);
    }
    if (seen.has(name)) throw new DrError("BAD_INPUT", `The ${what} gives ${name} twice; give it once.`);
    seen.add(name);
    if (name === "ssl-mode") input.mode = value.toUpperCase();
    else input[PEM_FILE_PARAMETERS[name as keyof typeof PEM_FILE_PARAMETERS]] = readPemFile(value, name, what);
  }
  return seen.size === 0 ? undefined : resolveTls(input, what);
}

function readPemFile(file: string, parameter: string, what: string): string {
  if (file === "") throw new DrError("BAD_INPUT", `The ${what}'s ${parameter} is empty; give the path of a PEM file.`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new DrError("BAD_INPUT", `The ${what}'s ${parameter} file ${file} cannot be read (${reason}); give the path of a readable PEM file.`);
  }
}

/**
 * The URL form of an address, with the password percent-encoded and the ssl-mode. A URL names
 * certificate files, while an address holds their contents, which no URL can carry: an address
 * with certificates travels as a connection object (LinkRequest), so formatting one is refused.
 */
export function formatServerUrl(address: ServerAddress): string {
  const { ca, cert, key } = address.tls ?? {};
  if (ca !== undefined || cert !== undefined || key !== undefined) {
    throw new DrError("BAD_INPUT", `The connection to ${formatHostPort(address)} holds certificates, which a URL cannot carry; send it as a connection object.`);
  }
  const auth = address.password
    ? `${encodeURIComponent(address.user)}:${encodeURIComponent(address.password)}`
    : encodeURIComponent(address.user);
  return `mysql://${auth}@${formatHostPort(address)}${modeParameter(address)}`;
}

/**
 * The URL with the password replaced, safe for logs, errors and status: the ssl-mode shows, and
 * which certificates were given, never their contents.
 */
export function redactUrl(address: ServerAddress): string {
  const auth = address.password ? `${encodeURIComponent(address.user)}:***` : encodeURIComponent(address.user);
  const given = Object.entries(PEM_FILE_PARAMETERS).filter(([, field]) => address.tls?.[field] !== undefined).map(([name]) => `&${name}=***`);
  return `mysql://${auth}@${formatHostPort(address)}${modeParameter(address)}${given.join("")}`;
}

/** `?ssl-mode=X` when the address says how to use TLS; nothing for an address from a plain URL. */
function modeParameter(address: ServerAddress): string {
  return address.tls ? `?ssl-mode=${address.tls.mode}` : "";
}

export function formatHostPort(address: Pick<ServerAddress, "host" | "port">): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
