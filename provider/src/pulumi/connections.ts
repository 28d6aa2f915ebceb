/** The schema's ServerConnection as the core's ServerAddress and URL. */
import type { ServerConnection } from "../../../sdk/types.generated";
import { type ServerAddress, formatServerUrl } from "../core/connection-url";

export function toAddress(c: ServerConnection): ServerAddress {
  return { host: c.host, port: c.port ?? 3306, user: c.user, password: c.password ?? "" };
}

export function toUrl(c: ServerConnection): string {
  return formatServerUrl(toAddress(c));
}
