/** ApplyLock says whether anyone waits for it, however they wait (the copy window reads it). Pure: no server. */
import * as assert from "node:assert/strict";
import { ApplyLock } from "../../src/stream/apply-lock";

describe("ApplyLock", () => {
  for (const how of ["acquire", "runExclusive"] as const) {
    it(`is contended while a ${how} waits, and no longer once it has run`, async () => {
      const lock = new ApplyLock();
      const release = await lock.acquire();
      assert.equal(lock.contended, false, "the holder alone does not contend");
      const waiter = how === "acquire" ? lock.acquire().then((r) => r()) : lock.runExclusive(async () => undefined);
      await Promise.resolve();
      assert.equal(lock.contended, true);
      release();
      await waiter;
      assert.equal(lock.contended, false);
    });
  }
});
