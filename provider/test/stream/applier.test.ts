/**
 * The applier on a real DR server, fed `ApplyItem`s directly: the cases the end-to-end tests
 * cannot time precisely (a table in its catch-up window after a copy).
 */
import * as assert from "node:assert/strict";
import { Mutex } from "async-mutex";
import { openConnection, openWireConnection } from "../../src/core/db";
import { parseGtidProgress } from "../../src/core/gtid";
import { initCheckpoint } from "../../src/dr-state/checkpoint-store";
import { PLAIN } from "../../src/sql/literals";
import { type AppliedBatch, Applier, type ApplierOptions } from "../../src/stream/applier";
import type { ApplyModes } from "../../src/stream/apply-modes";
import { BoundedQueue } from "../../src/stream/bounded-queue";
import { type ApplyItem, type RowChange, itemWeight } from "../../src/stream/change-events";
import { TablePlans } from "../../src/stream/table-plans";
import { serverAddress, sleep, sql, tableContents } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("applier", (getPair) => {
  it("while a copied table catches up, moves a row whose key changed instead of deleting it: ON DELETE CASCADE children stay", async () => {
    const { replica } = getPair();
    await sql(replica, `CREATE DATABASE ap; CREATE TABLE ap.parent (id INT PRIMARY KEY, v INT);
      CREATE TABLE ap.child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES ap.parent (id) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO ap.parent VALUES (1, 10); INSERT INTO ap.child VALUES (100, 1)`);
    const gtid = replica.flavor === "mysql" ? "3e11fa47-71ca-11e1-9e33-c80aa9429562:1" : "0-1-1";
    const catchingUp: ApplyModes = { modeOf: () => "idempotent", applied: () => undefined };
    const change: RowChange = {
      db: "ap", table: "parent", op: "update", columns: { names: ["id", "v"], kinds: [PLAIN, PLAIN] },
      rows: [[1, 10]], after: [[2, 20]], foreignKeyChecks: true, uniqueChecks: true,
    };
    await runApplier(replica, catchingUp, [{ kind: "rows", gtid, change }, { kind: "commit", gtid, timestampMs: Date.now() }]);
    assert.deepEqual(await tableContents(replica, "ap", "parent"), ['{"id":2,"v":20}']);
    assert.deepEqual(await tableContents(replica, "ap", "child"), ['{"id":100,"p":2}'], "the child follows the key (ON UPDATE CASCADE), and is not deleted");
    await sql(replica, "DROP DATABASE ap");
  });

  it("replays gathered rows in the master's order when an upsert leaves a row unchanged (a DR column less precise than the master's): the rows land and a warning says so", async () => {
    const { replica } = getPair();
    await sql(replica, "CREATE DATABASE ap; CREATE TABLE ap.t (id INT PRIMARY KEY, at DATETIME); INSERT INTO ap.t VALUES (1, '2020-01-01 00:00:00'), (2, '2020-01-01 00:00:00')");
    const columns = { names: ["id", "at"], kinds: [PLAIN, PLAIN] };
    const update = (n: number, id: number, before: string, after: string): ApplyItem[] => {
      const gtid = replica.flavor === "mysql" ? `3e11fa47-71ca-11e1-9e33-c80aa9429562:${n}` : `0-1-${n}`;
      const change: RowChange = { db: "ap", table: "t", op: "update", columns, rows: [[id, before]], after: [[id, after]], foreignKeyChecks: true, uniqueChecks: true };
      return [{ kind: "rows", gtid, change }, { kind: "commit", gtid, timestampMs: Date.now() }];
    };
    const warnings: string[] = [];
    await runApplier(replica, exact, [
      // The master's DATETIME(6) changed; the DR server's DATETIME rounds both values to the same second.
      ...update(1, 1, "2020-01-01 00:00:00.000000", "2020-01-01 00:00:00.100000"),
      ...update(2, 2, "2020-01-01 00:00:00.000000", "2020-01-01 00:00:05.000000"),
    ], { log: (_level, message) => warnings.push(message) });
    assert.deepEqual(await tableContents(replica, "ap", "t"), ['{"id":1,"at":"2020-01-01 00:00:00"}', '{"id":2,"at":"2020-01-01 00:00:05"}']);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /gathered statements failed where the same changes in the master's order apply/);
    await sql(replica, "DROP DATABASE ap");
  });
});

const exact: ApplyModes = { modeOf: () => "exact", applied: () => undefined };

/** Runs an applier over `items` until it has committed them all (or failed). */
async function runApplier(replica: TestServer, modes: ApplyModes, items: ApplyItem[], options: Pick<ApplierOptions, "log"> = {}): Promise<void> {
  const address = serverAddress(replica);
  const conn = await openWireConnection(address, "target", { multipleStatements: true });
  const catalog = await openConnection(address, "target");
  const applied: AppliedBatch[] = [];
  try {
    await initCheckpoint(conn, "applier-test", "", "test", true);
    const queue = new BoundedQueue<ApplyItem>({ limits: { highWater: 1_000, lowWater: 10 }, weigh: itemWeight, onFull: () => undefined, onDrain: () => undefined });
    const applier = new Applier({
      conn, link: "applier-test", flavor: replica.flavor, charsetOf: () => undefined, plans: new TablePlans(catalog, replica.flavor),
      progress: await parseGtidProgress(replica.flavor, ""), recoveredDdl: null, onMissingRow: "error", modes,
      applyLock: new Mutex(), sourceSeen: () => null, onApplied: (b) => applied.push(b), ...options,
    });
    const stop = new Error("all items applied");
    let done = false;
    const ended = applier.run(queue).catch((err: Error) => err).finally(() => (done = true));
    for (const item of items) queue.push(item);
    const transactions = items.filter((i) => i.kind === "commit").length;
    while (!done && applied.reduce((n, b) => n + b.transactions, 0) < transactions) await sleep(20);
    queue.close(stop);
    const result = await ended;
    if (result !== stop) throw result;
  } finally {
    conn.destroy();
    catalog.destroy();
  }
}
