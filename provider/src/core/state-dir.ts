import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The daemon's and the CLI's state directory: --state-dir, then MYSQL_DR_STATE_DIR, then ~/.mysql-dr. */
export function resolveStateDir(explicit?: string): string {
  const dir = explicit ?? process.env.MYSQL_DR_STATE_DIR ?? path.join(os.homedir(), ".mysql-dr");
  return path.resolve(dir);
}

/** Creates the directory (and parents) readable by the owner only: it holds tokens and link URLs. */
export function ensurePrivateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export const STATE_FILES = {
  token: "token",
  /** This daemon's identity: part of its links' replica server_ids and heartbeat keys. */
  daemonId: "daemon-id",
  pid: "daemon.pid",
  address: "daemon.address",
  links: "links.json",
  log: "daemon.log",
  sandboxes: "sandboxes",
} as const;
