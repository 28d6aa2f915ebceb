/**
 * A fault-injection TCP proxy for tests (node:net only). It listens on 127.0.0.1:<free port> and
 * forwards every accepted connection to a target host:port. Faults, each recorded in `faults`:
 *
 * - cutAll():      destroys every open client and server socket at once, with RSTs (a network blip,
 *                  a failover).
 * - stall(ms):     forwards nothing in either direction for ms; sockets stay open and reading stops
 *                  (TCP backpressure), then everything held is delivered in order, nothing lost
 *                  (a hung peer, a partition that heals).
 * - latency(ms):   delays every chunk by ms (0 turns it off); order is kept.
 * - halfOpen():    black hole: every byte in both directions is dropped and no FIN/RST ever reaches
 *                  the client (a peer that vanished without closing); new connections are accepted
 *                  and never forwarded. heal() ends it and cuts those connections, so the client
 *                  must reconnect.
 * - refuse(ms):    closes new connections immediately (RST) for ms.
 */
import * as net from "node:net";
import { formatServerUrl, parseServerUrl } from "../../src/core/connection-url";

export type FaultKind = "cutAll" | "stall" | "latency" | "halfOpen" | "refuse";

export interface FaultRecord {
  kind: FaultKind;
  /** The proxy's label, e.g. "source" or "target". */
  side: string;
  /** Date.now() when the fault began. */
  startedAt: number;
  /** How long it lasted; 0 for cutAll; undefined while it lasts. */
  durationMs: number | undefined;
  /** cutAll and heal: how many connections were cut. latency: the delay. */
  detail?: string;
}

/** Bytes held per direction before the proxy stops reading from the sender. */
const HIGH_WATER_BYTES = 1 << 20;

interface Chunk {
  data: Buffer;
  due: number;
}

/** One direction of one connection: chunks from `from` delivered to `to`, in order. */
class Direction {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private ended = false;
  private endSent = false;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly conn: Conn,
    private readonly fromSocket: () => net.Socket | undefined,
    private readonly to: () => net.Socket | undefined,
  ) {}

  private get from(): { pause(): void; resume(): void } {
    return this.fromSocket() ?? { pause: () => undefined, resume: () => undefined };
  }

  accept(data: Buffer): void {
    if (this.conn.blackholed) return;
    this.queue.push({ data, due: Date.now() + this.proxy.latencyMs });
    this.queuedBytes += data.length;
    if (this.queuedBytes > HIGH_WATER_BYTES) this.from.pause();
    this.pump();
  }

  /** The sender half-closed: end the receiver once everything before it was delivered. */
  end(): void {
    this.ended = true;
    this.pump();
  }

  clear(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  pump(): void {
    const to = this.to();
    if (!to || this.conn.closed || this.conn.blackholed || this.proxy.stalled || this.waitingDrain) return;
    if (this.timer) return;
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.data.length;
      if (!to.write(head.data)) {
        this.waitingDrain = true;
        to.once("drain", () => {
          this.waitingDrain = false;
          this.pump();
        });
        return;
      }
    }
    if (this.queuedBytes <= HIGH_WATER_BYTES && !this.proxy.stalled) this.from.resume();
    if (this.ended && !this.endSent) {
      this.endSent = true;
      to.end();
      // A peer that ignores the half-close is not kept forever.
      setTimeout(() => this.conn.cut(false), 2_000).unref();
    }
  }
}

class Conn {
  server: net.Socket | undefined;
  closed = false;
  blackholed: boolean;
  readonly up: Direction;
  readonly down: Direction;

  constructor(readonly proxy: FaultProxy, readonly client: net.Socket) {
    this.blackholed = proxy.blackhole;
    this.up = new Direction(proxy, this, () => this.client, () => this.server);
    this.down = new Direction(proxy, this, () => this.server, () => this.client);
  }

  /** Destroys both sockets; with `rst` the peers see a reset instead of a FIN. */
  cut(rst: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.up.clear();
    this.down.clear();
    for (const s of [this.client, this.server]) {
      if (!s || s.destroyed) continue;
      if (rst) s.resetAndDestroy();
      else s.destroy();
    }
    this.proxy.forget(this);
  }

  /** A peer half-closed (FIN): deliver what is held, then pass the FIN on, unless black-holed. */
  peerEnded(which: "client" | "server"): void {
    if (this.closed || this.blackholed) return;
    (which === "client" ? this.up : this.down).end();
  }

  /** A peer's socket closed: an error cuts the other side with a RST; a clean close passes a FIN on. */
  peerClosed(which: "client" | "server", hadError: boolean): void {
    if (this.closed) return;
    if (this.blackholed) {
      // A vanished peer: the client hears nothing, ever. When the client goes, so does the server side.
      if (which === "client") this.cut(false);
      return;
    }
    const other = which === "client" ? this.server : this.client;
    if (hadError || !other || other.destroyed) this.cut(hadError);
    else this.peerEnded(which);
  }
}

export class FaultProxy {
  readonly faults: FaultRecord[] = [];
  latencyMs = 0;
  stalled = false;
  blackhole = false;
  private refusingUntil = 0;
  private readonly conns = new Set<Conn>();
  private stallTimer: NodeJS.Timeout | undefined;
  private stallEnd: (() => void) | undefined;
  private latencyRecord: FaultRecord | undefined;
  private halfOpenRecord: FaultRecord | undefined;
  private acceptedCount = 0;

