/**
 * SyncLink handlers: thin over the daemon's control API. Create registers the link (the daemon
 * runs the prechecks before anything is written), adopts the daemon's link of the same name when
 * it already runs between the same servers with the same selection, and resumes from the DR
 * server's checkpoint a link that was deleted outside Pulumi; changing `objects`, `onMissingRow`,
 * `paused`, the instance's credentials or addresses, or the daemon's token updates the running
 * link; delete removes the link and leaves the data; read refreshes state and lag and reads back
 * what was changed outside Pulumi (selection, pause), or finds a link from its id alone.
 */
import { isDeepStrictEqual } from "node:util";
import { DaemonClient } from "../cli/daemon-client";
import { formatHostPort } from "../core/connection-url";
import { openConnection } from "../core/db";
import { DrError } from "../core/errors";
import { readCheckpoint } from "../dr-state/checkpoint-store";
import type { LinkUpdate } from "../daemon/request-schemas";
import type { LinkStatus } from "../daemon/link-runner";
import type { DaemonConnection, InstanceReference, ObjectSelection, ServerConnection, SyncLinkOutputs as GeneratedOutputs } from "../../../sdk/types.generated";
import { connectionChange, identityAt, toAddress } from "./connections";
import { daemonClient } from "./local-daemon";
import { type DiffResult, diffInputs } from "./resource-diff";
import { type CheckFailure, UNKNOWN, validateInputs } from "./schema";

const RESOURCE = "SyncLink";
/** Separates a daemon URL from the link name in an id: `http://dr-daemon:7766#orders-sync`. */
const ID_SEPARATOR = "#";
const DEFAULT_PORT = 3306;

/** The checked inputs (defaults filled), as plain values. */
export interface SyncLinkInputs {
  instance: InstanceReference;
  objects?: ObjectSelection;
  initialSync: "full" | "none";
  onMissingRow: "error" | "skip-and-count";
  /** Absent in state written before it existed: false. */
  paused?: boolean;
  linkName: string;
  daemon?: DaemonConnection;
}

const INPUT_KEYS = ["instance", "objects", "initialSync", "onMissingRow", "paused", "linkName", "daemon"] as const;

/** schema.json's outputs, plus the inputs they carry (diff compares those). */
export type SyncLinkOutputs = GeneratedOutputs & SyncLinkInputs;

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: CheckFailure[] }> {
  return validateInputs(RESOURCE, news);
}

export async function diff(_id: string, olds: SyncLinkOutputs, news: SyncLinkInputs): Promise<DiffResult> {
  return planLinkChange(olds, news);
}

/**
 * Another DrInstance, daemon or link name replaces the link; the same DrInstance reached with new
 * credentials or at another address of the same servers, a new selection, pause or daemon token
 * updates it in place (the DrInstance's own diff decided "same servers": its id stays; the daemon
 * checks again).
 */
