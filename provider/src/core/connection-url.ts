import { DrError } from "./errors";

/** A server to connect to, parsed from `mysql://user:password@host:port`. */
export interface ServerAddress {
  host: string;
  port: number;
  user: string;
  password: string;
}

const DEFAULT_PORT = 3306;

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
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port, user, password };
}

/** The URL form of an address, with the password percent-encoded. */
export function formatServerUrl(address: ServerAddress): string {
  const auth = address.password
    ? `${encodeURIComponent(address.user)}:${encodeURIComponent(address.password)}`
    : encodeURIComponent(address.user);
  return `mysql://${auth}@${formatHostPort(address)}`;
}

/** The URL with the password replaced, safe for logs, errors and status. */
export function redactUrl(address: ServerAddress): string {
  const auth = address.password ? `${encodeURIComponent(address.user)}:***` : encodeURIComponent(address.user);
  return `mysql://${auth}@${formatHostPort(address)}`;
}

export function formatHostPort(address: Pick<ServerAddress, "host" | "port">): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  return `${host}:${address.port}`;
}
