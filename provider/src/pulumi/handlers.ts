/**
 * What the SDK's provider shim calls, by resource: check, diff, create, read, update and delete
 * (pulumi.dynamic.ResourceProvider). The shim requires this module at call time, so the installed
 * package version always runs.
 */
import * as dataCheck from "./data-check";
import * as drInstance from "./dr-instance";
import * as syncLink from "./sync-link";

type Handlers = typeof drInstance | typeof syncLink | typeof dataCheck;

export const handlers: Record<"DrInstance" | "SyncLink" | "DataCheck", Handlers> = {
  DrInstance: drInstance,
  SyncLink: syncLink,
  DataCheck: dataCheck,
};
