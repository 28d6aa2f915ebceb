/**
 * The copy's side of the apply lock: a chunk must be read and written with no applier batch in
 * between (copy-modes.ts says why), but chunks of different workers, and a worker's next read and
 * its current write, may overlap. So the copy holds the apply lock for a window shared by every
 * chunk in flight: the first chunk to enter takes the lock, the last to leave gives it back. While
 * someone waits for the lock (the applier, a barrier), a window admits new chunks for WINDOW_MS
 * only, then drains, so they get their turn; while no one does, chunks keep flowing.
 */
import type { ApplyLock } from "../stream/apply-lock";

/** How long a window admits chunks once someone waits (who waits about this, plus a chunk's write). */
export const WINDOW_MS = 1000;

export class CopyWindow {
  private release: (() => void) | null = null;
  private openedAt = 0;
  private inFlight = 0;
  private acquiring: Promise<void> | null = null;
  private drained: { promise: Promise<void>; resolve: () => void } | null = null;
  private closed = false;

  constructor(private readonly lock: ApplyLock, private readonly windowMs = WINDOW_MS) {}

  /** Waits until the chunk may start (true; then `leave` follows), or the copy stopped (false). */
  async enter(): Promise<boolean> {
    for (;;) {
      if (this.closed) return false;
      if (this.release) {
        if (!this.lock.contended || Date.now() - this.openedAt < this.windowMs) {
          this.inFlight++;
          return true;
        }
        // Someone waits and this window is over: wait for it to drain and them to have their turn.
        this.drained ??= deferred();
        await this.drained.promise;
        continue;
      }
      this.acquiring ??= this.lock.acquire().then((release) => {
        this.acquiring = null;
        if (this.closed) return release();
        this.release = release;
        this.openedAt = Date.now();
      });
      await this.acquiring;
    }
  }

  /** A chunk that entered is written (or failed): the lock goes back once none is in flight. */
  leave(): void {
    if (--this.inFlight === 0 && this.release) this.giveBack();
  }

  /**
   * The copy ends (or failed): no chunk enters any more, and the lock goes back once the chunks
   * in flight have settled (their sessions are closed, so they settle at once), not before.
   */
  close(): void {
    this.closed = true;
    if (this.inFlight === 0 && this.release) this.giveBack();
    this.drained?.resolve();
  }

  private giveBack(): void {
    const release = this.release!;
    this.release = null;
    const drained = this.drained;
    this.drained = null;
    release();
    drained?.resolve();
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
