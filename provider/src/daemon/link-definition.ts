/**
 * A link as the user declared it. Persisted in the daemon's state directory (mode 0600, it holds
 * the URLs with their passwords); everything shown to users goes through `describeLink`.
 */
import { type ServerAddress, parseServerUrl, redactUrl } from "../core/connection-url";
import { DrError } from "../core/errors";
import { type ObjectSelection, validatePatterns } from "../core/object-filter";

export const INITIAL_SYNC_MODES = ["none"] as const;
export type InitialSync = (typeof INITIAL_SYNC_MODES)[number];

export interface LinkDefinition {
  name: string;
  source: ServerAddress;
  target: ServerAddress;
  objects: ObjectSelection;
  initial: InitialSync;
  paused: boolean;
  createdAt: string;
}

/** What a client sends to create a link. */
export interface LinkRequest {
  name: string;
  source: string;
  target: string;
  include?: string[];
  exclude?: string[];
  initial?: string;
}

const NAME = /^[A-Za-z0-9_-]{1,48}$/;

export function validateLinkName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new DrError("BAD_INPUT", `Link name ${JSON.stringify(name)} is invalid; use 1 to 48 letters, digits, '-' or '_'.`);
  }
  return name;
}

/** Validates a request completely before anything is contacted or written. */
export function parseLinkRequest(req: LinkRequest): LinkDefinition {
  const name = validateLinkName(req.name);
  if (typeof req.source !== "string") throw new DrError("BAD_INPUT", "The source URL is missing; pass --source mysql://user:password@host:port.");
  if (typeof req.target !== "string") throw new DrError("BAD_INPUT", "The target URL is missing; pass --target mysql://user:password@host:port.");
  const include = stringList(req.include, "--include");
  const exclude = stringList(req.exclude, "--exclude");
  validatePatterns(include, "--include");
  validatePatterns(exclude, "--exclude");
  const initial = req.initial ?? "none";
  if (!(INITIAL_SYNC_MODES as readonly string[]).includes(initial)) {
    throw new DrError("BAD_INPUT", `--initial ${JSON.stringify(initial)} is not supported; use --initial none (the DR server already holds the data).`);
  }
  return {
    name,
    source: parseServerUrl(req.source, "source URL"),
    target: parseServerUrl(req.target, "target URL"),
    objects: { include, exclude },
    initial: initial as InitialSync,
    paused: false,
    createdAt: new Date().toISOString(),
  };
}

function stringList(value: unknown, option: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new DrError("BAD_INPUT", `${option} must be a list of patterns.`);
  }
  return value as string[];
}

/** The definition without secrets. */
export function describeLink(def: LinkDefinition): { name: string; source: string; target: string; include: string[]; exclude: string[] } {
  return { name: def.name, source: redactUrl(def.source), target: redactUrl(def.target), include: def.objects.include, exclude: def.objects.exclude };
}
