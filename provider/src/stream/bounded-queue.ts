/**
 * The queue between the reader and the applier, bounded by weight (rows). The producer is told
 * when it crosses the high-water mark and when the consumer has drained it below the low one, so
 * the reader can pause the binlog socket: memory stays bounded whatever the backlog.
 */
export interface BoundedQueueOptions<T> {
  highWater: number;
  lowWater: number;
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
    if (!this.full && this.weight >= this.options.highWater) {
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
    if (this.full && this.weight <= this.options.lowWater) {
      this.full = false;
      this.options.onDrain();
    }
    return item;
  }
}
