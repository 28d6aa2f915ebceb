/**
 * A link as the user declared it. Persisted in the daemon's state directory (mode 0600, it holds
 * the passwords and client keys); everything shown to users goes through `describeLink`.
 */
import { type ServerAddress, parseServerUrl, redactUrl } from "../core/connection-url";
import { DrError } from "../core/errors";
import { type TlsInput, resolveTls } from "../core/tls";
import { type ObjectSelection, validatePatterns } from "../core/object-filter";
import { DEFAULT_COPY_PARALLELISM } from "../copy/table-copier";
import { ON_MISSING_ROW, type OnMissingRow } from "../stream/applier";
import type { LastDrill, LastVerification, LinkRecordKind } from "../dr-state/link-records";
import type { FailbackRequest, LinkRequest, LinkUpdate } from "./request-schemas";

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
  /** The last `verify --link` and `drill --record`, kept with the definition so they survive a daemon restart. */
  lastVerification?: LastVerification | null;
  lastDrill?: LastDrill | null;
  /** Which way the link runs now: from source to target, or back after the target was promoted. */
  direction: Direction;
  failback: Failback;
}

/** The field of a definition that keeps each kind of record (dr-state/link-records.ts). */
export const RECORD_FIELDS = { verification: "lastVerification", drill: "lastDrill" } as const satisfies { [K in LinkRecordKind]: keyof LinkDefinition };

export const DIRECTIONS = ["forward", "reverse"] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const ON_DIVERGENCE = ["refuse", "resync"] as const;
export type OnDivergence = (typeof ON_DIVERGENCE)[number];

export interface Failback {
  /** Once the target is promoted, run the link back to the old master when it answers. */
  enabled: boolean;
  /** Transactions found only on the old master: stop there (refuse) or re-copy the tables they touched. */
  onDivergence: OnDivergence;
}

export const DEFAULT_FAILBACK: Failback = { enabled: true, onDivergence: "refuse" };

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
  const source = parseServerRequest(req.source, "source");
  const target = parseServerRequest(req.target, "target");
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
    source,
    target,
    objects: { include, exclude },
    initial: initial as InitialSync,
    overwrite: req.overwrite === true,
    copyParallelism: parallel,
    paused: false,
    createdAt: new Date().toISOString(),
    direction: "forward",
    failback: parseFailback(req.failback, DEFAULT_FAILBACK),
  };
}

export function parseFailback(value: FailbackRequest | undefined, current: Failback): Failback {
  if (value === undefined) return current;
  const onDivergence = value.onDivergence ?? current.onDivergence;
  if (!(ON_DIVERGENCE as readonly string[]).includes(onDivergence)) {
    throw new DrError("BAD_INPUT", `failback.onDivergence ${JSON.stringify(onDivergence)} is not a choice; use refuse (stop before the old master's own transactions) or resync (re-copy the tables they touched from the new primary).`);
  }
  return { enabled: value.enabled ?? current.enabled, onDivergence: onDivergence as OnDivergence };
}

const CONNECTION_FIELDS = ["host", "port", "user", "password", "tls"];
const TLS_FIELDS = ["mode", "ca", "cert", "key"];
const MAX_PORT = 65535;
const DEFAULT_PORT = 3306;

/**
 * A URL (parsed here: certificate files are read on the daemon's machine) or a connection object,
 * checked strictly: unknown fields are refused, so a misspelt `tsl` never means "no TLS".
 */
export function parseServerRequest(value: unknown, role: "source" | "target"): ServerAddress {
  if (typeof value === "string") return parseServerUrl(value, `${role} URL`);
  const what = `${role} connection`;
  if (value === undefined || value === null) throw new DrError("BAD_INPUT", `The ${role} is missing; pass --${role} mysql://user:password@host:port.`);
  const c = plainObject(value, what, CONNECTION_FIELDS, "a URL or an object with host, port, user, password and tls");
  if (typeof c.host !== "string" || c.host === "") throw new DrError("BAD_INPUT", `The ${what} has no host; give host as a string.`);
  if (typeof c.user !== "string" || c.user === "") throw new DrError("BAD_INPUT", `The ${what} has no user; give user as a string.`);
  const port = c.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > MAX_PORT) {
    throw new DrError("BAD_INPUT", `The ${what} has port ${JSON.stringify(c.port)}; give the server's TCP port (1-${MAX_PORT}).`);
  }
  if (c.password !== undefined && typeof c.password !== "string") throw new DrError("BAD_INPUT", `The ${what}'s password must be a string.`);
  const address: ServerAddress = { host: c.host, port: port as number, user: c.user, password: (c.password as string | undefined) ?? "" };
  if (c.tls === undefined) return address;
  const t = plainObject(c.tls, `${what}'s tls`, TLS_FIELDS, "an object with mode, ca, cert and key");
  for (const field of TLS_FIELDS) {
    if (t[field] !== undefined && typeof t[field] !== "string") throw new DrError("BAD_INPUT", `The ${what}'s tls.${field} must be a string.`);
  }
  return { ...address, tls: resolveTls(t as TlsInput, what) };
}

/** The value as an object holding only `fields`; never echoes values (they hold secrets). */
function plainObject(value: unknown, what: string, fields: string[], expected: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new DrError("BAD_INPUT", `The ${what} must be ${expected}.`);
  const unknown = Object.keys(value).filter((k) => !fields.includes(k));
  if (unknown.length > 0) throw new DrError("BAD_INPUT", `The ${what} has the unknown field ${JSON.stringify(unknown[0])}; the accepted ones are ${fields.join(", ")}.`);
  return value as Record<string, unknown>;
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
    source: update.source === undefined ? current.source : parseServerRequest(update.source, "source"),
    target: update.target === undefined ? current.target : parseServerRequest(update.target, "target"),
  };
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
  return { ...def, onMissingRow: def.onMissingRow ?? "error", direction: def.direction ?? "forward", failback: def.failback ?? DEFAULT_FAILBACK };
}

function stringList(value: unknown, option: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw new DrError("BAD_INPUT", `${option} must be a list of patterns.`);
  }
  return value as string[];
}

/** The definition without secrets. */
export function describeLink(def: LinkDefinition): { name: string; source: string; target: string; include: string[]; exclude: string[]; onMissingRow: OnMissingRow; direction: Direction; failback: Failback } {
  return { name: def.name, source: redactUrl(def.source), target: redactUrl(def.target), include: def.objects.include, exclude: def.objects.exclude, onMissingRow: def.onMissingRow, direction: def.direction, failback: def.failback };
}
