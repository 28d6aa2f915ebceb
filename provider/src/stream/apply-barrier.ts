/**
 * Holding a running link at one transaction boundary, for verification at a GTID barrier: the DR
 * server then holds exactly the master transactions the link's checkpoint names, all committed,
 * and nothing is applied until the hold is released.
 *
 * A hold is the applier's apply lock (the mutex a batch holds from its first statement to its
 * commit, which the initial copy's chunks take too): while it is held no batch is open, so the
 * checkpoint the DR server has committed is exactly the GTID progress the applier keeps. Moving a
 * hold forward to a GTID lets the applier run to the first boundary that covers it, where the
 * applier cuts its batch, commits, and waits (Applier.stopAt); the hold is taken again there.
 */
import { Mutex } from "async-mutex";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { type GtidProgress, gtidCovers } from "../core/gtid";
import type { Applier } from "./applier";

export interface ApplyBarrierOptions {
  applier: Applier;
  applyLock: Mutex;
  progress: GtidProgress;
  flavor: Flavor;
  link: string;
  /** Rejects when the pipeline that runs this applier ends (failure, stop, restart). */
  ended: Promise<never>;
}

export class ApplyBarrier {
  /** One hold at a time: a hold lets go of the apply lock while the applier runs to its stop. */
  private readonly holders = new Mutex();

  constructor(private readonly o: ApplyBarrierOptions) {}

  /** Holds the link at the boundary after its current batch; fails when that takes longer than `timeoutMs`. */
  async hold(timeoutMs: number): Promise<ApplyHold> {
    const deadline = Date.now() + timeoutMs;
    const releaseHolder = await acquireWithin(this.holders, timeoutMs, this.o.ended, () =>
      new DrError("CONFLICT", `Another verification held link ${this.o.link} at a barrier for more than ${seconds(timeoutMs)} s; run this one again when it is done.`));
    try {
      const release = await acquireWithin(this.o.applyLock, Math.max(0, deadline - Date.now()), this.o.ended, () =>
        new DrError("CONFLICT", `Link ${this.o.link}'s applier did not finish its current batch within ${seconds(timeoutMs)} s (a long transaction or DDL, or a lock wait on the DR server), so it could not be held at a transaction boundary; run the verification again later.`));
      return new ApplyHold(this.o, release, releaseHolder);
    } catch (err) {
      releaseHolder();
      throw err;
    }
  }
}

/** Acquires `mutex` unless the pipeline ends or `timeoutMs` passes first; acquired late, it is given back at once. */
async function acquireWithin(mutex: Mutex, timeoutMs: number, ended: Promise<never>, timedOut: () => Error): Promise<() => void> {
  const acquiring = mutex.acquire();
  try {
    return await within(acquiring, timeoutMs, ended, timedOut);
  } catch (err) {
    void acquiring.then((release) => release(), () => undefined);
    throw err;
  }
}

export class ApplyHold {
  private release?: () => void;

  constructor(private readonly o: ApplyBarrierOptions, release: () => void, private releaseHolder?: () => void) {
    this.release = release;
  }

  /** Master GTIDs applied and committed on the DR server where the link is held. */
  get applied(): string {
    return this.o.progress.toString();
  }

  /**
   * Lets the link apply up to `gtid` and holds it at the first transaction boundary that covers
   * it. The caller checked that `gtid` covers what is applied already (a barrier is never behind).
   */
  async advanceTo(gtid: string, timeoutMs: number): Promise<void> {
    if (!this.release) throw new Error("advanceTo on a released hold");
    if (gtidCovers(this.o.flavor, this.applied, gtid)) return;
    const stop = this.o.applier.stopAt(gtid);
    this.release();
    this.release = undefined;
    try {
      await within(stop.reached, timeoutMs, this.o.ended, () =>
        new DrError("CONFLICT", `Link ${this.o.link} did not apply up to the barrier GTID ${gtid} within ${seconds(timeoutMs)} s (it had applied ${this.applied}); run the verification again once the link has caught up.`));
    } catch (err) {
      stop.pass();
      throw err;
    }
    // The applier waits at the stop with its batch committed and the lock free.
    this.release = await this.o.applyLock.acquire();
    stop.pass();
  }

  /** Lets the link go on; idempotent. */
  releaseHold(): void {
    this.release?.();
    this.release = undefined;
    this.releaseHolder?.();
    this.releaseHolder = undefined;
  }
}

/** `work`, unless the pipeline ends or `timeoutMs` passes first. */
async function within<T>(work: Promise<T>, timeoutMs: number, ended: Promise<never>, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), timeoutMs);
  });
  const stopped = ended.catch((err: unknown) => {
    throw new DrError("CONFLICT", `The link stopped while it was held for the verification (${err instanceof Error ? err.message : String(err)}); run the verification again once it runs.`, { cause: err });
  });
  try {
    return await Promise.race([work, timeout, stopped]);
  } finally {
    clearTimeout(timer);
  }
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
