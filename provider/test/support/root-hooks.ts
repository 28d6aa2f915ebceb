/**
 * Mocha root hooks (loaded with `require` in the mocha config): say once which test backends run
 * and which were skipped, and stop every test server when the run ends, even after a failure.
 */
import type { RootHookObject } from "mocha";
import { printBackendSummaryOnce, stopAllTestServers } from "./servers";

/** The summary may wait for the container engine probe. */
const SUMMARY_TIMEOUT_MS = 60_000;
const STOP_ALL_TIMEOUT_MS = 180_000;

export const mochaHooks: RootHookObject = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(SUMMARY_TIMEOUT_MS);
    await printBackendSummaryOnce();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(STOP_ALL_TIMEOUT_MS);
    await stopAllTestServers();
  },
};
