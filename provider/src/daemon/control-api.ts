/**
 * The daemon's control API: JSON over HTTP(S), every request authenticated with the bearer token.
 * Routes map one-to-one onto LinkManager; errors carry their code and one-sentence message. No
 * request, however malformed, ends the process: a bad one is a 4xx, a failure of ours a 500.
 */
import * as crypto from "node:crypto";
import type * as http from "node:http";
import { DrError, HTTP_STATUS } from "../core/errors";
import type { LinkManager } from "./link-manager";
import type { Metrics } from "./metrics";
import { DRILL_REQUEST_SCHEMA, LINK_REQUEST_SCHEMA, LINK_UPDATE_SCHEMA, VERIFY_REQUEST_SCHEMA, bodyParser } from "./request-schemas";

export const MAX_BODY_BYTES = 1024 * 1024;
const HTTP_PAYLOAD_TOO_LARGE = 413;
/** How long the rest of a refused body is discarded before its connection is dropped (see closeUnread). */
export const REFUSED_BODY_LINGER_MS = 1000;

export interface ControlApiOptions {
  token: string;
  links: LinkManager;
  metrics: Metrics;
  info(): Record<string, unknown>;
  /** Called with an exception no handler expected (answered with a 500). */
  onInternalError(err: unknown): void;
}

interface Reply {
  status: number;
  json?: unknown;
  text?: string;
}

interface Route {
  method: string;
  path: RegExp;
  /** Routes that take no body refuse a non-empty one. */
  takesBody: boolean;
  run(params: string[], body: unknown): Promise<Reply>;
}

/** A route whose JSON body is checked by `parse` before `handle` sees it; an absent body counts as {}. */
function withBody<T>(method: string, path: RegExp, parse: (body: unknown) => T, handle: (params: string[], body: T) => Promise<Reply>): Route {
  return { method, path, takesBody: true, run: (params, body) => handle(params, parse(body === undefined ? {} : body)) };
}

function withoutBody(method: string, path: RegExp, handle: (params: string[]) => Promise<Reply>): Route {
  return { method, path, takesBody: false, run: (params) => handle(params) };
}

/** The body exceeded MAX_BODY_BYTES: answered with 413, and the connection is closed (closeUnread). */
class BodyTooLargeError extends DrError {
  constructor() {
    super("BAD_INPUT", `The request body exceeds ${MAX_BODY_BYTES} bytes; send a smaller one.`);
  }
}

