/**
 * The server of a `local` DrInstance: started through the sandbox code with a generated root
 * password, in a data directory the provider marks as its own; stopped on delete, and its
 * directory deleted only when asked and only when this resource's marker is in it, so a directory
 * that existed before (the user's) is never deleted.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { LocalServer, ServerConnection } from "../../../sdk/types.generated";
import { DrError } from "../core/errors";
import { sandboxRootPassword, startSandbox, stopSandbox } from "../sandbox/sandbox";

const LOCAL_USER = "root";
const LOCAL_HOST = "127.0.0.1";
/** Names the DrInstance whose data directory this is. */
export const OWNER_MARKER = "created-by-mysql-dr.json";

interface OwnerMarker {
  resourceId: string;
  createdAt: string;
}

/** Starts the local server (recording how to undo it) and returns how to reach it. */
export async function startLocalServer(local: LocalServer, resourceId: string, undo: (() => Promise<void>)[]): Promise<ServerConnection> {
  const dir = path.resolve(local.dataDir);
  const existed = fs.existsSync(dir);
  const previousOwner = readMarker(dir);
  undo.push(async () => {
    await stopSandbox({ name: sandboxName(dir), dir });
    if (!existed) fs.rmSync(dir, { recursive: true, force: true });
    else if (previousOwner) writeMarker(dir, previousOwner);
  });
  if (!existed) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A directory an earlier DrInstance created passes to this one; the user's own stays unmarked.
  if (!existed || previousOwner) writeMarker(dir, { resourceId, createdAt: previousOwner?.createdAt ?? new Date().toISOString() });
  const info = await startSandbox({ name: sandboxName(dir), port: local.port, dir, secureRoot: true });
  return localConnection({ ...local, port: info.port });
}

/** How the provider reaches a local server: as root, with the password generated in its data directory. */
export function localConnection(local: LocalServer): ServerConnection {
  return { host: LOCAL_HOST, port: local.port, user: LOCAL_USER, password: sandboxRootPassword(path.resolve(local.dataDir)) };
}

/** Stops the local server; deletes its data directory when `deleteData` is set and the directory is this resource's. */
export async function removeLocalServer(local: LocalServer, resourceId: string): Promise<void> {
  const dir = path.resolve(local.dataDir);
  if (local.deleteData && readMarker(dir)?.resourceId !== resourceId) {
    throw new DrError("PRECONDITION", `local.deleteData is true but the data directory ${dir} was not created by this DrInstance (it has no ${OWNER_MARKER} naming it), so it is kept; set deleteData to false and delete it yourself if you mean to.`);
  }
  await stopSandbox({ name: sandboxName(dir), dir });
  if (local.deleteData) fs.rmSync(dir, { recursive: true, force: true });
}

function readMarker(dir: string): OwnerMarker | undefined {
  try {
    const marker = JSON.parse(fs.readFileSync(path.join(dir, OWNER_MARKER), "utf8")) as OwnerMarker;
    return typeof marker.resourceId === "string" ? marker : undefined;
  } catch {
    return undefined;
  }
}

function writeMarker(dir: string, marker: OwnerMarker): void {
  fs.writeFileSync(path.join(dir, OWNER_MARKER), JSON.stringify(marker) + "\n", { mode: 0o600 });
}

function sandboxName(dir: string): string {
  return `dr-${crypto.createHash("sha256").update(dir).digest("hex").slice(0, 12)}`;
}
