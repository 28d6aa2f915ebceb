/**
 * Promotion: makes a DR server writable, fencing every link that applies to it so none writes
 * there again (the checkpoint rows are marked fenced, the appliers' sessions are killed, and the
 * links' named locks are taken while the server turns writable: a link that reconnects sees the
 * mark and stops in state "promoted"). This works through the DR server alone, so it works when
 * the daemon is unreachable.
 * Planned (master reachable): the master is made read-only first and the DR copy must apply every
 * master transaction before it is promoted: zero loss. Forced (master unreachable): only with
 * allowDataLoss; what the DR copy had applied is reported.
 * A failure before the DR server may have opened puts both servers and the links back exactly as
 * they were; after, nothing is undone: the DR server may hold writes, so the old master stays shut.
 */
import { type ServerAddress, formatHostPort } from "../core/connection-url";
import { type Connection, READ_SQL_MODE, isRetryable, openConnection } from "../core/db";
import { DrError, type ErrorCode, errorMessage } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidCovers, gtidMissingCount } from "../core/gtid";
import { currentGtidPosition, inspectServer } from "../core/server-inspector";
import { CHECKPOINT_SCHEMA, lastRecordTime, lockName, unfencedLinks } from "../dr-state/checkpoint-store";
import { writeAsLink } from "../dr-state/link-writer";
import { type TriggerName, createKeptTriggers, dropTriggers } from "../dr-state/trigger-store";
import { forgetPromotion, recordPromotion } from "../dr-state/promotion-record";
import { type RaisedCounter, alignAutoIncrements } from "./auto-increments";
import { type EventName, type SettledEvent, disableReplicaEvents, settleReplicaEvents } from "./replica-events";

export const DEFAULT_PROMOTION_TIMEOUT_S = 60;
const CATCH_UP_POLL_MS = 50;
const LOCK_WAIT_S = 10;

export interface PromoteOptions {
  target: ServerAddress;
  /** The master; when absent or unreachable the promotion is forced (allowDataLoss required). */
  master?: ServerAddress;
  timeoutSeconds?: number;
  allowDataLoss?: boolean;
  /**
   * Tests only: called after each step (both servers can be read there); a throw is a failure at
   * that step, for the paths no real fault reaches on cue.
   */
  onStep?: (step: PromotionStep) => Promise<void>;
}

/** The steps after which a promotion can be observed; "master-read-only" is planned only. */
export const PROMOTION_STEPS = ["master-read-only", "links-fenced", "dr-opened"] as const;
export type PromotionStep = (typeof PROMOTION_STEPS)[number];

export interface PromotionResult {
  mode: "planned" | "forced";
  promotedAt: string;
  /** Master GTIDs the DR copy had applied (the furthest of its links). */
  promotedGtid: string;
  /** The promoted server's own GTID position when it opened: a link back to the old master starts there. */
  openedGtid: string;
  /** How long writes were refused: planned, from the master turning read-only until the DR server opened; forced, the promotion's own steps. */
  rtoMs: number;
  /** Forced only: the last known master position, when the DR copy had not applied all of it. */
  unappliedGtid: string | null;
  /** Forced only (null when planned: nothing is lost): what is known of the loss. */
  dataLoss: DataLoss | null;
  fencedLinks: string[];
  /** Planned only: AUTO_INCREMENT counters raised to the master's (see auto-increments.ts). */
  autoIncrementsRaised: RaisedCounter[];
  /** `db.name` of the triggers the links kept, created before the server opened. */
  triggersCreated: string[];
  /**
   * `db.name` of the events the links keep that the master runs, enabled before the server opened
   * (those the master keeps disabled were set DISABLE, as there).
   */
  eventsEnabled: string[];
}

function names(objects: { db: string; name: string }[]): string[] {
  return objects.map((o) => `${o.db}.${o.name}`);
}

/**
 * Without the master, the loss can only be bounded from below: what the daemon saw the master
 * commit and the DR copy had not applied, plus whatever the master committed after the daemon's
 * last record, which nobody can know.
 */
export interface DataLoss {
  /** Master transactions seen by the daemon and not applied on the DR copy. */
  atLeastTransactions: number;
  /** The daemon's last record of the master's position (ISO 8601); what the master did after it is unknown. */
  unknownSince: string | null;
  /** The two in one sentence, for outputs and logs. */
  summary: string;
}

