/**
 * SyncLink handlers: thin over the daemon's control API. Create registers the link (the daemon
 * runs the prechecks before anything is written); changing `objects` or `onMissingRow` updates the running link;
 * delete removes the link and leaves the data; read refreshes state and lag.
 */
import { DrError } from "../core/errors";
import type { LinkStatus } from "../daemon/link-runner";
import type { DaemonConnection, InstanceReference, ObjectSelection, SyncLinkOutputs as GeneratedOutputs } from "../../../sdk/types.generated";
import { toAddress } from "./connections";
import { daemonClient } from "./local-daemon";
import { diffInputs } from "./resource-diff";
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

export async function diff(_id: string, olds: SyncLinkOutputs, news: SyncLinkInputs) {
  // initialSync only matters when the link is created.
  return diffInputs(RESOURCE, olds as never, news as never, ["initialSync"]);
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
  const client = await daemonClient(news.daemon);
  const status = await client.updateLink(news.linkName, { include: news.objects?.include ?? [], exclude: news.objects?.exclude ?? [], onMissingRow: news.onMissingRow });
  return { outs: outputs({ ...news, initialSync: olds.initialSync }, client.url, status) };
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
    ...optional("lagSeconds", s.lagSeconds),
    ...optional("appliedGtid", s.appliedGtid),
    ...optional("sourceGtid", s.sourceGtid),
    ...optional("lastError", s.lastError),
    ...optional("copy", s.copy && { tablesTotal: s.copy.tablesTotal, tablesDone: s.copy.tablesDone, rowsCopied: s.copy.rowsCopied, rowsEstimated: s.copy.rowsEstimated, ...optional("etaSeconds", s.copy.etaSeconds) }),
  };
}