  private constructor(private readonly listener: net.Server, readonly port: number, readonly targetHost: string, readonly targetPort: number, readonly side: string) {}

  /** Starts a proxy to host:port on a free port of 127.0.0.1. */
  static async start(target: { host: string; port: number }, side: string): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => proxy!.onConnection(socket));
    const port = await new Promise<number>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(0, "127.0.0.1", () => resolve((listener.address() as net.AddressInfo).port));
    });
    proxy = new FaultProxy(listener, port, target.host, target.port, side);
    return proxy;
  }

  /** `url` (mysql://user:pw@host:port) with its address replaced by the proxy's. */
  rewriteUrl(url: string): string {
    const a = parseServerUrl(url);
    return formatServerUrl({ ...a, host: "127.0.0.1", port: this.port });
  }

  /** Connections open now (both directions forwarded or black-holed). */
  get openConnections(): number {
    return this.conns.size;
  }

  /** Connections accepted since start. */
  get accepted(): number {
    return this.acceptedCount;
  }

  private onConnection(client: net.Socket): void {
    this.acceptedCount++;
    client.on("error", () => undefined);
    if (Date.now() < this.refusingUntil) {
      client.resetAndDestroy();
      return;
    }
    const conn = new Conn(this, client);
    this.conns.add(conn);
    client.on("data", (d: Buffer) => conn.up.accept(d));
    client.on("end", () => conn.peerEnded("client"));
    client.on("close", (hadError) => conn.peerClosed("client", hadError));
    if (conn.blackholed) {
      // Accepted, never forwarded.
      client.resume();
      return;
    }
    const server = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true });
    conn.server = server;
    server.on("error", () => undefined);
    server.on("data", (d: Buffer) => conn.down.accept(d));
    server.on("end", () => conn.peerEnded("server"));
    server.on("close", (hadError) => conn.peerClosed("server", hadError));
    server.once("connect", () => {
      if (!this.stalled) client.resume();
      conn.up.pump();
    });
    if (this.stalled) server.pause();
  }

  /** @internal */
  forget(conn: Conn): void {
    this.conns.delete(conn);
  }

  private record(kind: FaultKind, durationMs: number | undefined, detail?: string): FaultRecord {
    const r: FaultRecord = { kind, side: this.side, startedAt: Date.now(), durationMs, detail };
    this.faults.push(r);
    return r;
  }

  /** Destroys every open connection at once with RSTs. Returns how many were cut. */
  cutAll(): number {
    const n = this.conns.size;
    this.record("cutAll", 0, `${n} connections`);
    for (const c of [...this.conns]) c.cut(true);
    return n;
  }

  /** Forwards nothing for ms, then resumes with nothing lost. Resolves when the stall ends. */
  stall(ms: number): Promise<void> {
    if (this.stalled) throw new Error(`the ${this.side} proxy is already stalled`);
    this.record("stall", ms);
    this.stalled = true;
    for (const c of this.conns) {
      c.client.pause();
      c.server?.pause();
    }
    return new Promise<void>((resolve) => {
      this.stallEnd = resolve;
      this.stallTimer = setTimeout(() => this.endStall(), ms);
    });
  }

  private endStall(): void {
    if (!this.stalled) return;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.stalled = false;
    for (const c of [...this.conns]) {
      c.client.resume();
      c.server?.resume();
      c.up.pump();
      c.down.pump();
    }
    const done = this.stallEnd;
    this.stallEnd = undefined;
    done?.();
  }

  /** Delays every chunk by ms from now on; 0 turns latency off. */
  latency(ms: number): void {
    if (this.latencyRecord) {
      this.latencyRecord.durationMs = Date.now() - this.latencyRecord.startedAt;
      this.latencyRecord = undefined;
    }
    this.latencyMs = ms;
    if (ms > 0) this.latencyRecord = this.record("latency", undefined, `${ms} ms per chunk`);
  }

  /** Black hole until heal(): bytes dropped both ways, no FIN/RST to clients, new connections never forwarded. */
  halfOpen(): void {
    if (this.blackhole) return;
    this.blackhole = true;
    this.halfOpenRecord = this.record("halfOpen", undefined);
    for (const c of this.conns) {
      c.blackholed = true;
      c.up.clear();
      c.down.clear();
      // Keep reading (and dropping) from both sides so nothing pushes back.
      c.client.resume();
      c.server?.resume();
    }
  }

  /** Ends halfOpen: cuts every black-holed connection (RST) so clients reconnect. Returns how many. */
  heal(): number {
    if (!this.blackhole) return 0;
    this.blackhole = false;
    let n = 0;
    for (const c of [...this.conns]) {
      if (c.blackholed) {
        n++;
        c.cut(true);
      }
    }
    if (this.halfOpenRecord) {
      this.halfOpenRecord.durationMs = Date.now() - this.halfOpenRecord.startedAt;
      this.halfOpenRecord.detail = `${n} connections cut at heal`;
      this.halfOpenRecord = undefined;
    }
    return n;
  }

  /** Closes new connections immediately for ms. Resolves when connections are accepted again. */
  refuse(ms: number): Promise<void> {
    this.record("refuse", ms);
    this.refusingUntil = Date.now() + ms;
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Ends every fault, cuts every connection and stops listening. */
  async close(): Promise<void> {
    this.endStall();
    this.heal();
    this.latency(0);
    this.refusingUntil = 0;
    for (const c of [...this.conns]) c.cut(false);
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
  }
}