export function createControlHandler(o: ControlApiOptions): http.RequestListener {
  const parseCreate = bodyParser(LINK_REQUEST_SCHEMA);
  const parseUpdate = bodyParser(LINK_UPDATE_SCHEMA);
  const parseVerify = bodyParser(VERIFY_REQUEST_SCHEMA);
  const parseDrill = bodyParser(DRILL_REQUEST_SCHEMA);
  const routes: Route[] = [
    withoutBody("GET", /^\/v1\/daemon$/, async () => ({ status: 200, json: o.info() })),
    withoutBody("GET", /^\/v1\/links$/, async () => ({ status: 200, json: { links: await o.links.list() } })),
    withBody("POST", /^\/v1\/links$/, parseCreate, async (_p, body) => ({ status: 201, json: await o.links.create(body) })),
    withoutBody("GET", /^\/v1\/links\/([^/]+)$/, async ([name]) => ({ status: 200, json: await o.links.get(name) })),
    withBody("PATCH", /^\/v1\/links\/([^/]+)$/, parseUpdate, async ([name], body) => ({ status: 200, json: await o.links.update(name, body) })),
    withBody("POST", /^\/v1\/links\/([^/]+)\/verify$/, parseVerify, async ([name], body) => ({ status: 200, json: await o.links.verify(name, body) })),
    withBody("POST", /^\/v1\/links\/([^/]+)\/drill$/, parseDrill, async ([name], body) => ({ status: 200, json: await o.links.drill(name, body) })),
    withoutBody("POST", /^\/v1\/links\/([^/]+)\/pause$/, async ([name]) => ({ status: 200, json: await o.links.pause(name) })),
    withoutBody("POST", /^\/v1\/links\/([^/]+)\/resume$/, async ([name]) => ({ status: 200, json: await o.links.resume(name) })),
    withoutBody("DELETE", /^\/v1\/links\/([^/]+)$/, async ([name]) => {
      await o.links.delete(name);
      return { status: 200, json: { deleted: name } };
    }),
    withoutBody("GET", /^\/metrics$/, async () => ({ status: 200, text: await o.metrics.render() })),
  ];
  const expected = Buffer.from(`Bearer ${o.token}`);

  async function serve(req: http.IncomingMessage): Promise<Reply> {
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      throw new DrError("UNAUTHORIZED", "The daemon refused the request: a valid bearer token is required (see the token file in the state directory, or MYSQL_DR_TOKEN).");
    }
    const pathname = (req.url ?? "/").split("?")[0];
    const route = routes.find((r) => r.method === req.method && r.path.test(pathname));
    if (!route) throw new DrError("NOT_FOUND", `No route for ${req.method} ${pathname}.`);
    const params = route.path.exec(pathname)!.slice(1).map((p) => decodePathPart(p, pathname));
    const raw = await readBody(req);
    if (!route.takesBody && raw.length > 0) {
      throw new DrError("BAD_INPUT", `${req.method} ${pathname} takes no request body; send none.`);
    }
    return route.run(params, raw.length === 0 ? undefined : parseJson(raw));
  }

  return (req, res) => {
    serve(req)
      .then((reply) => send(res, reply))
      .catch((err: unknown) => {
        if (!(err instanceof DrError)) o.onInternalError(err);
        sendError(req, res, err);
      })
      // Only a failure to write the answer lands here: the connection is all there is to drop.
      .catch(() => res.destroy());
  };
}

function send(res: http.ServerResponse, reply: Reply): void {
  const body = reply.text ?? JSON.stringify(reply.json);
  res.writeHead(reply.status, { "content-type": reply.text !== undefined ? "text/plain; version=0.0.4" : "application/json" });
  res.end(body);
}

function sendError(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  const e = err instanceof DrError ? err : new DrError("INTERNAL", `Internal error: ${(err as Error)?.message ?? String(err)}`);
  const payload = JSON.stringify({ error: { code: e.code, message: e.message } });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof BodyTooLargeError) {
    res.writeHead(HTTP_PAYLOAD_TOO_LARGE, { "content-type": "application/json" });
    res.end(payload, () => closeUnread(req));
    return;
  }
  res.writeHead(HTTP_STATUS[e.code], { "content-type": "application/json" });
  res.end(payload);
}

/**
 * Ends a connection whose request body is refused: the side that answers closes, and what the
 * client still sends is discarded until it stops or REFUSED_BODY_LINGER_MS pass, then the
 * connection is dropped. Dropping it at once, with bytes unread, makes the kernel answer them
 * with a reset, which can wipe the answer from the client's buffer before it is read.
 */
function closeUnread(req: http.IncomingMessage): void {
  const socket = req.socket;
  req.resume();
  socket.end();
  const drop = setTimeout(() => socket.destroy(), REFUSED_BODY_LINGER_MS);
  drop.unref();
  socket.once("close", () => clearTimeout(drop));
}

function decodePathPart(part: string, pathname: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new DrError("BAD_INPUT", `The path ${JSON.stringify(pathname)} has a malformed percent-encoding; encode link names with encodeURIComponent.`);
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new DrError("BAD_INPUT", "The request body is not valid JSON.");
  }
}

/** The whole body, refused (BodyTooLargeError) as soon as it is declared or grows beyond MAX_BODY_BYTES. */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return reject(new BodyTooLargeError());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      req.off("data", onData);
      req.pause();
      reject(new BodyTooLargeError());
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
