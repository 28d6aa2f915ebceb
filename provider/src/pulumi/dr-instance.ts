/**
 * DrInstance handlers: thin over the local server, the server inspector and the promoter. `server`
 * mode checks an existing server and makes it read-only; `local` mode starts a local server.
 * Changing `role` to "primary" promotes it; back to "replica" switches back (the old master is
 * promoted from it: its SyncLink ran back to it meanwhile, see daemon/link-cycle.ts); changing
 * credentials, or an address that reaches the same server, re-checks it in place.
 */
import * as crypto from "node:crypto";
import { formatHostPort } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidCovers } from "../core/gtid";
import { checkSource, checkTarget, inspectServer } from "../core/server-inspector";
import { type LinkPosition, linkPositions, unfencedLinks } from "../dr-state/checkpoint-store";
import { blockers, evaluateGuardrails } from "../promote/guardrails";
import { type DataLoss, promote, setReadOnly } from "../promote/promoter";
import type { FailbackOptions, DrInstanceOutputs as GeneratedOutputs, LocalServer, PromotionOptions, ServerConnection } from "../../../sdk/types.generated";
import { latestPromotion } from "../dr-state/promotion-record";
import { type LastDrill, latestLinkRecord } from "../dr-state/link-records";
import { connectionChange, identityAt, toAddress } from "./connections";
import { localConnection, removeLocalServer, startLocalServer } from "./local-server";
import { type DiffResult, diffInputs } from "./resource-diff";
import { type CheckFailure, UNKNOWN, validateInputs } from "./schema";

const RESOURCE = "DrInstance";

/** The checked inputs (defaults filled), as plain values. */
export interface DrInstanceInputs {
  master: ServerConnection;
  server?: ServerConnection;
  local?: LocalServer;
  role: "replica" | "primary";
  promotion?: PromotionOptions;
  failback?: FailbackOptions;
}

const DEFAULT_FAILBACK: Required<FailbackOptions> = { enabled: true, onDivergence: "refuse" };

/** schema.json's outputs, plus the inputs they carry (diff compares those). */
export type DrInstanceOutputs = GeneratedOutputs & DrInstanceInputs;

/**
 * Validates the inputs. When `role` changes from "replica" to "primary", also evaluates the
 * promotion guardrails against the live servers (reading only): a failing one is a check failure
 * on `role` with its sentence, which is how a dynamic provider makes `pulumi preview` show it
 * (diff can neither warn nor fail per property). `update` evaluates them again before promoting.
 */
export async function check(olds: Record<string, unknown> | undefined, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: CheckFailure[] }> {
  const { inputs, failures } = validateInputs(RESOURCE, news);
  if (!failures.length && (inputs.server === undefined) === (inputs.local === undefined)) {
    failures.push({ property: "server", reason: "give exactly one of server (an existing server) and local (a local server the provider starts)" });
  }
  const checked = inputs as unknown as DrInstanceInputs;
  if (!failures.length && olds?.role !== undefined && olds.role !== checked.role && !containsUnknown(checked)) {
    const dr = checked.server ?? localConnection(checked.local!);
    const refused = checked.role === "primary" ? await promotionBlockers(checked, dr) : (await stillReplicating(dr, undefined).catch(() => false)) ? [] : await switchBackBlockers(checked, dr);
    for (const reason of refused) failures.push({ property: "role", reason });
  }
  inputs.failback = { ...DEFAULT_FAILBACK, ...(checked.failback ?? {}) };
  return { inputs, failures };
}

/**
 * The same guardrails, the other way: the old master is promoted from this server, through the
 * link that runs back to it (lag, open transactions on this server, verification when required).
 */
async function switchBackBlockers(inputs: DrInstanceInputs, connection: ServerConnection): Promise<string[]> {
  const p = inputs.promotion ?? {};
  try {
    const report = await evaluateGuardrails({ master: toAddress(connection), target: toAddress(inputs.master), maxLagSeconds: p.maxLagSeconds, maxOpenTransactionSeconds: p.maxOpenTransactionSeconds, requireVerifiedWithinMinutes: p.requireVerifiedWithinMinutes });
    return blockers(report).map((b) => `Switch back: ${b.replace(/the DR server/g, "the old master").replace(/the master\b/g, "this server")}`);
  } catch (err) {
    return [`Switch back: ${errorMessage(err)}`];
  }
}

