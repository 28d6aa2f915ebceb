/**
 * SyncLink handlers: thin over the daemon's control API. Create registers the link (the daemon
 * runs the prechecks before anything is written); changing `objects`, `onMissingRow`, the
 * instance's credentials or addresses, or the daemon's token updates the running link; delete
 * removes the link and leaves the data; read refreshes state and lag.
 */
import { isDeepStrictEqual } from "node:util";
import { DrError } from "../core/errors";
import type { LinkUpdate } from "../daemon/request-schemas";
import type { LinkStatus } from "../daemon/link-runner";
import type { DaemonConnection, InstanceReference, ObjectSelection, SyncLinkOutputs as GeneratedOutputs } from "../../../sdk/types.generated";
import { connectionChange, toAddress } from "./connections";
import { daemonClient } from "./local-daemon";
import { type DiffResult, diffInputs } from "./resource-diff";
import { type CheckFailure, validateInputs } from "./schema";

const RESOURCE = "SyncLink";

/** The checked inputs (defaults filled), as plain values. */
export interface SyncLinkInputs {
  instance: InstanceReference;
  objects?: ObjectSelection;
  initialSync: "full" | "none";
  onMissingRow: "error" | "skip-and-count";
  linkName: string;
  daemon?: DaemonConnection;
}

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
 * credentials or at another address of the same servers, or a new daemon token, updates it in
 * place (the DrInstance's own diff decided "same servers": its id stays; the daemon checks again).
 */
function planLinkChange(olds: SyncLinkOutputs, news: SyncLinkInputs): DiffResult {
  // initialSync only matters when the link is created.
  const result = diffInputs(RESOURCE, olds as never, news as never, ["initialSync"]);
  const replaces = [...result.replaces];
  if (isAnotherInstance(olds.instance, news.instance)) replaces.push("instance");
  if (olds.daemon?.url !== news.daemon?.url) replaces.push("daemon");
  return { changes: result.changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

function isAnotherInstance(old: InstanceReference, next: InstanceReference): boolean {
  if (old.id !== undefined && next.id !== undefined) return old.id !== next.id;
  // Without ids (state written by hand or by an old SDK), only a new address can mean another server.
  return connectionChange(old.master, next.master) === "address" || connectionChange(old.connection, next.connection) === "address";
}

export async function create(inputs: SyncLinkInputs): Promise<{ id: string; outs: SyncLinkOutputs }> {
  const client = await daemonClient(inputs.daemon);
  const status = await client.createLink({
    name: inputs.linkName,
    // Objects, not URLs: certificates travel as PEM text to a daemon that may run elsewhere.
    source: toAddress(inputs.instance.master),
    target: toAddress(inputs.instance.connection),
    include: inputs.objects?.include,
    exclude: inputs.objects?.exclude,
    initial: inputs.initialSync,
    onMissingRow: inputs.onMissingRow,
  });
  return { id: inputs.linkName, outs: outputs(inputs, client.url, status) };
}

export async function read(id: string, props: SyncLinkOutputs): Promise<{ id?: string; props?: SyncLinkOutputs }> {
  const client = await daemonClient(props.daemon);
  try {
    return { id, props: outputs(props, client.url, await client.getLink(props.linkName)) };
  } catch (err) {
    // The link is gone from the daemon: tell Pulumi the resource no longer exists.
    if (err instanceof DrError && err.code === "NOT_FOUND") return {};
    throw err;
  }
}

export async function update(_id: string, olds: SyncLinkOutputs, news: SyncLinkInputs): Promise<{ outs: SyncLinkOutputs }> {
  // A new daemon token is simply used from now on.
  const client = await daemonClient(news.daemon);
  const change = linkUpdate(olds, news);
  const status = change ? await client.updateLink(news.linkName, change) : await client.getLink(news.linkName);
  return { outs: outputs({ ...news, initialSync: olds.initialSync }, client.url, status) };
}

/** What the running link must change, or undefined when nothing the daemon holds changed. */
function linkUpdate(olds: SyncLinkOutputs, news: SyncLinkInputs): LinkUpdate | undefined {
  const selection = (s: SyncLinkInputs) => ({ include: s.objects?.include ?? [], exclude: s.objects?.exclude ?? [] });
  const update: LinkUpdate = {
    ...(isDeepStrictEqual(selection(olds), selection(news)) ? {} : selection(news)),
    ...(olds.onMissingRow === news.onMissingRow ? {} : { onMissingRow: news.onMissingRow }),
    ...(connectionChange(olds.instance.master, news.instance.master) === "none" ? {} : { source: toAddress(news.instance.master) }),
    ...(connectionChange(olds.instance.connection, news.instance.connection) === "none" ? {} : { target: toAddress(news.instance.connection) }),
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
