/** The diff every resource uses: input by input, replace where schema.json says so. */
import { isDeepStrictEqual } from "node:util";
import { type PackageSchema, packageSchema, replaceOnChanges, resourceToken } from "./schema";

export interface DiffResult {
  changes: boolean;
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/**
 * `olds` are the resource's previous outputs, which carry its inputs; outputs that are not inputs
 * (lag, state, GTIDs) are never compared, so they never cause a diff.
 */
export function diffInputs(resource: string, olds: Record<string, unknown>, news: Record<string, unknown>, ignored: string[] = []): DiffResult {
  const schema: PackageSchema = packageSchema();
  const inputs = Object.keys(schema.resources[resourceToken(resource)].inputProperties).filter((k) => !ignored.includes(k));
  const changed = inputs.filter((k) => !isDeepStrictEqual(normalize(olds[k]), normalize(news[k])));
  const replaceable = replaceOnChanges(resource);
  const replaces = changed.filter((k) => replaceable.includes(k));
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: replaces.length > 0 };
}

/** Absent and undefined are the same; key order does not matter. */
function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}
