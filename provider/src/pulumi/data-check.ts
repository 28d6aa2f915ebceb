/**
 * DataCheck handlers: a verification of a SyncLink's DR copy at a GTID barrier, run by the daemon
 * that runs the link (it holds the link's URLs and can hold the link at the barrier). Creating the
 * resource runs it, and so does a change of `triggers` (a replacement, as pulumi-command's
 * triggers); check, diff (the preview) and read run nothing; delete changes nothing on the
 * servers. The outputs keep the result and its proof, never a key or a row value.
 */
import { isDeepStrictEqual } from "node:util";
import type { DaemonClient } from "../cli/daemon-client";
import { DrError } from "../core/errors";
import type { BarrierReport } from "../verify/barrier-verifier";
import { differenceCount } from "../verify/differences";
import { verificationResult } from "../verify/verifier";
import type { DataCheckOutputs as GeneratedOutputs, LinkReference } from "../../../sdk/types.generated";
import { daemonClient } from "./local-daemon";
import { type DiffResult, diffInputs } from "./resource-diff";
import { type CheckFailure, validateInputs } from "./schema";

const RESOURCE = "DataCheck";

/** The checked inputs (defaults filled), as plain values. */
export interface DataCheckInputs {
  link: LinkReference;
  triggers?: unknown[];
  repair: boolean;
  failOnDifference: boolean;
  barrierTimeoutSeconds: number;
  syncWaitSeconds: number;
}

/** How often the link's status is read while the check waits for it to be in sync. */
const SYNC_POLL_MS = 500;

/** schema.json's outputs, plus the inputs they carry (diff compares those). */
export type DataCheckOutputs = GeneratedOutputs & DataCheckInputs;

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: CheckFailure[] }> {
  return validateInputs(RESOURCE, news);
}

/**
 * Runs nothing. `triggers` replace (schema.json); another link or daemon URL replaces (a check of
 * something else); a new daemon token, `repair`, `failOnDifference` or the timeout update in place
 * and take effect at the next run.
 */
export async function diff(_id: string, olds: DataCheckOutputs, news: DataCheckInputs): Promise<DiffResult> {
  const result = diffInputs(RESOURCE, olds as never, news as never, ["link"]);
  const replaces = [...result.replaces];
  if (olds.link?.name !== news.link?.name || olds.link?.daemon?.url !== news.link?.daemon?.url) replaces.push("link");
  const linkChanged = !isDeepStrictEqual(plain(olds.link), plain(news.link));
  return { changes: result.changes || linkChanged, replaces, deleteBeforeReplace: false };
}

export async function create(inputs: DataCheckInputs): Promise<{ id: string; outs: DataCheckOutputs }> {
  const client = await daemonClient(inputs.link.daemon);
  await untilInSync(client, inputs.link.name, inputs.syncWaitSeconds * 1000);
  const report = await client.verifyLink(inputs.link.name, { atBarrier: true, repair: inputs.repair, barrierTimeoutSeconds: inputs.barrierTimeoutSeconds });
  const outs = outputs(inputs, report);
  if (outs.result === "different" && inputs.failOnDifference) {
    // A failed create leaves nothing in the state; the daemon keeps the result as the link's last verification.
    throw new DrError("DATA_DIFFERS", `The DR copy of link ${inputs.link.name} differs from its master at GTID ${outs.gtid}: ${outs.differences.filter((d) => d.missingOnDr + d.extraOnDr + d.different > 0).map(describe).join("; ")}; set repair: true to rewrite those rows from the master, or failOnDifference: false to record the differences without failing.`);
  }
  return { id: `${inputs.link.name}@${outs.at}`, outs };
}

/** The last check's outputs stay as they are: a check is a record of one moment, not a live state. */
export async function read(id: string, props: DataCheckOutputs): Promise<{ id?: string; props?: DataCheckOutputs }> {
  return { id, props };
}

/** Runs nothing: the new settings (and daemon token) apply to the next run. */
export async function update(_id: string, olds: DataCheckOutputs, news: DataCheckInputs): Promise<{ outs: DataCheckOutputs }> {
  return { outs: { ...olds, ...news } };
}

/** Nothing to remove: the check wrote nothing but its record, which stays the link's last verification. */
export async function remove(): Promise<void> {}

/**
 * Waits while the link is starting, copying or catching up (created in the same deployment, say),
 * at most `waitMs`; whatever it is then, the daemon's verification says in one sentence what stops it.
 */
async function untilInSync(client: DaemonClient, link: string, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { state, phase } = await client.getLink(link);
    if ((state === "running" && phase === "syncing") || !["starting", "running"].includes(state) || Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, SYNC_POLL_MS));
  }
}

function outputs(inputs: DataCheckInputs, r: BarrierReport): DataCheckOutputs {
  return {
    ...inputs,
    linkName: inputs.link.name,
    result: verificationResult(r),
    at: r.proof.at,
    gtid: r.proof.gtid,
    tablesChecked: r.tables.length,
    rowsChecked: r.rowsCompared,
    differences: r.tables.filter((t) => differenceCount(t) > 0 || t.rowsRepaired > 0).map((t) => ({ table: t.table, ...t.differenceCounts, rowsRepaired: t.rowsRepaired })),
    proofDigest: r.proof.digest,
    proofChunks: r.proof.tables,
    ...(r.repairGtid === undefined ? {} : { repairGtid: r.repairGtid }),
  };
}

function describe(d: DataCheckOutputs["differences"][number]): string {
  const parts = [[d.missingOnDr, "missing on the DR server"], [d.extraOnDr, "extra on the DR server"], [d.different, "different"]] as const;
  return `${d.table} (${parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${n === 1 ? "row" : "rows"} ${what}`).join(", ")})`;
}

/** Absent and undefined are the same. */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
