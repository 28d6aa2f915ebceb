/**
 * The daemon's control API: JSON over HTTP, every request authenticated with the bearer token.
 * Routes map one-to-one onto LinkManager; errors carry their code and one-sentence message.
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import { DrError, HTTP_STATUS } from "../core/errors";
import type { LinkManager } from "./link-manager";
import type { Metrics } from "./metrics";

const MAX_BODY_BYTES = 1024 * 1024;

export interface ControlApiOptions {
  token: string;
  links: LinkManager;
  metrics: Metrics;
  info(): Record<string, unknown>;
}

type Handler = (params: string[], body: unknown) => Promise<{ status: number; json?: unknown; text?: string }>;

export function createControlServer(o: ControlApiOptions): http.Server {
  const routes: [string, RegExp, Handler][] = [
    ["GET", /^\/v1\/daemon$/, async () => ({ status: 200, json: o.info() })],
    ["GET", /^\/v1\/links$/, async () => ({ status: 200, json: { links: await o.links.list() } })],
    ["POST", /^\/v1\/links$/, async (_p, body) => ({ status: 201, json: await o.links.create(body as never) })],
    ["GET", /^\/v1\/links\/([^/]+)$/, async ([name]) => ({ status: 200, json: await o.links.get(name) })],
    ["PATCH", /^\/v1\/links\/([^/]+)$/, async ([name], body) => ({ status: 200, json: await o.links.update(name, (body ?? {}) as never) })],
    ["POST", /^\/v1\/links\/([^/]+)\/verify$/, async ([name], body) => ({ status: 200, json: await o.links.verify(name, (body ?? {}) as { repair?: boolean }) })],
    ["POST", /^\/v1\/links\/([^/]+)\/pause$/, async ([name]) => ({ status: 200, json: await o.links.pause(name) })],
    ["POST", /^\/v1\/links\/([^/]+)\/resume$/, async ([name]) => ({ status: 200, json: await o.links.resume(name) })],
    ["DELETE", /^\/v1\/links\/([^/]+)$/, async ([name]) => { await o.links.delete(name); return { status: 200, json: { deleted: name } }; }],
    ["GET", /^\/metrics$/, async () => ({ status: 200, text: await o.metrics.render() })],
  ];
  const expected = Buffer.from(`Bearer ${o.token}`);

  return http.createServer((req, res) => {
    const send = (status: number, payload: { json?: unknown; text?: string }) => {
      const body = payload.text ?? JSON.stringify(payload.json);
      res.writeHead(status, { "content-type": payload.text !== undefined ? "text/plain; version=0.0.4" : "application/json" });
      res.end(body);
    };
    const fail = (err: unknown) => {
      const e = err instanceof DrError ? err : new DrError("INTERNAL", `Internal error: ${(err as Error)?.message ?? err}`);
      send(HTTP_STATUS[e.code], { json: { error: { code: e.code, message: e.message } } });
    };
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      return fail(new DrError("UNAUTHORIZED", "The daemon refused the request: a valid bearer token is required (see the token file in the state directory, or MYSQL_DR_TOKEN)."));
    }
    const url = new URL(req.url ?? "/", "http://daemon");
    const route = routes.find(([method, pattern]) => method === req.method && pattern.test(url.pathname));
    if (!route) return fail(new DrError("NOT_FOUND", `No route for ${req.method} ${url.pathname}.`));
    const params = route[1].exec(url.pathname)!.slice(1).map(decodeURIComponent);
    readJson(req)
      .then((body) => route[2](params, body))
      .then((r) => send(r.status, r), fail);
  });
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) reject(new DrError("BAD_INPUT", "The request body is too large."));
      else chunks.push(c);
    });
    req.on("end", () => {
      if (chunks.length === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new DrError("BAD_INPUT", "The request body is not valid JSON."));
      }
    });
    req.on("error", reject);
  });
}