export async function promote(o: PromoteOptions): Promise<PromotionResult> {
  const dr = await openConnection(o.target, "target");
  let master: Connection | undefined;
  try {
    if (o.master) master = await openConnection(o.master, "source").catch((err: DrError) => {
      if (err.code !== "UNREACHABLE" || !o.allowDataLoss) {
        throw new DrError(err.code, `${err.message.replace(/\.$/, "")}; the promotion was refused (set promotion.allowDataLoss / pass --force to promote without the master, losing what the DR copy has not applied).`);
      }
      return undefined;
    });
    if (!master && !o.allowDataLoss) {
      throw new DrError("PRECONDITION", "No master to switch over from; a forced promotion needs allowDataLoss (--force).");
    }
    return master ? await planned(dr, master, o) : await forced(dr, o);
  } finally {
    dr.destroy();
    master?.destroy();
  }
}

/**
 * The master turns read-only before the DR server turns writable, so there is never a moment with
 * two writable servers.
 */
async function planned(dr: Connection, master: Connection, o: PromoteOptions): Promise<PromotionResult> {
  const facts = await inspectServer(master);
  const links = await unfencedLinks(dr, facts.identity);
  await writeAsLinks(dr, links, facts.flavor);
  const side = await sideOf(master, facts.flavor, `the master at ${formatHostPort(o.master as ServerAddress)}`);
  const timeoutMs = (o.timeoutSeconds ?? DEFAULT_PROMOTION_TIMEOUT_S) * 1000;
  let autoIncrementsRaised: RaisedCounter[] = [];
  const { promotedGtid, openedGtid, rtoMs, triggersCreated, eventsEnabled } = await fenceAndOpen(dr, links, facts.flavor, o, {
    side,
    caughtUp: async () => {
      // Read once the master is read-only: its position can no longer move.
      await waitApplied(dr, links, facts.flavor, await currentGtidPosition(master, facts.flavor), timeoutMs, o.target);
      // Every master transaction is applied, so the counters compare as they will stand.
      autoIncrementsRaised = await alignAutoIncrements(master, dr, facts.flavor);
    },
  });
  return { mode: "planned", promotedAt: new Date().toISOString(), promotedGtid, openedGtid, rtoMs, unappliedGtid: null, dataLoss: null, fencedLinks: links, autoIncrementsRaised, triggersCreated: names(triggersCreated), eventsEnabled: names(eventsEnabled) };
}

async function forced(dr: Connection, o: PromoteOptions): Promise<PromotionResult> {
  const links = await unfencedLinks(dr, undefined);
  const flavor = (await inspectServer(dr)).flavor;
  await writeAsLinks(dr, links, flavor);
  // Read before fencing: the fence rewrites the rows, and with them their update times.
  const known = await lastSeenSourcePosition(dr, links, flavor);
  const lastRecord = await lastRecordTime(dr, links);
  const { promotedGtid, openedGtid, rtoMs, triggersCreated, eventsEnabled } = await fenceAndOpen(dr, links, flavor, o);
  const unappliedGtid = known && !gtidCovers(flavor, promotedGtid, known) ? known : null;
  const atLeast = unappliedGtid ? gtidMissingCount(flavor, promotedGtid, unappliedGtid) : 0;
  const dataLoss: DataLoss = {
    atLeastTransactions: atLeast,
    unknownSince: lastRecord,
    summary: `at least ${atLeast} transaction${atLeast === 1 ? "" : "s"}${unappliedGtid ? ` (the master had reached ${unappliedGtid})` : ""}; unknown since ${lastRecord ?? "the link was created"}: the daemon's last record of the master, after which the master may have committed more`,
  };
  // Without the master its counters cannot be read: those the DR holds stand.
  return { mode: "forced", promotedAt: new Date().toISOString(), promotedGtid, openedGtid, rtoMs, unappliedGtid, dataLoss, fencedLinks: links, autoIncrementsRaised: [], triggersCreated: names(triggersCreated), eventsEnabled: names(eventsEnabled) };
}

/** Planned only: the master as it was, and the wait for the DR copy once the master is read-only. */
interface Master {
  side: ServerSide;
  caughtUp(): Promise<void>;
}

/**
 * Makes the master read-only (planned) and waits for the DR copy, marks the links fenced, stops
 * their appliers and holds their locks, reads where they stopped, then opens the DR server. Until it
 * may have opened, a failure undoes every step in reverse (the marks before the locks are let go,
 * so no applier reads them); once it may have accepted a write, nothing is undone.
 */
/** What opening the DR server settled: the position it was promoted at, and the triggers created for it. */
interface Opened {
  promotedGtid: string;
  openedGtid: string;
  rtoMs: number;
  triggersCreated: TriggerName[];
  eventsEnabled: EventName[];
}

