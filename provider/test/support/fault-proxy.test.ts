/**
 * The fault-injection proxy against a real server: queries pass through, and each fault does to a
 * mysql2 client what it says (a cut loses the connection, a stall delays and then completes, a
 * half-open connection never answers until healed, refused connects fail).
 */
import * as assert from "node:assert/strict";
import * as mysql from "mysql2/promise";
import { connectionOptions } from "../../src/core/db";
import { sleep } from "./daemon-process";
import { FaultProxy } from "./fault-proxy";
import { type TestServer, describeEachBackend } from "./servers";

/** mysql2's codes for a connection that went away under it. */
const CONNECTION_LOST = ["PROTOCOL_CONNECTION_LOST", "ECONNRESET", "EPIPE"];
/** How long a query must stay unanswered to count as "held" (not a performance bound). */
const HELD_MS = 1_500;

/** Settles a promise into an inspectable state without letting a rejection go unhandled. */
function track<T>(p: Promise<T>): { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown; done: Promise<void> } {
  const t: { state: "pending" | "fulfilled" | "rejected"; value?: T; error?: unknown; done: Promise<void> } = { state: "pending", done: Promise.resolve() };
  t.done = p.then(
    (v) => {
      t.state = "fulfilled";
      t.value = v;
    },
    (e) => {
      t.state = "rejected";
      t.error = e;
    },
  );
  return t;
}

