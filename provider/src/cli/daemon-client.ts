/**
 * Talks to a daemon's control API. Finds it through an explicit URL, MYSQL_DR_DAEMON or the
 * address file in the state directory; the token through an explicit value, MYSQL_DR_TOKEN or the
 * token file; over HTTPS, the CA to trust through explicit PEM text, a file (--daemon-ca) or
 * MYSQL_DR_DAEMON_CA (else the system's CAs). Errors come back as the daemon's DrError.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { DrError, type ErrorCode } from "../core/errors";
import { STATE_FILES, resolveStateDir } from "../core/state-dir";
import type { LinkRequest, LinkUpdate, VerifyRequest } from "../daemon/request-schemas";
import type { LinkStatus } from "../daemon/link-runner";
import type { VerifyReport } from "../verify/verifier";
import type { BarrierReport } from "../verify/barrier-verifier";
import type { DrillReport } from "../drill/drill";

export interface DaemonLocation {
  daemon?: string;
  token?: string;
  stateDir?: string;
  /** The CA (PEM text) that signed an HTTPS daemon's certificate. */
  caCert?: string;
  /** A file holding that CA, when `caCert` is not given. */
  daemonCa?: string;
}

/** Node's codes for a server certificate that the trusted CAs do not vouch for. */
const UNTRUSTED_CERTIFICATE = /^(?:SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(?:VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(?:_LOCALLY)?)|CERT_(?:HAS_EXPIRED|NOT_YET_VALID|UNTRUSTED|SIGNATURE_FAILURE)|ERR_TLS_CERT_ALTNAME_INVALID)$/;

const REQUEST_TIMEOUT_MS = 60_000;
/** Long enough for a verification of large tables through the daemon. */
const VERIFY_TIMEOUT_MS = 60 * 60_000;
/** A drill copies the whole selection into a local server: as long as a verification. */
const DRILL_TIMEOUT_MS = 60 * 60_000;

export class DaemonClient {
  readonly url: string;
  private readonly token: string;
  private readonly ca?: string;

  constructor(location: DaemonLocation = {}) {
    const stateDir = resolveStateDir(location.stateDir);
    const url = location.daemon ?? process.env.MYSQL_DR_DAEMON ?? readStateFile(stateDir, STATE_FILES.address);
    if (!url) throw new DrError("DAEMON_UNREACHABLE", `No daemon found: none is running for state directory ${stateDir}; start one with 'mysql-dr daemon' or pass --daemon URL.`);
    const token = location.token ?? process.env.MYSQL_DR_TOKEN ?? readStateFile(stateDir, STATE_FILES.token);
    if (!token) throw new DrError("UNAUTHORIZED", `No daemon token found in ${stateDir}; pass --token or set MYSQL_DR_TOKEN.`);
    this.url = url.replace(/\/+$/, "");
    this.token = token;
    this.ca = location.caCert ?? readCaFile(location.daemonCa ?? process.env.MYSQL_DR_DAEMON_CA);
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

  /** `repair` alone (a boolean), or the whole request: `atBarrier: true` answers with a BarrierReport. */
  verifyLink(name: string, request: VerifyRequest & { atBarrier: true }): Promise<BarrierReport>;
  verifyLink(name: string, request?: VerifyRequest | boolean): Promise<VerifyReport | BarrierReport>;
  verifyLink(name: string, request: VerifyRequest | boolean = {}): Promise<VerifyReport | BarrierReport> {
    const body = typeof request === "boolean" ? { repair: request } : request;
    return this.request("POST", `/v1/links/${encodeURIComponent(name)}/verify`, body, VERIFY_TIMEOUT_MS);
  }

  drillLink(name: string, record: boolean): Promise<DrillReport> {
    return this.request("POST", `/v1/links/${encodeURIComponent(name)}/drill`, { record }, DRILL_TIMEOUT_MS);
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
    let res: { status: number; text: string };
    try {
      res = await send(new URL(this.url + route), {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ca: this.ca,
        signal: AbortSignal.timeout(timeoutMs),
      }, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      throw this.unreachable(err as NodeJS.ErrnoException, timeoutMs);
    }
    const payload = parseJsonOr(res.text, {}) as { error?: { code: ErrorCode; message: string } };
    if (res.status >= 400) {
      throw new DrError(payload.error?.code ?? "INTERNAL", payload.error?.message ?? `The daemon answered HTTP ${res.status}.`);
    }
    return payload as T;
  }

  private unreachable(err: NodeJS.ErrnoException, timeoutMs: number): DrError {
    if (UNTRUSTED_CERTIFICATE.test(err.code ?? "")) {
      return new DrError("DAEMON_UNREACHABLE", `The daemon at ${this.url} presented a certificate this client does not trust (${err.message}); pass the CA that signed it with --daemon-ca FILE or MYSQL_DR_DAEMON_CA.`, { cause: err });
    }
    const why = err.name === "AbortError" ? `no answer within ${timeoutMs / 1000} s` : err.message;
    return new DrError("DAEMON_UNREACHABLE", `Cannot reach the daemon at ${this.url} (${why}); check that it is running.`, { cause: err });
  }
}

/** One HTTP(S) request; resolves with the status and the whole answer. */
function send(url: URL, options: https.RequestOptions & { signal: AbortSignal }, body: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function parseJsonOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

function readCaFile(file: string | undefined): string | undefined {
  if (file === undefined || file === "") return undefined;
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new DrError("BAD_INPUT", `Cannot read the daemon CA file ${file} (${(err as NodeJS.ErrnoException).code}); pass a readable PEM file with --daemon-ca or MYSQL_DR_DAEMON_CA.`);
  }
}

function readStateFile(stateDir: string, name: string): string | undefined {
  try {
    return fs.readFileSync(path.join(stateDir, name), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
