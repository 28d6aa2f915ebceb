/**
 * The bounded queue between reader and applier: the producer is told at the high-water mark and
 * again once the consumer drains it to the low one; take() waits for an item; close() wakes a
 * waiting consumer with the error. Pure: no server.
 */
import * as assert from "node:assert/strict";
import { BoundedQueue, QueueBudget } from "../../src/stream/bounded-queue";

interface Item {
  id: number;
  rows: number;
}

function makeQueue(highWater = 10, lowWater = 4) {
  const events: string[] = [];
  const queue = new BoundedQueue<Item>({
    limits: { highWater, lowWater },
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

  it("follows limits that move while it runs: a smaller share pauses the producer at the next push", () => {
    const limits = { highWater: 10, lowWater: 4 };
    const events: string[] = [];
    const queue = new BoundedQueue<Item>({ limits, weigh: (i) => i.rows, onFull: () => events.push("full"), onDrain: () => events.push("drain") });
    queue.push({ id: 1, rows: 6 });
    limits.highWater = 6;
    queue.push({ id: 2, rows: 1 });
    assert.deepEqual(events, ["full"]);
  });
});

describe("queue-budget", () => {
  it("splits its rows evenly over the queues that joined, between the floor and the ceiling", () => {
    const budget = new QueueBudget(20_000, 5_000, 500);
    const first = budget.join();
    assert.deepEqual([first.highWater, first.lowWater], [5_000, 1_250]);
    const more = Array.from({ length: 7 }, () => budget.join());
    assert.deepEqual([first.highWater, more[6].highWater, first.lowWater], [2_500, 2_500, 625]);
    const many = Array.from({ length: 56 }, () => budget.join());
    assert.deepEqual([first.highWater, many[0].highWater], [500, 500]);
  });

  it("gives a queue's share back to the others when it leaves, once", () => {
    const budget = new QueueBudget(20_000, 5_000, 500);
    const shares = Array.from({ length: 8 }, () => budget.join());
    shares[7].leave();
    shares[7].leave();
    assert.equal(shares[0].highWater, Math.floor(20_000 / 7));
    for (const share of shares.slice(1, 7)) share.leave();
    assert.equal(shares[0].highWater, 5_000);
  });
});