describeEachBackend("fault proxy", (getPair) => {
  let server: TestServer;
  let proxy: FaultProxy;
  const opened: mysql.Connection[] = [];

  function connectThrough(extra: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
    const p = mysql.createConnection({
      // Plain: the sandbox offers no TLS, and a PREFERRED attempt would count as a connection through the proxy.
      ...connectionOptions({ host: "127.0.0.1", port: proxy.port, user: server.user, password: server.password, tls: { mode: "DISABLED" } }),
      ...extra,
    });
    return p.then((c) => {
      c.on("error", () => undefined);
      opened.push(c);
      return c;
    });
  }

  before(() => {
    server = getPair().master;
  });
  beforeEach(async () => {
    proxy = await FaultProxy.start({ host: server.host, port: server.port }, "test");
  });
  afterEach(async () => {
    await proxy.close();
    for (const c of opened.splice(0)) c.destroy();
  });

  it("passes queries and large results through, in order", async () => {
    const conn = await connectThrough();
    const [rows] = await conn.query("SELECT 1 + 1 AS two, @@port AS port");
    assert.deepEqual(rows, [{ two: 2, port: String(server.port) }]);
    // Several MiB each way exercise the proxy's backpressure.
    const big = "x".repeat(3 << 20);
    const [echo] = await conn.query("SELECT ? AS v, LENGTH(?) AS n", [big, big]);
    const r = (echo as { v: string; n: number }[])[0];
    assert.equal(r.n, big.length);
    assert.ok(r.v === big);
    const parallel = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.query("SELECT ? AS i", [i])));
    assert.deepEqual(parallel.map(([rs]) => (rs as { i: number }[])[0].i), Array.from({ length: 20 }, (_, i) => i));
    await conn.end();
    assert.equal(proxy.faults.length, 0);
  });

  it("cutAll() makes an open connection fail with a connection-lost error", async () => {
    const a = await connectThrough();
    const b = await connectThrough();
    await a.query("SELECT 1");
    const cut = proxy.cutAll();
    assert.equal(cut, 2);
    for (const c of [a, b]) {
      await assert.rejects(c.query("SELECT 1"), (err: NodeJS.ErrnoException) => {
        assert.ok(CONNECTION_LOST.includes(String(err.code)) || /closed state/.test(err.message), `unexpected error ${err.code}: ${err.message}`);
        return true;
      });
    }
    // The proxy still accepts connections.
    const c = await connectThrough();
    await c.query("SELECT 1");
    assert.equal(proxy.faults[0].kind, "cutAll");
    assert.equal(proxy.faults[0].side, "test");
  });

  it("stall(ms) holds a query until the stall ends, then it completes with nothing lost", async () => {
    const conn = await connectThrough();
    await conn.query("SELECT 1");
    const stalled = proxy.stall(HELD_MS + 1_500);
    const q = track(conn.query("SELECT 42 AS answer, REPEAT('y', 100000) AS pad"));
    const fresh = track(connectThrough({ connectTimeout: 60_000 }));
    await sleep(HELD_MS);
    assert.equal(q.state, "pending", "the query answered through a stalled proxy");
    assert.equal(fresh.state, "pending", "a new connection completed its handshake through a stalled proxy");
    await stalled;
    await q.done;
    await fresh.done;
    assert.equal(q.state, "fulfilled", `the query failed after the stall: ${String(q.error)}`);
    const [rows] = q.value!;
    assert.equal((rows as { answer: number; pad: string }[])[0].answer, 42);
    assert.equal((rows as { answer: number; pad: string }[])[0].pad.length, 100_000);
    assert.equal(fresh.state, "fulfilled", `the connection failed after the stall: ${String(fresh.error)}`);
    await fresh.value!.query("SELECT 1");
    assert.equal(proxy.faults[0].kind, "stall");
    assert.equal(proxy.faults[0].durationMs, HELD_MS + 1_500);
  });

  it("latency(ms) delays chunks and keeps them in order", async () => {
    const conn = await connectThrough();
    proxy.latency(100);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => conn.query("SELECT ? AS i", [i])));
    assert.deepEqual(results.map(([rs]) => (rs as { i: number }[])[0].i), Array.from({ length: 10 }, (_, i) => i));
    proxy.latency(0);
    await conn.query("SELECT 1");
    assert.equal(proxy.faults.length, 1);
    assert.equal(proxy.faults[0].kind, "latency");
    assert.ok(proxy.faults[0].durationMs !== undefined);
  });

  it("halfOpen() leaves a query unanswered and a new connect hanging until heal(), which cuts them", async () => {
    const conn = await connectThrough();
    await conn.query("SELECT 1");
    proxy.halfOpen();
    const q = track(conn.query("SELECT 7 AS seven"));
    const fresh = track(connectThrough({ connectTimeout: 60_000 }));
    await sleep(HELD_MS);
    assert.equal(q.state, "pending", `the query settled through a half-open proxy: ${String(q.error ?? "")}`);
    assert.equal(fresh.state, "pending", `a connect settled through a half-open proxy: ${String(fresh.error ?? "")}`);
    const cut = proxy.heal();
    assert.equal(cut, 2);
    await q.done;
    await fresh.done;
    assert.equal(q.state, "rejected");
    assert.ok(CONNECTION_LOST.includes(String((q.error as NodeJS.ErrnoException).code)), `unexpected error ${String(q.error)}`);
    assert.equal(fresh.state, "rejected");
    const again = await connectThrough();
    const [rows] = await again.query("SELECT 7 AS seven");
    assert.deepEqual(rows, [{ seven: 7 }]);
    assert.equal(proxy.faults[0].kind, "halfOpen");
    assert.ok((proxy.faults[0].durationMs ?? -1) >= HELD_MS);
  });

  it("refuse(ms) makes connects fail while it lasts, then they succeed", async () => {
    const open = await connectThrough();
    const refusing = proxy.refuse(2_000);
    await assert.rejects(connectThrough(), (err: NodeJS.ErrnoException) => {
      assert.ok(["ECONNRESET", "PROTOCOL_CONNECTION_LOST", "EPIPE"].includes(String(err.code)), `unexpected error ${err.code}: ${err.message}`);
      return true;
    });
    // Connections already open are not touched.
    await open.query("SELECT 1");
    await refusing;
    const c = await connectThrough();
    await c.query("SELECT 1");
    assert.equal(proxy.faults[0].kind, "refuse");
  });
});
