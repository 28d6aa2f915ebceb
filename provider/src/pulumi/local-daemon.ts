/**
 * The daemon a SyncLink talks to: the one given in its inputs, or by default a local daemon for
 * the state directory (MYSQL_DR_STATE_DIR or ~/.mysql-dr), started when none answers. The
 * provider starts it detached in its own session, so it outlives the provider process, which
 * Pulumi kills together with its process group; later runs find it through the state directory.
 * It gets only the environment it needs: the Pulumi environment holds access tokens and cloud
 * credentials that are none of its business.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DaemonConnection } from "../../../sdk/types.generated";
import { DaemonClient } from "../cli/daemon-client";
import { DrError } from "../core/errors";
import { STATE_FILES, ensurePrivateDir, resolveStateDir } from "../core/state-dir";
import { DAEMON_NODE_FLAGS } from "../daemon/defaults";

const START_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
const CLI = path.resolve(__dirname, "../../../../bin/mysql-dr.js");
/** What the daemon may inherit: where programs and home are, the user, locale and time zone, temporary files. */
const INHERITED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"];
const INHERITED_ENV_PREFIX = "LC_";

export async function daemonClient(daemon: DaemonConnection | undefined): Promise<DaemonClient> {
  if (daemon) return new DaemonClient({ daemon: daemon.url, token: daemon.token, caCert: daemon.caCert });
  const stateDir = resolveStateDir();
  const running = await reachable(stateDir);
  if (running) return running;
  ensurePrivateDir(stateDir);
  const log = fs.openSync(path.join(stateDir, STATE_FILES.log), "a", 0o600);
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, CLI, "daemon", "--listen", "127.0.0.1:0", "--state-dir", stateDir], {
    detached: true,
    stdio: ["ignore", log, log],
    env: daemonEnvironment(stateDir),
  });
  child.unref();
  fs.closeSync(log);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const client = await reachable(stateDir);
    if (client) return client;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new DrError("DAEMON_UNREACHABLE", `The local daemon for ${stateDir} did not start within ${START_TIMEOUT_MS / 1000} s; see ${path.join(stateDir, STATE_FILES.log)}.`);
}

/** The provider's environment reduced to INHERITED_ENV, plus the state directory. */
function daemonEnvironment(stateDir: string): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([k]) => INHERITED_ENV.includes(k) || k.startsWith(INHERITED_ENV_PREFIX));
  return { ...Object.fromEntries(inherited), MYSQL_DR_STATE_DIR: stateDir };
}

async function reachable(stateDir: string): Promise<DaemonClient | undefined> {
  try {
    const client = new DaemonClient({ stateDir, daemon: fs.readFileSync(path.join(stateDir, STATE_FILES.address), "utf8").trim() });
    await client.listLinks();
    return client;
  } catch {
    return undefined;
  }
}