function planLinkChange(olds: SyncLinkOutputs, news: SyncLinkInputs): DiffResult {
  const next = { ...news, instance: knownInstance(olds.instance, news.instance), paused: news.paused ?? false };
  // initialSync only matters when the link is created.
  const result = diffInputs(RESOURCE, { ...olds, paused: olds.paused ?? false } as never, next as never, ["initialSync"]);
  const replaces = [...result.replaces];
  if (isAnotherInstance(olds.instance, next.instance)) replaces.push("instance");
  if (olds.daemon?.url !== news.daemon?.url) replaces.push("daemon");
  return { changes: result.changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

/**
 * In a preview, a DrInstance updated in the same run shows its computed outputs as unknown (a
 * dynamic provider's preview outputs are its inputs), so the link sees its `connection` unknown.
 * The SDK passes a `server` instance's own input there, which is known; so an unknown connection
 * is a `local` instance's, and an update of the same instance (same id) keeps its local server's
 * connection: it is the recorded one. Without this, every in-place change of the DrInstance (a
 * role change, promotion settings) would preview as an update of the link that `up` never makes.
 */
function knownInstance(old: InstanceReference, next: InstanceReference): InstanceReference {
  const sameInstance = old.id !== undefined && next.id !== undefined && next.id !== UNKNOWN && old.id === next.id;
  return sameInstance && containsUnknown(next.connection) ? { ...next, connection: old.connection } : next;
}

function isAnotherInstance(old: InstanceReference, next: InstanceReference): boolean {
  if (old.id !== undefined && next.id !== undefined) return old.id !== next.id;
  // Without ids (state written by hand or by an old SDK), only a new address can mean another server.
  return connectionChange(old.master, next.master) === "address" || connectionChange(old.connection, next.connection) === "address";
}

export async function create(inputs: SyncLinkInputs): Promise<{ id: string; outs: SyncLinkOutputs }> {
  const client = await daemonClient(inputs.daemon);
  const existing = await findLink(client, inputs.linkName);
  if (existing) return { id: inputs.linkName, outs: outputs(inputs, client.url, await adopt(client, existing, inputs)) };
  const resumed = await holdsCheckpoint(inputs);
  let status = await client.createLink({
    name: inputs.linkName,
    // Objects, not URLs: certificates travel as PEM text to a daemon that may run elsewhere.
    source: toAddress(inputs.instance.master),
    target: toAddress(inputs.instance.connection),
    include: inputs.objects?.include,
    exclude: inputs.objects?.exclude,
    // A checkpoint kept on the DR server (the link was deleted from the daemon): go on from it.
    initial: resumed ? "none" : inputs.initialSync,
    onMissingRow: inputs.onMissingRow,
    ...(inputs.instance.failback ? { failback: inputs.instance.failback } : {}),
  });
  if (inputs.paused) status = await client.pauseLink(inputs.linkName);
  return { id: inputs.linkName, outs: outputs(inputs, client.url, status) };
}

async function findLink(client: DaemonClient, name: string): Promise<LinkStatus | undefined> {
  try {
    return await client.getLink(name);
  } catch (err) {
    if (err instanceof DrError && err.code === "NOT_FOUND") return undefined;
    throw err;
  }
}

/**
 * A link of this name already runs on the daemon (created with the CLI, or by another stack): the
 * program takes it over as it is when it replicates between the same servers (host and port) with
 * the same selection and onMissingRow, so nothing is copied or restarted; only a pause and another
 * login (user) are applied. Anything else is refused, naming the difference, and left alone.
 */
async function adopt(client: DaemonClient, existing: LinkStatus, inputs: SyncLinkInputs): Promise<LinkStatus> {
  const source = toAddress(inputs.instance.master);
  const target = toAddress(inputs.instance.connection);
  const running = { source: shownServer(existing.source), target: shownServer(existing.target) };
  const differences: string[] = [];
  const where = (a: { host: string; port?: number }) => formatHostPort({ host: a.host, port: a.port ?? DEFAULT_PORT });
  if (where(running.source) !== where(source)) differences.push(`its master is ${where(running.source)}, the program's ${where(source)}`);
  if (where(running.target) !== where(target)) differences.push(`its DR server is ${where(running.target)}, the program's ${where(target)}`);
  const declared = selectionOf(inputs.objects);
  if (!sameSelection(declared, existing)) differences.push(`it selects ${describeSelection(existing)}, the program ${describeSelection(declared)}`);
  if (existing.onMissingRow !== inputs.onMissingRow) differences.push(`its onMissingRow is ${existing.onMissingRow}, the program's ${inputs.onMissingRow}`);
  if (differences.length) {
    throw new DrError("CONFLICT", `Link ${inputs.linkName} already exists on the daemon at ${client.url} and differs from the program: ${differences.join("; ")}. Declare it as it is to adopt it (then change it from the program), or delete it first (mysql-dr link delete ${inputs.linkName}).`);
  }
  const logins: LinkUpdate = {
    ...(running.source.user === source.user ? {} : { source }),
    ...(running.target.user === target.user ? {} : { target }),
  };
  let status = Object.keys(logins).length ? await client.updateLink(inputs.linkName, logins) : existing;
  if (isPaused(status) !== (inputs.paused ?? false)) status = inputs.paused ? await client.pauseLink(inputs.linkName) : await client.resumeLink(inputs.linkName);
  return status;
}

/**
 * Whether the DR server holds this link's checkpoint, unfenced and recorded for this master: the
 * link was deleted from the daemon (which keeps the DR data and checkpoint), and a new link of the
 * same name goes on from there exactly once. The tables it selects beyond the old link's are not
 * copied then (change `objects` afterwards to copy them). Reads only; unknown when the servers do
 * not answer (then the declared initialSync decides, and the daemon's prechecks speak).
 */
async function holdsCheckpoint(inputs: SyncLinkInputs): Promise<boolean> {
  let checkpoint;
  try {
    const conn = await openConnection(toAddress(inputs.instance.connection), "DR");
    try {
      checkpoint = await readCheckpoint(conn, inputs.linkName);
    } finally {
      conn.destroy();
    }
  } catch {
    return false;
  }
  if (!checkpoint || checkpoint.fenced) return false;
  if (checkpoint.sourceIdentity === "") return true;
  return (await identityAt(inputs.instance.master, "source")) === checkpoint.sourceIdentity;
}

/**
 * Refresh (props: the state's outputs, which carry the inputs) or a read by id alone (props hold
 * nothing but what the engine adds: `Resource.get`, an import). The link's status, and its inputs
 * as the daemon has them now: a selection, onMissingRow or pause changed outside Pulumi reads back
 * as it is, so the next `up` shows an update putting back the program's. Gone: no id.
 */
export async function read(id: string, props: Partial<SyncLinkOutputs>): Promise<{ id?: string; props?: SyncLinkOutputs; inputs?: SyncLinkInputs }> {
  const byId = props.linkName === undefined;
  const { linkName, daemonUrl } = byId ? parseLinkId(id) : { linkName: props.linkName!, daemonUrl: undefined };
  // By id, the daemon must be running already: a read (which also runs in previews) starts none.
  const client = byId ? new DaemonClient({ daemon: daemonUrl }) : await daemonClient(props.daemon);
  const status = await findLink(client, linkName);
  // The link is gone from the daemon: tell Pulumi the resource no longer exists.
  if (!status) return {};
  const known = byId ? inputsFromStatus(status, daemonUrl) : pickInputs(props as SyncLinkOutputs);
  const inputs = withActual(known, status);
  return { id, props: outputs(inputs, client.url, status), inputs };
}

/** `<linkName>` (the local daemon) or `<daemonUrl>#<linkName>` (its token from MYSQL_DR_TOKEN). */
export function parseLinkId(id: string): { linkName: string; daemonUrl?: string } {
  const at = id.lastIndexOf(ID_SEPARATOR);
  if (at < 0) return { linkName: id };
  const daemonUrl = id.slice(0, at);
  const linkName = id.slice(at + 1);
  if (!/^https?:\/\//.test(daemonUrl) || linkName === "") {
    throw new DrError("BAD_INPUT", `The SyncLink id ${JSON.stringify(id)} is neither a link name nor <daemonUrl>#<linkName> (for example http://dr-daemon:7766#orders-sync).`);
  }
  return { linkName, daemonUrl };
}

/** The inputs the state holds, taken from the outputs that carry them. */
function pickInputs(props: SyncLinkOutputs): SyncLinkInputs {
  const picked: Record<string, unknown> = {};
  for (const key of INPUT_KEYS) if (props[key] !== undefined) picked[key] = props[key];
  return picked as unknown as SyncLinkInputs;
}

/**
 * A link known only by its id: what the daemon says of it. Its servers come without passwords
 * (the daemon never shows them) and without the DrInstance's id, which only a program knows.
 */
function inputsFromStatus(status: LinkStatus, daemonUrl: string | undefined): SyncLinkInputs {
  return {
    linkName: status.name,
    instance: { master: shownServer(status.source), connection: shownServer(status.target) },
    initialSync: "none",
    onMissingRow: status.onMissingRow,
    ...(daemonUrl ? { daemon: { url: daemonUrl } as DaemonConnection } : {}),
  };
}

/** The inputs with what the daemon runs now in place of what was recorded, where they differ. */
function withActual(inputs: SyncLinkInputs, status: LinkStatus): SyncLinkInputs {
  const next: SyncLinkInputs = { ...inputs, onMissingRow: status.onMissingRow };
  if (!sameSelection(selectionOf(inputs.objects), status)) {
    next.objects = status.include.length || status.exclude.length ? { include: status.include, exclude: status.exclude } : undefined;
    if (next.objects === undefined) delete next.objects;
  }
  const paused = isPaused(status);
  if (paused || inputs.paused !== undefined) next.paused = paused;
  return next;
}

/**
 * A server as the daemon's status shows it (mysql://user:***@host:port?ssl-mode=X, certificates
 * as ***): its address, login and TLS mode, never a password.
 */
function shownServer(url: string): ServerConnection {
  const u = new URL(url);
  const mode = u.searchParams.get("ssl-mode");
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: u.port === "" ? DEFAULT_PORT : Number(u.port),
    user: decodeURIComponent(u.username),
    ...(mode ? { tls: { mode } } : {}),
  } as ServerConnection;
}

function isPaused(status: LinkStatus): boolean {
  return status.state === "paused";
}

function selectionOf(objects: ObjectSelection | undefined): { include: string[]; exclude: string[] } {
  return { include: objects?.include ?? [], exclude: objects?.exclude ?? [] };
}

function sameSelection(a: { include: string[]; exclude: string[] }, b: { include: string[]; exclude: string[] }): boolean {
  return isDeepStrictEqual(a.include, b.include) && isDeepStrictEqual(a.exclude, b.exclude);
}

function describeSelection(s: { include: string[]; exclude: string[] }): string {
  if (!s.include.length && !s.exclude.length) return "the whole instance";
  return [s.include.length ? `include ${s.include.join(", ")}` : "", s.exclude.length ? `exclude ${s.exclude.join(", ")}` : ""].filter(Boolean).join(" ");
}

export async function update(_id: string, olds: SyncLinkOutputs, news: SyncLinkInputs): Promise<{ outs: SyncLinkOutputs }> {
  // A new daemon token is simply used from now on.
  const client = await daemonClient(news.daemon);
  const change = linkUpdate(olds, news);
  const pause = (olds.paused ?? false) === (news.paused ?? false) ? undefined : news.paused ? "pause" : "resume";
  // A paused link resumes before its other changes apply, and pauses after them.
  if (pause === "resume") await client.resumeLink(news.linkName);
  let status = change ? await client.updateLink(news.linkName, change) : await client.getLink(news.linkName);
  if (pause === "pause") status = await client.pauseLink(news.linkName);
  return { outs: outputs({ ...news, initialSync: olds.initialSync }, client.url, status) };
}

/** What the running link must change, or undefined when nothing the daemon holds changed. */
function linkUpdate(olds: SyncLinkOutputs, news: SyncLinkInputs): LinkUpdate | undefined {
  const update: LinkUpdate = {
    ...(sameSelection(selectionOf(olds.objects), selectionOf(news.objects)) ? {} : selectionOf(news.objects)),
    ...(olds.onMissingRow === news.onMissingRow ? {} : { onMissingRow: news.onMissingRow }),
    ...(connectionChange(olds.instance.master, news.instance.master) === "none" ? {} : { source: toAddress(news.instance.master) }),
    ...(connectionChange(olds.instance.connection, news.instance.connection) === "none" ? {} : { target: toAddress(news.instance.connection) }),
    ...(news.instance.failback === undefined || isDeepStrictEqual(olds.instance.failback, news.instance.failback) ? {} : { failback: news.instance.failback }),
  };
  return Object.keys(update).length > 0 ? update : undefined;
}

export async function remove(_id: string, props: SyncLinkOutputs): Promise<void> {
  const client = await daemonClient(props.daemon);
  try {
    await client.deleteLink(props.linkName);
  } catch (err) {
    if (!(err instanceof DrError && err.code === "NOT_FOUND")) throw err;
  }
}

/** A preview may not know every input yet. */
function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  return typeof value === "object" && value !== null && Object.values(value).some(containsUnknown);
}