async function fenceAndOpen(dr: Connection, links: string[], flavor: Flavor, o: PromoteOptions, master?: Master): Promise<Opened> {
  const drSide = await sideOf(dr, flavor, `the DR server at ${formatHostPort(o.target)}`);
  const undo: Undo[] = [];
  const held: string[] = [];
  let doing = "";
  let drOpen: "no" | "unknown" | "yes" = "no";
  let frozeAt = performance.now();
  try {
    if (master) {
      undo.push(restore(master.side));
      doing = `while making ${master.side.name} read-only`;
      frozeAt = performance.now();
      await setReadOnly(master.side.conn, flavor, true, true);
      doing = "after the master was made read-only";
      await o.onStep?.("master-read-only");
      doing = "while waiting for the DR copy to catch up";
      await master.caughtUp();
    }
    doing = "while fencing the links";
    if (links.length) {
      await dr.query(`UPDATE ${CHECKPOINT_SCHEMA}.checkpoint SET fenced = 1 WHERE link IN (?) /* mysql-dr promote */`, [links]);
      undo.push(unfence(dr, links));
    }
    for (const link of links) {
      await stopApplier(dr, link);
      held.push(link);
    }
    doing = "after the links were fenced";
    await o.onStep?.("links-fenced");
    // The appliers are stopped and locked out: their positions are final.
    doing = "while reading where the links stopped";
    const promotedGtid = furthest(flavor, await appliedPositions(dr, links));
    // Now that no applier writes, the triggers the links kept can fire only on the new primary's own writes.
    doing = "while creating the triggers the links kept";
    const triggersCreated: TriggerName[] = [];
    undo.push(dropCreated(dr, triggersCreated));
    triggersCreated.push(...(await createKeptTriggers(dr, links)));
    await dr.query(`SET SESSION sql_mode = '${READ_SQL_MODE}'`);
    doing = "while enabling the events that waited on the replica side";
    const eventsSettled: SettledEvent[] = [];
    undo.push(disableEnabled(dr, eventsSettled));
    await settleReplicaEvents(dr, links, eventsSettled);
    const eventsEnabled = eventsSettled.filter((e) => e.enabled);
    // Nothing but the application writes here from now on: a link back to the old master starts at this position.
    doing = "while recording the promotion";
    const openedGtid = await currentGtidPosition(dr, flavor);
    const identities = await sourceIdentities(dr, links);
    undo.push({ state: "no promotion recorded", run: () => forgetPromotion(dr, links) });
    await recordPromotion(dr, links.map((link) => ({ link, openedGtid, promotedGtid, masterIdentity: identities.get(link) ?? "", promotedAt: new Date().toISOString() })));
    doing = `while making ${drSide.name} writable`;
    // On MySQL, opening is two statements: a refusal of the second leaves the first to take back.
    undo.push(restore(drSide));
    drOpen = "unknown";
    await setReadOnly(dr, flavor, false).catch((err: unknown) => {
      // An error the server answered with changed nothing; a lost answer may hide a success.
      if (!isRetryable(err)) drOpen = "no";
      throw err;
    });
    drOpen = "yes";
    const rtoMs = Math.round((performance.now() - frozeAt) * 10) / 10;
    doing = `after ${drSide.name} was made writable`;
    await o.onStep?.("dr-opened");
    return { promotedGtid, openedGtid, rtoMs, triggersCreated, eventsEnabled };
  } catch (err) {
    if (drOpen !== "no") throw openedThenFailed(err, doing, drOpen === "yes", drSide, master?.side, links);
    throw rolledBack(err, doing, await undoAll(undo));
  } finally {
    for (const link of held) await dr.query("SELECT RELEASE_LOCK(?)", [lockName(link)]).catch(() => undefined);
  }
}

/**
 * What promotion writes on the DR server (fence marks, raised counters) is the links' own doing,
 * not an errant transaction: a promotion that fails and is undone must not block the next one.
 */
async function writeAsLinks(dr: Connection, links: string[], flavor: Flavor): Promise<void> {
  if (links.length) await writeAsLink(dr, links[0], flavor);
}

async function waitApplied(dr: Connection, links: string[], flavor: Flavor, wanted: string, timeoutMs: number, target: ServerAddress): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const applied = await appliedPositions(dr, links);
    if (applied.some((p) => gtidCovers(flavor, p, wanted))) return;
    if (Date.now() > deadline) {
      const reached = !links.length ? "no link from this master applies to it"
        : links.length === 1 ? `it had applied up to ${applied[0] || "nothing"}`
        : `they had applied up to ${links.map((l, i) => `${l} ${applied[i] || "nothing"}`).join(", ")}`;
      throw new StepError("PRECONDITION",
        `The promotion waited ${timeoutMs / 1000} s for ${listOf("link", links) || "a link"} on the DR server at ${formatHostPort(target)} to apply the master's transactions up to ${wanted || "nothing"}, but ${reached}`,
        "let the link catch up (check that it runs and its lag) or raise promotion.timeoutSeconds (--timeout)");
    }
    await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
  }
}

