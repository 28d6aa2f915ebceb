/**
 * The control API under malformed and hostile requests, against a real daemon process: every bad
 * request is a 4xx with the usual error object, an oversized body closes the connection, and the
 * same daemon (same pid) answers the next request. Then the transport: a non-loopback --listen
 * needs TLS or --insecure-http, and an HTTPS daemon is reached with its CA and refused without it.
 * No MySQL server is needed: the requests fail before any is contacted.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { STATE_FILES } from "../../src/core/state-dir";
import { MAX_BODY_BYTES, createControlHandler } from "../../src/daemon/control-api";
import type { LinkManager } from "../../src/daemon/link-manager";
import type { Metrics } from "../../src/daemon/metrics";
import { CLI, DaemonProcess, runCli, tempStateDir } from "../support/daemon-process";

/** A daemon that wrongly keeps running instead of refusing to start: stop waiting after this. */
const REFUSAL_TIMEOUT_MS = 30_000;
/** How long a refused oversized upload may take to see its connection closed. */
const CLOSE_TIMEOUT_MS = 10_000;

interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** Every answer body seen, checked for the token at the end. */
const shown: string[] = [];

function token(stateDir: string): string {
  return fs.readFileSync(path.join(stateDir, STATE_FILES.token), "utf8").trim();
}

/** One authenticated request with a raw body (sent as given, even on GET and DELETE). */
function request(daemon: DaemonProcess, method: string, route: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // content-length even on GET and DELETE, where Node's client would otherwise send the body unannounced.
    const length = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) };
    const req = http.request(daemon.url + route, { method, headers: { authorization: `Bearer ${token(daemon.stateDir)}`, "content-type": "application/json", ...length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        shown.push(text);
        resolve({ status: res.statusCode!, body: JSON.parse(text) as Answer["body"] });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The error answer's message after checking it is `status` with the usual error object. */
function refused(answer: Answer, status: number, code = "BAD_INPUT"): string {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error?.code, code);
  const message = answer.body.error!.message;
  assert.equal(message.split("\n").length, 1, "one line");
  assert.match(message, /^[A-Z-].*[.)]$/, "one sentence");
  return message;
}

/** Sends headers then a body over a raw socket; resolves with what came back and whether the daemon closed the connection. */
function upload(daemon: DaemonProcess, headers: string[], writeBody: (socket: net.Socket) => void): Promise<{ response: string; closed: boolean }> {
  const { hostname, port } = new URL(daemon.url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString("utf8"), closed: false });
    }, CLOSE_TIMEOUT_MS);
    socket.on("data", (c: Buffer) => chunks.push(c));
    // Writing into a connection the daemon closed fails: expected, and not what is checked.
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ response: Buffer.concat(chunks).toString("utf8"), closed: true });
    });
    socket.write([`POST /v1/links HTTP/1.1`, `host: ${hostname}`, `authorization: Bearer ${token(daemon.stateDir)}`, ...headers, "", ""].join("\r\n"));
    writeBody(socket);
  });
}

async function samePid(daemon: DaemonProcess): Promise<void> {
  const info = await request(daemon, "GET", "/v1/daemon");
  assert.equal(info.status, 200);
  assert.equal(info.body.pid, daemon.pid, "the same daemon process answers");
}