/** The failing guardrails' sentences for promoting this instance's DR server now. */
async function promotionBlockers(inputs: DrInstanceInputs, connection: ServerConnection): Promise<string[]> {
  const p = inputs.promotion ?? {};
  try {
    return blockers(await evaluateGuardrails({
      master: toAddress(inputs.master),
      target: toAddress(connection),
      maxLagSeconds: p.maxLagSeconds,
      maxOpenTransactionSeconds: p.maxOpenTransactionSeconds,
      requireVerifiedWithinMinutes: p.requireVerifiedWithinMinutes,
      allowDataLoss: p.allowDataLoss,
    }));
  } catch (err) {
    // A server that cannot be read is itself a reason not to promote (the promoter says the same).
    return [errorMessage(err)];
  }
}

export async function diff(_id: string, olds: DrInstanceOutputs, news: DrInstanceInputs): Promise<DiffResult> {
  return planInstanceChange(olds, news);
}

/**
 * Only another server replaces the instance. Credentials (user, password, TLS) and an address that
 * reaches the same server (same identity as recorded) are updated in place; a new local port or
 * data directory is a new server. A changed address is looked up read-only (diff also runs in
 * previews); when it cannot be reached the plan is an update, which refuses another server.
 */
async function planInstanceChange(olds: DrInstanceOutputs, news: DrInstanceInputs): Promise<DiffResult> {
  const result = diffInputs(RESOURCE, olds as never, news as never);
  const replaces: string[] = [];
  if (olds.local || news.local) {
    const sameLocal = olds.local && news.local && olds.local.port === news.local.port && olds.local.dataDir === news.local.dataDir;
    if (!sameLocal) replaces.push("local");
  }
  const recorded = { master: olds.masterIdentity, server: olds.serverIdentity };
  for (const key of ["master", "server"] as const) {
    if (await reachesAnotherServer(olds[key], news[key], recorded[key], key)) replaces.push(key);
  }
  return { changes: result.changes, replaces, deleteBeforeReplace: replaces.length > 0 };
}

async function reachesAnotherServer(old: ServerConnection | undefined, next: ServerConnection | undefined, recordedIdentity: string | undefined, role: string): Promise<boolean> {
  const change = connectionChange(old, next);
  if (change !== "address") return false;
  // State recorded before identities were kept cannot tell: a new address is taken as another server.
  if (!old || !next || recordedIdentity === undefined) return true;
  const identity = await identityAt(next, role);
  return identity !== undefined && identity !== recordedIdentity;
}

