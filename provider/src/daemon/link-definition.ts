/**
 * A link as the user declared it. Persisted in the daemon's state directory (mode 0600, it holds
 * the URLs with their passwords); everything shown to users goes through `describeLink`.
 */
import { type ServerAddress, parseServerUrl, redactUrl } from "../core/connection-url";
import { DrError } from "../core/errors";
import { type ObjectSelection, validatePatterns } from "../core/object-filter";
import { DEFAULT_COPY_PARALLELISM } from "../copy/table-copier";
import { ON_MISSING_ROW, type OnMissingRow } from "../stream/applier";

const MAX_COPY_PARALLELISM = 32;

export const INITIAL_SYNC_MODES = ["full", "none"] as const;
export type InitialSync = (typeof INITIAL_SYNC_MODES)[number];

export interface LinkDefinition {
  name: string;
  source: ServerAddress;
  target: ServerAddress;
  objects: ObjectSelection;
  initial: InitialSync;
  /** Initial copy: empty selected DR tables that already hold rows instead of refusing. */
  overwrite: boolean;
  /** Initial copy: connections copying in parallel. */
  copyParallelism: number;
  /** An UPDATE or DELETE that finds no row on the DR server stops the link ("error") or is counted and skipped. */
  onMissingRow: OnMissingRow;
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
  overwrite?: boolean;
  parallel?: number;
  onMissingRow?: string;
}

/**
 * What a client sends to change a running link: its selection, or new URLs for its servers (new
 * credentials, or another address of the same servers; the daemon checks that they are).
 */
export interface LinkUpdate {
  include?: string[];
  exclude?: string[];
  overwrite?: boolean;
  onMissingRow?: string;
  source?: string;
  target?: string;
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
    throw new DrError("BAD_INPUT", `--initial ${JSON.stringify(initial)} is not a mode; use --initial full (copy the selected tables first) or --initial none (the DR server already holds the data).`);
  }
  const parallel = req.parallel ?? DEFAULT_COPY_PARALLELISM;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > MAX_COPY_PARALLELISM) {
    throw new DrError("BAD_INPUT", `--parallel ${JSON.stringify(req.parallel)} must be a whole number from 1 to ${MAX_COPY_PARALLELISM}.`);
  }
  return {
    name,
    onMissingRow: parseOnMissingRow(req.onMissingRow, "error"),
    source: parseServerUrl(req.source, "source URL"),
    target: parseServerUrl(req.target, "target URL"),
    objects: { include, exclude },
    initial: initial as InitialSync,
    overwrite: req.overwrite === true,
    copyParallelism: parallel,
    paused: false,
    createdAt: new Date().toISOString(),
  };
}

/** Validates a selection change; the patterns replace the link's current ones. */
export function parseSelection(update: LinkUpdate, current: ObjectSelection): ObjectSelection {
  const include = update.include === undefined ? current.include : stringList(update.include, "--include");
  const exclude = update.exclude === undefined ? current.exclude : stringList(update.exclude, "--exclude");
  validatePatterns(include, "--include");
  validatePatterns(exclude, "--exclude");
  return { include, exclude };
}

/** The link's servers after an update: the URLs given, else the current addresses. */
export function parseServers(update: LinkUpdate, current: Pick<LinkDefinition, "source" | "target">): { source: ServerAddress; target: ServerAddress } {
  return {
    source: update.source === undefined ? current.source : parseServerUrl(stringValue(update.source, "source URL"), "source URL"),
    target: update.target === undefined ? current.target : parseServerUrl(stringValue(update.target, "target URL"), "target URL"),
  };
}

function stringValue(value: unknown, what: string): string {
  if (typeof value !== "string") throw new DrError("BAD_INPUT", `The ${what} must be a string such as mysql://user:password@host:port.`);
  return value;
}

export function parseOnMissingRow(value: unknown, current: OnMissingRow): OnMissingRow {
  if (value === undefined) return current;
  if (!(ON_MISSING_ROW as readonly unknown[]).includes(value)) {
    throw new DrError("BAD_INPUT", `--on-missing-row ${JSON.stringify(value)} is not a choice; use error (stop the link, as native replication does) or skip-and-count.`);
  }
  return value as OnMissingRow;
}

/** A definition saved by an earlier version, with the defaults of what it did not know yet. */
export function withDefaults(def: LinkDefinition): LinkDefinition {
  return { ...def, onMissingRow: def.onMissingRow ?? "error" };
}

function stringList(value: unknown, option: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new DrError("BAD_INPUT", `${option} must be a list of patterns.`);
  }
  return value as string[];
}

/** The definition without secrets. */
export function describeLink(def: LinkDefinition): { name: string; source: string; target: string; include: string[]; exclude: string[]; onMissingRow: OnMissingRow } {
  return { name: def.name, source: redactUrl(def.source), target: redactUrl(def.target), include: def.objects.include, exclude: def.objects.exclude, onMissingRow: def.onMissingRow };
}
