/**
 * The lock that keeps the DR server's writers apart: the applier's batches, DDL and barriers take
 * it alone, the initial copy for its chunks (copy/copy-window.ts). It also says whether anyone
 * waits for it, so the copy holds it for long stretches only while no one does.
 */
import { Mutex, type MutexInterface } from "async-mutex";

export class ApplyLock extends Mutex {
  private waiting = 0;

  /** Someone waits to take the lock. */
  get contended(): boolean {
    return this.waiting > 0;
  }

  override async acquire(priority?: number): Promise<MutexInterface.Releaser> {
    this.waiting++;
    try {
      return await super.acquire(priority);
    } finally {
      this.waiting--;
    }
  }

  /** Through `acquire`, so a waiter here counts too (Mutex's own goes to its semaphore directly). */
  override async runExclusive<T>(callback: MutexInterface.Worker<T>, priority?: number): Promise<T> {
    const release = await this.acquire(priority);
    try {
      return await callback();
    } finally {
      release();
    }
  }
}
