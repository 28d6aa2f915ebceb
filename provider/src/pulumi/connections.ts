/** The schema's ServerConnection as the core's ServerAddress. */
import type { ServerConnection } from "../../../sdk/types.generated";
import type { ServerAddress } from "../core/connection-url";
import { resolveTls } from "../core/tls";

export function toAddress(c: ServerConnection): ServerAddress {
  const address = { host: c.host, port: c.port ?? 3306, user: c.user, password: c.password ?? "" };
  // The schema's enum already holds the mode; resolveTls adds the default and the pairing checks.
  return c.tls ? { ...address, tls: resolveTls(c.tls, `connection to ${c.host}`) } : address;
}