/** Inputs carried into the outputs (diff compares them), plus the link's status; absent values left out. */
function outputs(inputs: SyncLinkInputs, daemonUrl: string, s: LinkStatus): SyncLinkOutputs {
  const optional = <T>(key: string, value: T | null | undefined) => (value === null || value === undefined ? {} : { [key]: value });
  return {
    ...inputs,
    daemonUrl,
    state: s.state,
    phase: s.phase,
    rowsApplied: s.rowsApplied,
    missingRowsSkipped: s.missingRowsSkipped,
    ...optional("direction", s.direction),
    ...optional("divergence", s.divergence && { gtids: s.divergence.gtids, tables: s.divergence.tables, checkedAt: s.divergence.checkedAt, ...optional("unknown", s.divergence.unknown) }),
    ...optional("accounts", s.accounts),
    ...optional("lagSeconds", s.lagSeconds),
    ...optional("appliedGtid", s.appliedGtid),
    ...optional("sourceGtid", s.sourceGtid),
    ...optional("lastError", s.lastError),
    ...optional("unappliedTransactions", s.unappliedTransactions),
    ...optional("errantGtids", s.errantGtids),
    ...optional("lastVerification", s.lastVerification && { at: s.lastVerification.at, result: s.lastVerification.result, tablesChecked: s.lastVerification.tablesChecked, differences: s.lastVerification.differences, ...optional("gtid", s.lastVerification.gtid), ...optional("mode", s.lastVerification.mode), ...optional("rowsChecked", s.lastVerification.rowsChecked), ...optional("proofDigest", s.lastVerification.proofDigest), ...optional("proofChunks", s.lastVerification.proofChunks) }),
    ...optional("promotionReady", s.promotionReady),
    promotionBlockers: s.promotionBlockers ?? [],
    ...optional("copy", s.copy && { tablesTotal: s.copy.tablesTotal, tablesDone: s.copy.tablesDone, rowsCopied: s.copy.rowsCopied, rowsEstimated: s.copy.rowsEstimated, ...optional("etaSeconds", s.copy.etaSeconds) }),
  };
}
