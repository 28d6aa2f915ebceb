/**
 * A binlog stream that falls silent is judged with the master's help: the master's dump thread
 * says whether it is still at work for the stream (a GTID seek through a long binlog sends
 * nothing, heartbeats included: 32 links started at once on a master with a long binlog file all
 * fell silent for over 5 s and reconnected, over and over) or has sent everything, so that the
 * heartbeats it sends did not arrive. Real master; the silence limit is shortened to 300 ms.
 */
import * as assert from "node:assert/strict";
import { parseServerUrl } from "../../src/core/connection-url";
import { type Connection, openConnection } from "../../src/core/db";
import { threadState } from "../../src/core/server-inspector";
import { BinlogReader } from "../../src/stream/binlog-reader";
import type { SourceEvent } from "../../src/stream/change-events";
import { masterPosition, sleep, sql, waitFor } from "../support/daemon-process";
import { FaultProxy } from "../support/fault-proxy";
import { type TestServer, describeEachBackend } from "../support/servers";

const DB = "binlog_silence";
const SILENCE_LIMIT_MS = 300;

describeEachBackend("a silent binlog stream", (getPair) => {
  let master: TestServer;
  let asker: Connection;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    ({ master } = getPair());
    asker = await openConnection(parseServerUrl(master.url), "source");
    await sql(master, `CREATE DATABASE IF NOT EXISTS ${DB}; CREATE TABLE IF NOT EXISTS ${DB}.blobs (id INT PRIMARY KEY, b LONGBLOB)`);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(() => asker?.destroy());

  function reader(url: string, from: string, serverId: number, onEvent: (e: SourceEvent) => void, onError: (err: Error) => void): BinlogReader {
    const r = new BinlogReader({
      source: parseServerUrl(url),
      fromGtid: from,
      replicaServerId: serverId,
      charsetOf: () => "utf8mb4",
      onEvent,
      onError,
      dumpState: (id) => threadState(asker, id),
      silenceLimitMs: SILENCE_LIMIT_MS,
    });
    cleanups.push(() => r.stop());
    return r;
  }

  it("ends as unresponsive when the master's dump thread says it has sent everything (its heartbeats did not arrive)", async () => {
    // Idle master: a heartbeat every second, so silences longer than 300 ms come between them.
    let failure: Error | undefined;
    const r = reader(master.url, await masterPosition(master), 4201, () => undefined, (err) => (failure ??= err));
    await r.start();
    await waitFor("the stream to be declared unresponsive", async () => failure, 10_000, 50);
    assert.match(failure!.message, /^Source unresponsive: no binlog event or heartbeat from the master at .* \(the master says it sent everything\); reconnecting\.$/);
    assert.equal(r.silencesExcused, 0);
  });

  it("goes on while the master's dump thread is still sending, and loses nothing", async () => {
    const proxy = await FaultProxy.start(parseServerUrl(master.url), "source");
    cleanups.push(() => proxy.close());
    const from = await masterPosition(master);
    const ids: number[] = [];
    let failure: Error | undefined;
    const r = reader(proxy.rewriteUrl(master.url), from, 4202, (e) => {
      if (e.kind === "rows" && e.change.table === "blobs") for (const row of e.change.rows) ids.push(Number(row[0]));
    }, (err) => (failure ??= err));
    await r.start();
    // Reading paused (backpressure: silence is not counted then), 48 MiB committed: far more than
    // the proxy and the sockets hold, so the master's dump thread blocks sending them.
    r.pause();
    await sql(master, `DELETE FROM ${DB}.blobs; ${Array.from({ length: 48 }, (_, i) => `INSERT INTO ${DB}.blobs VALUES (${i}, REPEAT('x', 1048576))`).join("; ")}`);
    await sleep(500);
    // Reading again, but the network stalls: silence, with the master at work for this stream.
    const stalled = proxy.stall(2_000);
    r.resume();
    await stalled;
    assert.equal(failure, undefined, `the stream ended during the stall: ${failure?.message}`);
    assert.ok(r.silencesExcused >= 1, "the silence was put to the master, which said its dump thread was at work");
    await waitFor("every row to arrive after the stall", async () => {
      if (failure) throw failure;
      return ids.length >= 48;
    }, 30_000, 50);
    assert.deepEqual(ids.slice(-48), Array.from({ length: 48 }, (_, i) => i));
    assert.equal(failure, undefined);
  });
});
