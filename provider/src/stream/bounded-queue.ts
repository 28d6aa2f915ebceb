/**
 * The queue between the reader and the applier, bounded by weight (rows). The producer is told
 * when it crosses the high-water mark and when the consumer has drained it below the low one, so
 * the reader can pause the binlog socket: memory stays bounded whatever the backlog.
 */
export interface QueueLimits {
  /** Read at every push and take, so a budget may move them while the queue runs. */
  readonly highWater: number;
  readonly lowWater: number;
}

export interface BoundedQueueOptions<T> {
  limits: QueueLimits;
  weigh(item: T): number;
  onFull(): void;
  onDrain(): void;
}

export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private weight = 0;
  private full = false;
  private waiter?: { resolve(item: T): void; reject(err: Error): void };
  private closedWith?: Error;

  constructor(private readonly options: BoundedQueueOptions<T>) {}

  push(item: T): void {
    if (this.closedWith) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(item);
      return;
    }
    this.items.push(item);
    this.weight += this.options.weigh(item);
    if (!this.full && this.weight >= this.options.limits.highWater) {
      this.full = true;
      this.options.onFull();
    }
  }

  /** The next item; waits while the queue is empty. Rejects once the queue is closed. */
  take(): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.head < this.items.length) return Promise.resolve(this.shift());
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  isEmpty(): boolean {
    return this.head >= this.items.length;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  get queuedWeight(): number {
    return this.weight;
  }

  /** Wakes the consumer with `err` and drops what is queued (it will be read again from the checkpoint). */
  close(err: Error): void {
    this.closedWith = err;
    this.items = [];
    this.head = 0;
    this.weight = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  private shift(): T {
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.weight -= this.options.weigh(item);
    if (this.full && this.weight <= this.options.limits.lowWater) {
      this.full = false;
      this.options.onDrain();
    }
    return item;
  }
}

/** A queue's part of a `QueueBudget`, held while its link runs. */
export interface QueueShare extends QueueLimits {
  /** Gives the share back; the queues still open get larger ones. */
  leave(): void;
}

/**
 * The rows all of a daemon's queues may hold together, split evenly over the queues open at the
 * moment, each share between a floor and a ceiling. Queued rows are most of the daemon's heap,
 * so its memory is bounded by the daemon and not per link: with a fixed 5,000 rows per link, 32
 * links catching up together peaked at 202 to 208 MiB RSS against 175 for one link.
 */
export class QueueBudget {
  private readonly shares = new Set<{ highWater: number; lowWater: number }>();

  constructor(
    private readonly totalRows: number,
    private readonly maxShareRows: number,
    private readonly minShareRows: number,
  ) {}

  join(): QueueShare {
    const share = {
      highWater: 0,
      lowWater: 0,
      leave: () => {
        if (this.shares.delete(share)) this.split();
      },
    };
    this.shares.add(share);
    this.split();
    return share;
  }

  private split(): void {
    const highWater = Math.max(this.minShareRows, Math.min(this.maxShareRows, Math.floor(this.totalRows / Math.max(1, this.shares.size))));
    // The reader resumes at a quarter of the share: enough queued to keep the applier's next batch full.
    for (const share of this.shares) {
      share.highWater = highWater;
      share.lowWater = Math.floor(highWater / 4);
    }
  }
}
