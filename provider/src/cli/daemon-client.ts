/**
 * Talks to a daemon's control API. Finds it through an explicit URL, MYSQL_DR_DAEMON or the
 * address file in the state directory; the token through an explicit value, MYSQL_DR_TOKEN or the
 * token file. Errors come back as the daemon's DrError.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DrError, type ErrorCode } from "../core/errors";
import { STATE_FILES, resolveStateDir } from "../core/state-dir";
import type { LinkRequest, LinkUpdate } from "../daemon/link-definition";
import type { LinkStatus } from "../daemon/link-runner";
import type { VerifyReport } from "../verify/verifier";

export interface DaemonLocation {
  daemon?: string;
  token?: string;
  stateDir?: string;
}

const REQUEST_TIMEOUT_MS = 60_000;
/** Long enough for a verification of large tables through the daemon. */
const VERIFY_TIMEOUT_MS = 60 * 60_000;

export class DaemonClient {
  readonly url: string;
  private readonly token: string;

  constructor(location: DaemonLocation = {}) {
    const stateDir = resolveStateDir(location.stateDir);
    const url = location.daemon ?? process.env.MYSQL_DR_DAEMON ?? readStateFile(stateDir, STATE_FILES.address);
    if (!url) throw new DrError("DAEMON_UNREACHABLE", `No daemon found: none is running for state directory ${stateDir}; start one with 'mysql-dr daemon' or pass --daemon URL.`);
    const token = location.token ?? process.env.MYSQL_DR_TOKEN ?? readStateFile(stateDir, STATE_FILES.token);
    if (!token) throw new DrError("UNAUTHORIZED", `No daemon token found in ${stateDir}; pass --token or set MYSQL_DR_TOKEN.`);
    this.url = url.replace(/\/+$/, "");
    this.token = token;
  }

  createLink(req: LinkRequest): Promise<LinkStatus> {
    return this.request("POST", "/v1/links", req);
  }

  async listLinks(): Promise<LinkStatus[]> {
    return (await this.request<{ links: LinkStatus[] }>("GET", "/v1/links")).links;
  }

  getLink(name: string): Promise<LinkStatus> {
    return this.request("GET", `/v1/links/${encodeURIComponent(name)}`);
  }

  updateLink(name: string, update: LinkUpdate): Promise<LinkStatus> {
    return this.request("PATCH", `/v1/links/${encodeURIComponent(name)}`, update);
  }

  verifyLink(name: string, repair: boolean): Promise<VerifyReport> {
    return this.request("POST", `/v1/links/${encodeURIComponent(name)}/verify`, { repair }, VERIFY_TIMEOUT_MS);
  }

  pauseLink(name: string): Promise<LinkStatus> {
    return this.request("POST", `/v1/links/${encodeURIComponent(name)}/pause`);
  }

  resumeLink(name: string): Promise<LinkStatus> {
    return this.request("POST", `/v1/links/${encodeURIComponent(name)}/resume`);
  }

  async deleteLink(name: string): Promise<void> {
    await this.request("DELETE", `/v1/links/${encodeURIComponent(name)}`);
  }

  private async request<T>(method: string, route: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url + route, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new DrError("DAEMON_UNREACHABLE", `Cannot reach the daemon at ${this.url} (${(err as Error).cause ? ((err as Error).cause as Error).message : (err as Error).message}); check that it is running.`);
    }
    const payload = (await res.json().catch(() => ({}))) as { error?: { code: ErrorCode; message: string } };
    if (!res.ok) {
      throw new DrError(payload.error?.code ?? "INTERNAL", payload.error?.message ?? `The daemon answered HTTP ${res.status}.`);
    }
    return payload as T;
  }
}

function readStateFile(stateDir: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(stateDir, name), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
