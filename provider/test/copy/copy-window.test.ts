/** The copy's window on the apply lock: who holds the lock when. Pure (no servers: it is a lock). */
import * as assert from "node:assert/strict";
import { CopyWindow } from "../../src/copy/copy-window";
import { ApplyLock } from "../../src/stream/apply-lock";

/** Lets every promise that can settle now settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("copy window", () => {
  it("keeps admitting chunks while no one waits for the apply lock, then lets a waiter in only once every chunk in flight has left", async () => {
    const lock = new ApplyLock();
    // A window of 0 ms: it is over as soon as someone waits.
    const window = new CopyWindow(lock, 0);
    assert.equal(await window.enter(), true);
    assert.equal(await window.enter(), true, "no one waits: a second chunk enters the open window");
    let applierHasLock = false;
    const applier = lock.acquire().then((release) => {
      applierHasLock = true;
      return release;
    });
    await settle();
    assert.equal(lock.contended, true);
    let thirdEntered = false;
    const third = window.enter().then((entered) => (thirdEntered = entered));
    window.leave();
    await settle();
    assert.equal(applierHasLock, false, "a chunk is still in flight: the applier waits");
    assert.equal(thirdEntered, false, "someone waits and the window is over: no new chunk enters");
    window.leave();
    await settle();
    assert.equal(applierHasLock, true, "the last chunk left: the applier's turn");
    assert.equal(thirdEntered, false, "the next chunk waits for the applier");
    (await applier)();
    await third;
    assert.equal(thirdEntered, true, "the applier is done: the next window opens");
    window.leave();
    assert.equal(lock.isLocked(), false);
  });

  it("once closed admits no chunk, and gives the lock back when the chunks in flight have left", async () => {
    const lock = new ApplyLock();
    const window = new CopyWindow(lock, 0);
    assert.equal(await window.enter(), true);
    window.close();
    assert.equal(await window.enter(), false);
    assert.equal(lock.isLocked(), true, "a chunk is still in flight");
    window.leave();
    assert.equal(lock.isLocked(), false);
  });
});
