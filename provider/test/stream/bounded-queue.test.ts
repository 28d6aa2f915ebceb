/**
 * The bounded queue between reader and applier: the producer is told at the high-water mark and
 * again once the consumer drains it to the low one; take() waits for an item; close() wakes a
 * waiting consumer with the error. Pure: no server.
 */
import * as assert from "node:assert/strict";
import { BoundedQueue } from "../../src/stream/bounded-queue";

interface Item {
  id: number;
  rows: number;
}

function makeQueue(highWater = 10, lowWater = 4) {
  const events: string[] = [];
  const queue = new BoundedQueue<Item>({
    highWater,
    lowWater,
    weigh: (i) => i.rows,
    onFull: () => events.push("full"),
    onDrain: () => events.push("drain"),
  });
  return { queue, events };
}

/** Settles with "pending" when the promise has not settled by the next macrotask. */
function state<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown } | "pending"> {
  return Promise.race([
    p.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<"pending">((resolve) => setImmediate(() => resolve("pending"))),
  ]);
}

describe("bounded-queue", () => {
  it("hands out items in the order they were pushed", async () => {
    const { queue } = makeQueue();
    for (let id = 1; id <= 3; id++) queue.push({ id, rows: 1 });
    assert.deepEqual([(await queue.take()).id, (await queue.take()).id, (await queue.take()).id], [1, 2, 3]);
  });

  it("tracks size and queued weight", () => {
    const { queue } = makeQueue();
    queue.push({ id: 1, rows: 3 });
    queue.push({ id: 2, rows: 2 });
    assert.equal(queue.size, 2);
    assert.equal(queue.queuedWeight, 5);
    assert.equal(queue.isEmpty(), false);
  });

  it("does not call onFull below the high-water mark", () => {
    const { queue, events } = makeQueue(10, 4);
    queue.push({ id: 1, rows: 9 });
    assert.deepEqual(events, []);
  });

  it("calls onFull once when the weight reaches the high-water mark", () => {
    const { queue, events } = makeQueue(10, 4);
    queue.push({ id: 1, rows: 9 });
    queue.push({ id: 2, rows: 1 });
    assert.deepEqual(events, ["full"]);
  });

  it("does not call onFull again while it stays full", () => {
    const { queue, events } = makeQueue(10, 4);
    queue.push({ id: 1, rows: 10 });
    queue.push({ id: 2, rows: 5 });
    queue.push({ id: 3, rows: 5 });
    assert.deepEqual(events, ["full"]);
  });

  it("does not call onDrain while the weight is above the low-water mark", async () => {
    const { queue, events } = makeQueue(10, 4);
    for (let id = 1; id <= 6; id++) queue.push({ id, rows: 2 }); // 12
    await queue.take(); // 10
    await queue.take(); // 8
    await queue.take(); // 6
    assert.deepEqual(events, ["full"]);
  });

  it("calls onDrain once when the weight falls to the low-water mark", async () => {
    const { queue, events } = makeQueue(10, 4);
    for (let id = 1; id <= 6; id++) queue.push({ id, rows: 2 }); // 12
    for (let i = 0; i < 4; i++) await queue.take(); // 4
    assert.deepEqual(events, ["full", "drain"]);
    await queue.take(); // 2
    assert.deepEqual(events, ["full", "drain"]);
  });

  it("never calls onDrain when it was never full", async () => {
    const { queue, events } = makeQueue(10, 4);
    queue.push({ id: 1, rows: 5 });
    await queue.take();
    assert.deepEqual(events, []);
  });

  it("calls onFull again after a drain when it fills up again", async () => {
    const { queue, events } = makeQueue(10, 4);
    queue.push({ id: 1, rows: 10 });
    await queue.take();
    queue.push({ id: 2, rows: 10 });
    assert.deepEqual(events, ["full", "drain", "full"]);
  });

  it("take() waits while the queue is empty and resolves with the next push", async () => {
    const { queue } = makeQueue();
    const taken = queue.take();
    assert.equal(await state(taken), "pending");
    queue.push({ id: 7, rows: 1 });
    assert.deepEqual(await state(taken), { value: { id: 7, rows: 1 } });
  });

  it("close() rejects a waiting take() with the given error", async () => {
    const { queue } = makeQueue();
    const taken = queue.take();
    const why = new Error("reader failed");
    queue.close(why);
    assert.deepEqual(await state(taken), { error: why });
  });

  it("take() after close() rejects with the close error, even with items pushed before", async () => {
    const { queue } = makeQueue();
    queue.push({ id: 1, rows: 1 });
    const why = new Error("stopped");
    queue.close(why);
    await assert.rejects(queue.take(), (err) => err === why);
  });

  it("drops what was queued on close() and ignores later pushes", () => {
    const { queue } = makeQueue();
    queue.push({ id: 1, rows: 3 });
    queue.close(new Error("stopped"));
    queue.push({ id: 2, rows: 3 });
    assert.equal(queue.size, 0);
    assert.equal(queue.queuedWeight, 0);
  });

  it("keeps order and weight across many items (internal compaction)", async () => {
    const { queue } = makeQueue(1_000_000, 10);
    const N = 5000;
    for (let id = 0; id < N; id++) queue.push({ id, rows: 1 });
    for (let id = 0; id < N; id++) assert.equal((await queue.take()).id, id);
    assert.equal(queue.queuedWeight, 0);
    assert.equal(queue.isEmpty(), true);
  });
});
