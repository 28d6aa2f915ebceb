/**
 * The schema's ServerConnection: as the core's ServerAddress, how one changed, and which server
 * it reaches.
 */
import { isDeepStrictEqual } from "node:util";
import type { ServerConnection } from "../../../sdk/types.generated";
import type { ServerAddress } from "../core/connection-url";
import { openConnection } from "../core/db";
import { inspectServer } from "../core/server-inspector";
import { resolveTls } from "../core/tls";
import { UNKNOWN } from "./schema";

const DEFAULT_PORT = 3306;

export function toAddress(c: ServerConnection): ServerAddress {
  const address = { host: c.host, port: c.port ?? DEFAULT_PORT, user: c.user, password: c.password ?? "" };
  // The schema's enum already holds the mode; resolveTls adds the default and the pairing checks.
  return c.tls ? { ...address, tls: resolveTls(c.tls, `connection to ${c.host}`) } : address;
}

/**
 * How a connection input changed: not at all; only in what it logs in with (user, password, and
 * any other property such as TLS settings), which reaches the same server; or in its address
 * (host, port), which may reach another server.
 */
export type ConnectionChange = "none" | "credentials" | "address";

export function connectionChange(old: ServerConnection | undefined, next: ServerConnection | undefined): ConnectionChange {
  if (isDeepStrictEqual(normalize(old), normalize(next))) return "none";
  if (!old || !next || typeof next !== "object") return "address";
  return old.host === next.host && (old.port ?? DEFAULT_PORT) === (next.port ?? DEFAULT_PORT) ? "credentials" : "address";
}

/**
 * The identity (inspectServer().identity) of the server a connection reaches, or undefined when it
 * cannot be told: the address is not known yet (a preview) or the server does not answer. Reads only.
 */
export async function identityAt(c: ServerConnection | undefined, role: string): Promise<string | undefined> {
  if (!c || typeof c !== "object" || [c.host, c.port, c.user, c.password].includes(UNKNOWN)) return undefined;
  try {
    const conn = await openConnection(toAddress(c), role);
    try {
      return (await inspectServer(conn)).identity;
    } finally {
      conn.destroy();
    }
  } catch {
    return undefined;
  }
}

/** Absent properties and defaults compare equal. */
function normalize(c: ServerConnection | undefined): unknown {
  if (!c || typeof c !== "object") return c;
  return Object.fromEntries(Object.entries({ ...c, port: c.port ?? DEFAULT_PORT }).filter(([, v]) => v !== undefined && v !== null && v !== ""));
}