/** The furthest master position the links had seen (recorded with their batches). */
async function lastSeenSourcePosition(dr: Connection, links: string[], flavor: Flavor): Promise<string | null> {
  if (!links.length) return null;
  const [rows] = await dr.query(`SELECT source_seen_gtid AS seen FROM ${CHECKPOINT_SCHEMA}.checkpoint WHERE link IN (?) AND source_seen_gtid IS NOT NULL /* mysql-dr promote */`, [links]);
  const seen = (rows as { seen: string }[]).map((r) => r.seen);
  return seen.length ? seen.reduce((best, p) => (gtidCovers(flavor, p, best) ? p : best)) : null;
}

async function sourceIdentities(dr: Connection, links: string[]): Promise<Map<string, string>> {
  if (!links.length) return new Map();
  const [rows] = await dr.query(`SELECT link, source_identity AS identity FROM ${CHECKPOINT_SCHEMA}.checkpoint WHERE link IN (?) /* mysql-dr promote */`, [links]);
  return new Map((rows as { link: string; identity: string }[]).map((r) => [r.link, r.identity]));
}

/** In the order of `links`. */
async function appliedPositions(dr: Connection, links: string[]): Promise<string[]> {
  if (!links.length) return [];
  const [rows] = await dr.query(`SELECT link, source_gtid FROM ${CHECKPOINT_SCHEMA}.checkpoint WHERE link IN (?) /* mysql-dr promote */`, [links]);
  const byLink = new Map((rows as { link: string; source_gtid: string }[]).map((r) => [r.link, r.source_gtid]));
  return links.map((l) => byLink.get(l) ?? "");
}

function furthest(flavor: Flavor, positions: string[]): string {
  return positions.reduce((best, p) => (best === "" || gtidCovers(flavor, p, best) ? p : best), "");
}

/** Kills the link's applier session and takes its lock, so it can neither write nor reconnect meanwhile. */
async function stopApplier(dr: Connection, link: string): Promise<void> {
  const [rows] = await dr.query("SELECT IS_USED_LOCK(?) AS holder", [lockName(link)]);
  const holder = (rows as { holder: number | null }[])[0].holder;
  if (holder !== null) await dr.query(`KILL ${Number(holder)}`).catch(() => undefined);
  const [got] = await dr.query(`SELECT GET_LOCK(?, ${LOCK_WAIT_S}) AS got`, [lockName(link)]);
  if (Number((got as { got: number }[])[0].got) !== 1) {
    throw new StepError("CONFLICT", `Link ${link}'s applier did not let go of its lock within ${LOCK_WAIT_S} s`, "stop whatever holds the lock (the link's daemon) and promote again");
  }
}

/** A server's read-only settings as the promotion found them, to be put back exactly. */
interface ServerSide {
  conn: Connection;
  flavor: Flavor;
  /** "the master at host:port", for messages. */
  name: string;
  readOnly: boolean;
  /** MySQL only (MariaDB has none). */
  superReadOnly: boolean;
}

async function sideOf(conn: Connection, flavor: Flavor, name: string): Promise<ServerSide> {
  const [rows] = await conn.query(`SELECT @@GLOBAL.read_only AS ro${flavor === "mysql" ? ", @@GLOBAL.super_read_only AS sro" : ""} /* mysql-dr promote */`);
  const row = (rows as { ro: number; sro?: number }[])[0];
  return { conn, flavor, name, readOnly: Number(row.ro) === 1, superReadOnly: Number(row.sro ?? 0) === 1 };
}

/** A step taken back when the promotion fails; `state` says where it leaves things, for the error. */
interface Undo {
  state: string;
  run(): Promise<void>;
}

function restore(side: ServerSide): Undo {
  const state = side.superReadOnly ? "super-read-only" : side.readOnly ? "read-only" : "writable";
  return {
    state: `${side.name} ${state} as before`,
    async run() {
      const { conn } = side;
      if (side.flavor === "mysql" && !side.superReadOnly) await conn.query("SET GLOBAL super_read_only = OFF /* mysql-dr promote */");
      await conn.query(`SET GLOBAL read_only = ${side.readOnly ? "ON" : "OFF"} /* mysql-dr promote */`);
      if (side.superReadOnly) await conn.query("SET GLOBAL super_read_only = ON /* mysql-dr promote */");
    },
  };
}