export async function create(inputs: DrInstanceInputs): Promise<{ id: string; outs: DrInstanceOutputs }> {
  if (inputs.role === "primary") throw new DrError("BAD_INPUT", "role must be \"replica\" when the instance is created; change it to \"primary\" later to promote.");
  const id = crypto.randomUUID();
  const undo: (() => Promise<void>)[] = [];
  try {
    const connection = inputs.local ? await startLocalServer(inputs.local, id, undo) : inputs.server!;
    const outs: DrInstanceOutputs = { ...(await describe(inputs, connection, true)), cyclePhase: "replicating" };
    return { id, outs };
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

export async function read(id: string, props: DrInstanceOutputs): Promise<{ id: string; props: DrInstanceOutputs }> {
  const conn = await openConnection(toAddress(props.connection), "DR");
  try {
    const facts = await inspectServer(conn);
    const adopted = props.role === "replica" && !facts.readOnly ? await promotionOutOfBand(conn, facts.flavor, props.masterIdentity) : {};
    const role = adopted.role ?? props.role;
    const health = role === "replica" ? { ...(await replicaHealth(props)), cyclePhase: "replicating" as const } : await cycleHealth(props, conn);
    const lastDrill = await latestLinkRecord(conn, "drill", (await linksOfMaster(conn, props.masterIdentity)).map((l) => l.link));
    return { id, props: { ...withoutHealth(props), flavor: facts.flavor, version: facts.version, readOnly: facts.readOnly, ...adopted, ...health, ...(lastDrill ? { lastDrill: drillOutput(lastDrill) } : {}) } };
  } finally {
    conn.destroy();
  }
}

const HEALTH_OUTPUTS = ["lagSeconds", "unappliedTransactions", "errantGtids", "lastVerification", "lastDrill", "promotionReady", "promotionBlockers", "cyclePhase", "failbackReady", "divergence"] as const;

/** The schema's form of a drill record: rpoTransactions absent, not null, when the master did not answer. */
function drillOutput(d: LastDrill): DrInstanceOutputs["lastDrill"] {
  return { at: d.at, gtid: d.gtid, rtoMs: d.rtoMs, identical: d.identical, writable: d.writable, ...(d.rpoTransactions === null ? {} : { rpoTransactions: d.rpoTransactions }) };
}

/**
 * The links on this DR server from the instance's master (fenced ones too: a promotion keeps what
 * they applied and what was recorded for them); all of them when the master's identity is unknown.
 */
async function linksOfMaster(dr: Connection, masterIdentity: string | undefined): Promise<LinkPosition[]> {
  return (await linkPositions(dr)).filter((l) => !masterIdentity || !l.sourceIdentity || l.sourceIdentity === masterIdentity);
}

/**
 * While primary: where the cycle stands, from the servers. The link back to the old master is its
 * checkpoint row there (recorded for this server's identity); it is ready when the switch-back
 * guardrails pass and a verification at a GTID barrier passed since the promotion. The divergence is what the daemon
 * found on the old master before running back to it (recorded with the promotion, here).
 */
async function cycleHealth(props: DrInstanceOutputs, dr: Connection): Promise<Partial<DrInstanceOutputs>> {
  const promotion = await latestPromotion(dr);
  const divergence = promotion?.divergence ? { divergence: { gtids: promotion.divergence.gtids, tables: promotion.divergence.tables, checkedAt: promotion.divergence.checkedAt, ...(promotion.divergence.unknown ? { unknown: promotion.divergence.unknown } : {}) }, errantGtids: promotion.divergence.gtids } : {};
  const p = props.promotion ?? {};
  let report;
  try {
    report = await evaluateGuardrails({ master: toAddress(props.connection), target: toAddress(props.master), maxLagSeconds: p.maxLagSeconds, maxOpenTransactionSeconds: p.maxOpenTransactionSeconds, requireVerifiedWithinMinutes: p.requireVerifiedWithinMinutes });
  } catch {
    // The old master does not answer: nothing runs back yet.
    return { cyclePhase: "promoted", failbackReady: false, ...divergence };
  }
  if (!report.links.length) return { cyclePhase: "promoted", failbackReady: false, ...divergence };
  // Verified at a GTID barrier (exact under writes), since the promotion: what it compared is what runs back.
  const v = report.lastVerification;
  const verified = v !== null && v.mode === "barrier" && v.result !== "different" && (!promotion || v.at > promotion.promotedAt);
  const ready = blockers(report).length === 0 && verified;
  return { cyclePhase: ready ? "ready-to-switch-back" : "reverse-syncing", failbackReady: ready, ...divergence, ...(report.lagSeconds === null ? {} : { lagSeconds: report.lagSeconds }), ...(report.lastVerification ? { lastVerification: report.lastVerification as DrInstanceOutputs["lastVerification"] } : {}) };
}

/** RPO and readiness as a refresh shows them: the same guardrails a promotion would check now, with this instance's settings. */
async function replicaHealth(props: DrInstanceOutputs): Promise<Partial<DrInstanceOutputs>> {
  const p = props.promotion ?? {};
  try {
    const report = await evaluateGuardrails({ master: toAddress(props.master), target: toAddress(props.connection), maxLagSeconds: p.maxLagSeconds, maxOpenTransactionSeconds: p.maxOpenTransactionSeconds, requireVerifiedWithinMinutes: p.requireVerifiedWithinMinutes });
    const failing = blockers(report);
    const present = <K extends keyof DrInstanceOutputs>(key: K, value: DrInstanceOutputs[K] | null) => (value === null || value === undefined ? {} : { [key]: value });
    return {
      ...present("lagSeconds", report.lagSeconds),
      ...present("unappliedTransactions", report.unappliedTransactions),
      ...present("errantGtids", report.errantGtids),
      ...present("lastVerification", report.lastVerification as DrInstanceOutputs["lastVerification"]),
      promotionReady: failing.length === 0,
      promotionBlockers: failing,
    };
  } catch (err) {
    return { promotionBlockers: [errorMessage(err)] };
  }
}

/** Health outputs are recomputed on each refresh: none carried over from the last. */
function withoutHealth(props: DrInstanceOutputs): DrInstanceOutputs {
  const copy: Record<string, unknown> = { ...props };
  for (const key of HEALTH_OUTPUTS) delete copy[key];
  return copy as unknown as DrInstanceOutputs;
}

/**
 * A replica found writable was promoted outside Pulumi (`mysql-dr promote`, or read_only turned
 * off by an operator): refresh records it as the primary it is, so the next `up` with role
 * "replica" proposes changing role back (an update), never a replacement or a silent re-fence.
 * A promotion fenced this master's links: their furthest applied position and the fence time
 * say what and when. Without a fence (read_only turned off by hand) the links still apply, and
 * the time is when refresh first saw it.
 */
async function promotionOutOfBand(dr: Connection, flavor: Flavor, masterIdentity: string | undefined): Promise<Partial<DrInstanceOutputs>> {
  const links = await linksOfMaster(dr, masterIdentity);
  const fenced = links.filter((l) => l.fenced);
  const basis = fenced.length ? fenced : links;
  const promotedGtid = basis.map((l) => l.sourceGtid).reduce((best, p) => (best === "" || gtidCovers(flavor, p, best) ? p : best), "");
  const promotedAt = fenced.length ? fenced.map((l) => l.updatedAt).sort().at(-1)! : new Date().toISOString();
  return { role: "primary", promotedAt, promotedGtid };
}

export async function update(_id: string, olds: DrInstanceOutputs, news: DrInstanceInputs): Promise<{ outs: DrInstanceOutputs }> {
  // A local server keeps its generated password; an existing server is reached as the inputs now say.
  const connection = news.server ?? olds.connection;
  const outs: DrInstanceOutputs = { ...olds, ...news, connection };
  if (connectionChange(olds.master, news.master) !== "none" || connectionChange(olds.server, news.server) !== "none") {
    const rechecked = await describe(news, connection, olds.role === "replica");
    refuseAnotherServer("master", news.master, olds.masterIdentity, rechecked.masterIdentity);
    refuseAnotherServer("DR server", connection, olds.serverIdentity, rechecked.serverIdentity);
    Object.assign(outs, rechecked);
  }
  if (olds.role === "replica" && news.role === "primary") {
    const refused = await promotionBlockers(news, connection);
    if (refused.length) throw new DrError("PRECONDITION", `The promotion was refused: ${refused.join(" ")}`);
    const result = await promote({
      target: toAddress(connection),
      master: toAddress(news.master),
      timeoutSeconds: news.promotion?.timeoutSeconds,
      allowDataLoss: news.promotion?.allowDataLoss,
    });
    return { outs: { ...withoutHealth(outs), role: "primary", readOnly: false, cyclePhase: "promoted", promotedAt: result.promotedAt, promotedGtid: result.promotedGtid, ...(result.unappliedGtid ? { unappliedGtid: result.unappliedGtid } : {}), ...(result.dataLoss ? { dataLoss: lossOutput(result.dataLoss) } : {}) } };
  }
  if (olds.role === "primary" && news.role === "replica") return { outs: await switchBack(outs, news, connection) };
  return { outs };
}

/**
 * A planned switchover back to the old master: this server turns read-only, the old master waits
 * until the link running back to it applied everything, then opens (the promoter does all of it,
 * the old master being the DR server of that link). The daemon then turns the link forward again,
 * from the position the old master opened at. Never forced: this server is the live primary.
 */
async function switchBack(outs: DrInstanceOutputs, news: DrInstanceInputs, connection: ServerConnection): Promise<DrInstanceOutputs> {
  const { promotedAt: _a, promotedGtid: _g, unappliedGtid: _u, dataLoss: _d, ...rest } = withoutHealth(outs);
  // Opened by hand while its link still applies the master (nothing was fenced): nothing to switch back, only to close again.
  if (await stillReplicating(connection, outs.masterIdentity)) {
    await describe(news, connection, true);
    return { ...rest, role: "replica", readOnly: true, cyclePhase: "replicating" } as DrInstanceOutputs;
  }
  const refused = await switchBackBlockers(news, connection);
  if (refused.length) throw new DrError("PRECONDITION", `The switch back was refused: ${refused.join(" ")}`);
  const result = await promote({ target: toAddress(news.master), master: toAddress(connection), timeoutSeconds: news.promotion?.timeoutSeconds });
  return { ...rest, role: "replica", readOnly: true, cyclePhase: "replicating", lastSwitchBack: { at: result.promotedAt, rtoMs: result.rtoMs } } as DrInstanceOutputs;
}

/** Whether a link from this instance's master still applies to the DR server: nothing was fenced (read_only turned off by hand). */
async function stillReplicating(connection: ServerConnection, masterIdentity: string | undefined): Promise<boolean> {
  const dr = await openConnection(toAddress(connection), "DR");
  try {
    return (await unfencedLinks(dr, masterIdentity)).length > 0;
  } finally {
    dr.destroy();
  }
}

/** A preview may not know every input yet: then the guardrails wait for `up`. */
function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  return typeof value === "object" && value !== null && Object.values(value).some(containsUnknown);
}

/** The schema's form: absent, not null, when nothing was ever recorded. */
function lossOutput(loss: DataLoss): DrInstanceOutputs["dataLoss"] {
  return { atLeastTransactions: loss.atLeastTransactions, summary: loss.summary, ...(loss.unknownSince ? { unknownSince: loss.unknownSince } : {}) };
}

export async function remove(id: string, props: DrInstanceOutputs): Promise<void> {
  if (props.local) await removeLocalServer(props.local, id);
}

/** An update that reaches another server than the one recorded would silently swap the instance's servers. */
function refuseAnotherServer(role: string, connection: ServerConnection, recorded: string | undefined, found: string): void {
  if (recorded !== undefined && recorded !== found) {
    throw new DrError("PRECONDITION", `The ${role} at ${formatHostPort(toAddress(connection))} is another server than this DrInstance's (identity ${found}, recorded ${recorded}); give that server's address, or replace the DrInstance to use another server.`);
  }
}

/** Checks master and DR server ("save and verify") and, for a replica, makes the DR server read-only. */
async function describe(inputs: DrInstanceInputs, connection: ServerConnection, makeReadOnly: boolean): Promise<DrInstanceOutputs & { masterIdentity: string; serverIdentity: string }> {
  const master = await openConnection(toAddress(inputs.master), "source");
  try {
    const dr = await openConnection(toAddress(connection), "DR");
    try {
      const [masterFacts, drFacts] = await Promise.all([inspectServer(master), inspectServer(dr)]);
      checkSource(masterFacts, toAddress(inputs.master));
      checkTarget(drFacts, masterFacts, toAddress(connection));
      if (makeReadOnly && !drFacts.readOnly) await setReadOnly(dr, drFacts.flavor, true);
      return {
        ...inputs,
        failback: { ...DEFAULT_FAILBACK, ...(inputs.failback ?? {}) },
        connection,
        flavor: drFacts.flavor,
        version: drFacts.version,
        endpoint: { host: connection.host, port: connection.port ?? 3306 },
        readOnly: makeReadOnly || drFacts.readOnly,
        masterIdentity: masterFacts.identity,
        serverIdentity: drFacts.identity,
      };
    } finally {
      dr.destroy();
    }
  } finally {
    master.destroy();
  }
}