describe("control API", () => {
  let stateDir: string;
  let daemon: DaemonProcess;

  before(async () => {
    stateDir = tempStateDir("api");
    daemon = await DaemonProcess.start(stateDir);
  });

  after(async () => {
    await daemon?.stop();
    const secret = token(stateDir);
    assert.ok(!daemon.log().includes(secret), "the daemon log must not contain the token");
    assert.ok(!shown.some((s) => s.includes(secret)), "no answer may contain the token");
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  describe("malformed requests are 4xx and the daemon lives on", () => {
    it("answers a malformed percent-encoding in the path with 400, then the next request", async () => {
      const message = refused(await request(daemon, "GET", "/v1/links/%E0%A4%A"), 400);
      assert.match(message, /malformed percent-encoding/);
      await samePid(daemon);
    });

    for (const [what, body] of [["null", "null"], ["an array", "[]"], ["a string", '"shop"'], ["a number", "7"]] as const) {
      it(`refuses ${what} as a body with 400 on every route that takes one`, async () => {
        for (const [method, route] of [["POST", "/v1/links"], ["PATCH", "/v1/links/x"], ["POST", "/v1/links/x/verify"], ["POST", "/v1/links/x/drill"]]) {
          assert.equal(refused(await request(daemon, method, route, body), 400), "The request body must be a JSON object.", `${method} ${route}`);
        }
        await samePid(daemon);
      });
    }

    it("refuses a body that is not JSON with 400", async () => {
      assert.match(refused(await request(daemon, "POST", "/v1/links", "{name:"), 400), /not valid JSON/);
    });

    it("refuses an unknown field with 400, naming it, on create, update, verify and drill", async () => {
      const create = { name: "x", source: "mysql://u@127.0.0.1:1", target: "mysql://u@127.0.0.1:2", inclde: ["shop"] };
      assert.match(refused(await request(daemon, "POST", "/v1/links", JSON.stringify(create)), 400), /unknown field "inclde"; remove it \(known fields: name, source, target, include,/);
      assert.match(refused(await request(daemon, "PATCH", "/v1/links/x", JSON.stringify({ include: ["a"], targt: "mysql://u@h" })), 400), /unknown field "targt"/);
      assert.match(refused(await request(daemon, "POST", "/v1/links/x/verify", JSON.stringify({ repair: true, force: true })), 400), /unknown field "force"/);
      assert.match(refused(await request(daemon, "POST", "/v1/links/x/drill", JSON.stringify({ record: true, keep: true })), 400), /unknown field "keep"/);
    });

    it("refuses a field of the wrong type with 400, naming it", async () => {
      const create = { name: "x", source: "mysql://u@127.0.0.1:1", target: "mysql://u@127.0.0.1:2", parallel: "4" };
      assert.match(refused(await request(daemon, "POST", "/v1/links", JSON.stringify(create)), 400), /^Field "parallel" of the request body must be integer\.$/);
      assert.match(refused(await request(daemon, "POST", "/v1/links/x/verify", JSON.stringify({ repair: "yes" })), 400), /"repair"/);
      assert.match(refused(await request(daemon, "POST", "/v1/links/x/drill", JSON.stringify({ record: "yes" })), 400), /"record"/);
    });

    it("refuses a create body without a required field with 400, naming it", async () => {
      assert.match(refused(await request(daemon, "POST", "/v1/links", JSON.stringify({ name: "x", source: "mysql://u@h" })), 400), /lacks the field "target"/);
    });

    it("refuses a body on routes that take none", async () => {
      for (const [method, route] of [["GET", "/v1/links"], ["GET", "/v1/links/x"], ["DELETE", "/v1/links/x"], ["POST", "/v1/links/x/pause"], ["POST", "/v1/links/x/resume"], ["GET", "/metrics"]]) {
        assert.equal(refused(await request(daemon, method, route, "{}"), 400), `${method} ${route} takes no request body; send none.`);
      }
      await samePid(daemon);
    });

    it("checks the token before anything else", async () => {
      const answer = await new Promise<number>((resolve, reject) => {
        http.request(daemon.url + "/v1/links/%E0%A4%A", { method: "GET", headers: { authorization: "Bearer wrong", "content-length": "4" } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        }).on("error", reject).end("null");
      });
      assert.equal(answer, 401);
    });

    it("answers a declared 2 MiB body with a 413 that reaches the client, and closes the connection", async () => {
      const size = 2 * 1024 * 1024;
      const r = await upload(daemon, ["content-type: application/json", `content-length: ${size}`], (socket) => socket.write(Buffer.alloc(size, "a")));
      assert.match(r.response, /^HTTP\/1\.1 413 /);
      assert.match(r.response, /"The request body exceeds 1048576 bytes; send a smaller one\."/);
      assert.ok(r.closed, "the daemon closes the connection");
      await samePid(daemon);
    });

    it("answers a streamed (chunked) body that grows past 1 MiB with 413 and closes the connection", async () => {
      const chunk = Buffer.alloc(64 * 1024, "a");
      const r = await upload(daemon, ["content-type: application/json", "transfer-encoding: chunked"], (socket) => {
        for (let sent = 0; sent <= 2 * MAX_BODY_BYTES; sent += chunk.length) socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
        socket.write("0\r\n\r\n");
      });
      assert.match(r.response, /^HTTP\/1\.1 413 /);
      assert.ok(r.closed, "the daemon closes the connection");
      await samePid(daemon);
    });
  });
});

describe("control API handler", () => {
  it("answers an exception no handler expected with a 500 and its error object, reports it, and serves the next request", async () => {
    const reported: unknown[] = [];
    const links = { list: async () => { throw new TypeError("cannot read properties of undefined"); } } as unknown as LinkManager;
    const server = http.createServer(createControlHandler({ token: "t", links, metrics: {} as Metrics, info: () => ({ ok: true }), onInternalError: (err) => reported.push(err) }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const get = async (route: string) => {
        const res = await fetch(url + route, { headers: { authorization: "Bearer t" } });
        return { status: res.status, body: (await res.json()) as Answer["body"] };
      };
      const failed = await get("/v1/links");
      assert.equal(failed.status, 500);
      assert.deepEqual(failed.body, { error: { code: "INTERNAL", message: "Internal error: cannot read properties of undefined" } });
      assert.equal(reported.length, 1);
      assert.ok(reported[0] instanceof TypeError);
      assert.deepEqual(await get("/v1/daemon"), { status: 200, body: { ok: true } });
    } finally {
      server.close();
    }
  });
});

describe("control API transport", () => {
  let certDir: string;
  let ca: string;
  const cert = () => path.join(certDir, "server.pem");
  const key = () => path.join(certDir, "server.key");

  before(() => {
    certDir = tempStateDir("tls");
    ca = makeCertificates(certDir);
  });

  after(() => fs.rmSync(certDir, { recursive: true, force: true }));

  /** Runs `mysql-dr daemon` expecting it to refuse to start; returns its one stderr line. */
  function refusedToStart(args: string[]): string {
    const dir = tempStateDir("refused");
    try {
      const r = spawnSync(process.execPath, [CLI, "daemon", "--state-dir", dir, ...args], { encoding: "utf8", timeout: REFUSAL_TIMEOUT_MS });
      assert.equal(r.status, 1, `the daemon must refuse to start (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.ok(!fs.existsSync(path.join(dir, STATE_FILES.address)), "nothing listened");
      return r.stderr.trim();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("refuses plain HTTP on a non-loopback address, saying to pass --tls-cert/--tls-key", () => {
    for (const listen of ["0.0.0.0:0", "[::]:0"]) {
      assert.equal(
        refusedToStart(["--listen", listen]),
        `mysql-dr: Listening on ${listen.replace(/^\[?([^\]]*)\]?:0$/, "$1")} would expose the control API's token and link passwords in clear; pass --tls-cert FILE and --tls-key FILE (or --insecure-http to accept that).`,
      );
    }
  });

  it("refuses --tls-cert without --tls-key", () => {
    assert.match(refusedToStart(["--listen", "0.0.0.0:0", "--tls-cert", cert()]), /^mysql-dr: --tls-cert and --tls-key go together; pass both \(--tls-key is missing\)\.$/);
  });

  it("refuses a certificate with another key", () => {
    const otherKey = path.join(certDir, "ca.key");
    assert.match(refusedToStart(["--tls-cert", cert(), "--tls-key", otherKey]), /are not a PEM certificate and its private key .*; pass a matching pair\.$/);
  });

  it("serves plain HTTP on a non-loopback address with --insecure-http", async () => {
    const dir = tempStateDir("insecure");
    const daemon = await DaemonProcess.start(dir, {}, { args: ["--listen", "0.0.0.0:0", "--insecure-http"] });
    try {
      assert.match(daemon.url, /^http:\/\/127\.0\.0\.1:\d+$/, "local clients are pointed at loopback");
      assert.deepEqual(await daemon.client().listLinks(), []);
    } finally {
      await daemon.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("with --tls-cert and --tls-key", () => {
    let dir: string;
    let daemon: DaemonProcess;
    const caFile = () => path.join(certDir, "ca.pem");

    before(async () => {
      dir = tempStateDir("https");
      daemon = await DaemonProcess.start(dir, {}, { args: ["--listen", "0.0.0.0:0", "--tls-cert", cert(), "--tls-key", key()], caCert: ca });
    });

    after(async () => {
      await daemon?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("writes the https:// URL to the address file and answers a client that trusts its CA", async () => {
      assert.match(fs.readFileSync(path.join(dir, STATE_FILES.address), "utf8"), /^https:\/\/127\.0\.0\.1:\d+\n$/);
      assert.deepEqual(await daemon.client().listLinks(), []);
    });

    it("answers the CLI given the CA with --daemon-ca or MYSQL_DR_DAEMON_CA", () => {
      for (const r of [
        runCli(["link", "status", "--state-dir", dir, "--daemon-ca", caFile(), "--json"]),
        runCli(["link", "status", "--state-dir", dir, "--json"], { MYSQL_DR_DAEMON_CA: caFile() }),
        runCli(["link", "status", "--daemon", daemon.url.replace("127.0.0.1", "localhost"), "--token", token(dir), "--daemon-ca", caFile(), "--json"]),
      ]) {
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), { links: [] });
      }
    });

    it("refuses a client without the CA in one sentence naming --daemon-ca, not a stack", () => {
      for (const env of [{}, { MYSQL_DR_DAEMON_CA: path.join(certDir, "other-ca.pem") }]) {
        const r = runCli(["link", "status", "--state-dir", dir], env);
        assert.equal(r.code, 1);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, /^mysql-dr: The daemon at https:\/\/127\.0\.0\.1:\d+ presented a certificate this client does not trust \(.+\); pass the CA that signed it with --daemon-ca FILE or MYSQL_DR_DAEMON_CA\.\n$/);
        assert.ok(!r.stderr.includes(token(dir)), "the token is not shown");
      }
    });

    it("does not answer plain HTTP", async () => {
      await assert.rejects(fetch(daemon.url.replace("https:", "http:") + "/v1/links"));
    });
  });
});

/** A throwaway CA, a server certificate it signed for 127.0.0.1 and localhost, and an unrelated CA. Returns the CA's PEM. */
function makeCertificates(dir: string): string {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const caExtensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"];
  openssl("req", "-x509", ...ecKey, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=mysql-dr test CA", ...caExtensions);
  openssl("req", "-x509", ...ecKey, "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=mysql-dr other CA", ...caExtensions);
  openssl("req", ...ecKey, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  fs.writeFileSync(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext");
  return fs.readFileSync(path.join(dir, "ca.pem"), "utf8");
}