/** Takes back the marks this promotion set, and only those: `links` were unfenced when it began. */
function dropCreated(dr: Connection, triggers: TriggerName[]): Undo {
  return {
    get state() {
      return triggers.length ? `triggers ${names(triggers).join(", ")} dropped` : "no trigger created";
    },
    async run() {
      await dropTriggers(dr, triggers);
    },
  };
}

function disableEnabled(dr: Connection, events: EventName[]): Undo {
  return {
    get state() {
      return events.length ? `events ${names(events).join(", ")} disabled on the replica side again` : "no event enabled or disabled";
    },
    async run() {
      await disableReplicaEvents(dr, events);
    },
  };
}

function unfence(dr: Connection, links: string[]): Undo {
  return {
    state: `${listOf("link", links)} unfenced`,
    async run() {
      await dr.query(`UPDATE ${CHECKPOINT_SCHEMA}.checkpoint SET fenced = 0 WHERE link IN (?) /* mysql-dr promote */`, [links]);
    },
  };
}

/**
 * Runs the undo steps last first, and stops at the first that fails: the master is reopened last,
 * and only once the DR server is known to be read-only again.
 */
async function undoAll(undo: Undo[]): Promise<string> {
  const steps = [...undo].reverse();
  for (const [i, step] of steps.entries()) {
    try {
      await step.run();
    } catch (err) {
      return `the rollback stopped at ${step.state} (${sentenceOf(err)}), so restore by hand: ${steps.slice(i).map((s) => s.state).join(", ")}`;
    }
  }
  return `everything was restored (${steps.map((s) => s.state).join(", ")})`;
}

/** An error of a promotion step that keeps apart what happened and what to change, so the rollback's outcome can go between. */
class StepError extends DrError {
  constructor(code: ErrorCode, readonly what: string, readonly advice: string) {
    super(code, `${what}; ${advice}.`);
  }
}

function rolledBack(err: unknown, doing: string, outcome: string): DrError {
  const what = err instanceof StepError ? err.what : `The promotion failed ${doing} (${sentenceOf(err)})`;
  const advice = err instanceof StepError ? `: ${err.advice}` : "";
  return new DrError(codeOf(err), `${what}; ${outcome}${advice}.`, { cause: err });
}

function openedThenFailed(err: unknown, doing: string, opened: boolean, dr: ServerSide, master: ServerSide | undefined, links: string[]): DrError {
  const kept = [master && `${master.name} stays read-only`, links.length && `${listOf("link", links)} ${links.length === 1 ? "stays" : "stay"} fenced`].filter(Boolean).join(" and ");
  const where = `The promotion failed ${doing} (${sentenceOf(err)})`;
  return new DrError(codeOf(err), opened
    ? `${where}, yet it stands: ${dr.name} is the writable server${kept ? ` and ${kept}` : ""}, as nothing is undone once it may hold writes; point the application at it.`
    : `${where}, so ${dr.name} may accept writes now${kept ? ` and ${kept}` : ""}; check its @@GLOBAL.read_only: OFF means the promotion is complete, ON that no server takes writes until you promote it again with --force (without --source).`,
  { cause: err });
}

function codeOf(err: unknown): ErrorCode {
  if (err instanceof DrError) return err.code;
  return [1044, 1142, 1143, 1227].includes((err as { errno?: number }).errno ?? 0) ? "ACCESS_DENIED" : "INTERNAL";
}

function sentenceOf(err: unknown): string {
  return errorMessage(err).replace(/\.$/, "");
}

function listOf(noun: string, names: string[]): string {
  return names.length ? `${noun}${names.length === 1 ? "" : "s"} ${names.join(", ")}` : "";
}

/**
 * `stopSuperUsers`: on MySQL also super_read_only, which stops every writer: right for a master
 * being switched over, wrong for a DR server, where the applier writes with SUPER.
 */
export async function setReadOnly(conn: Connection, flavor: Flavor, readOnly: boolean, stopSuperUsers = false): Promise<void> {
  if (flavor === "mysql" && !readOnly) await conn.query("SET GLOBAL super_read_only = OFF");
  await conn.query(`SET GLOBAL read_only = ${readOnly ? "ON" : "OFF"}`);
  if (flavor === "mysql" && readOnly && stopSuperUsers) await conn.query("SET GLOBAL super_read_only = ON");
}
