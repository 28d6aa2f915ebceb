/**
 * Promotion: makes a DR server writable, fencing every link that applies to it so none writes
 * there again (the checkpoint rows are marked fenced, the appliers' sessions are killed, and the
 * links' named locks are taken while the server turns writable: a link that reconnects sees the
 * mark and stops in state "promoted"). This works through the DR server alone, so it works when
 * the daemon is unreachable.
 * Planned (master reachable): the master is made read-only first and the DR copy must apply every
 * master transaction before it is promoted: zero loss. Forced (master unreachable): only with
 * allowDataLoss; what the DR copy had applied is reported.
 */
import { type ServerAddress, formatHostPort } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidCovers, gtidMissingCount } from "../core/gtid";
import { currentGtidPosition, inspectServer } from "../core/server-inspector";
import { CHECKPOINT_SCHEMA, lastRecordTime, lockName } from "../dr-state/checkpoint-store";
import { type RaisedCounter, alignAutoIncrements } from "./auto-increments";

export const DEFAULT_PROMOTION_TIMEOUT_S = 60;
const CATCH_UP_POLL_MS = 50;
const LOCK_WAIT_S = 10;

export interface PromoteOptions {
  target: ServerAddress;
  /** The master; when absent or unreachable the promotion is forced (allowDataLoss required). */
  master?: ServerAddress;
  timeoutSeconds?: number;
  allowDataLoss?: boolean;
}

export interface PromotionResult {
  mode: "planned" | "forced";
  promotedAt: string;
  /** Master GTIDs the DR copy had applied (the furthest of its links). */
  promotedGtid: string;
  /** Forced only: the last known master position, when the DR copy had not applied all of it. */
  unappliedGtid: string | null;
  /** Forced only (null when planned: nothing is lost): what is known of the loss. */
  dataLoss: DataLoss | null;
  fencedLinks: string[];
  /** Planned only: AUTO_INCREMENT counters raised to the master's (see auto-increments.ts). */
  autoIncrementsRaised: RaisedCounter[];
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
    return master ? await planned(dr, master, o) : await forced(dr);
  } finally {
    dr.destroy();
    master?.destroy();
  }
}

async function planned(dr: Connection, master: Connection, o: PromoteOptions): Promise<PromotionResult> {
  const facts = await inspectServer(master);
  const links = await linksFrom(dr, facts.identity);
  await setReadOnly(master, facts.flavor, true, true);
  try {
    const wanted = await currentGtidPosition(master, facts.flavor);
    await waitApplied(dr, links, facts.flavor, wanted, (o.timeoutSeconds ?? DEFAULT_PROMOTION_TIMEOUT_S) * 1000, o.target);
  } catch (err) {
    // Leave the master as it was: the switchover did not happen.
    await setReadOnly(master, facts.flavor, false).catch(() => undefined);
    throw err;
  }
  let promotedGtid: string;
  let autoIncrementsRaised: RaisedCounter[];
  try {
    autoIncrementsRaised = await alignAutoIncrements(master, dr, facts.flavor);
    promotedGtid = await fenceAndOpen(dr, links, facts.flavor);
  } catch (err) {
    // The DR server did not open: give the master back its writes rather than leave no writable server.
    await setReadOnly(master, facts.flavor, false).catch(() => undefined);
    throw err;
  }
  return { mode: "planned", promotedAt: new Date().toISOString(), promotedGtid, unappliedGtid: null, dataLoss: null, fencedLinks: links, autoIncrementsRaised };
}

async function forced(dr: Connection): Promise<PromotionResult> {
  const links = await linksFrom(dr, undefined);
  const flavor = (await inspectServer(dr)).flavor;
  // Read before fencing: the fence rewrites the rows, and with them their update times.
  const known = await lastSeenSourcePosition(dr, links, flavor);
  const lastRecord = await lastRecordTime(dr, links);
  const promotedGtid = await fenceAndOpen(dr, links, flavor);
  const unappliedGtid = known && !gtidCovers(flavor, promotedGtid, known) ? known : null;
  const atLeast = unappliedGtid ? gtidMissingCount(flavor, promotedGtid, unappliedGtid) : 0;
  const dataLoss: DataLoss = {
    atLeastTransactions: atLeast,
    unknownSince: lastRecord,
    summary: `at least ${atLeast} transaction${atLeast === 1 ? "" : "s"}${unappliedGtid ? ` (the master had reached ${unappliedGtid})` : ""}; unknown since ${lastRecord ?? "the link was created"}: the daemon's last record of the master, after which the master may have committed more`,
  };
  // Without the master its counters cannot be read: those the DR holds stand.
  return { mode: "forced", promotedAt: new Date().toISOString(), promotedGtid, unappliedGtid, dataLoss, fencedLinks: links, autoIncrementsRaised: [] };
}


/** Links applying to this DR server (from `identity`'s master, or all when undefined). */
async function linksFrom(dr: Connection, identity: string | undefined): Promise<string[]> {
  try {
    const [rows] = await dr.query(`SELECT link FROM ${CHECKPOINT_SCHEMA}.checkpoint WHERE fenced = 0 ${identity === undefined ? "" : "AND source_identity = ?"} /* mysql-dr promote */`, identity === undefined ? [] : [identity]);
    return (rows as { link: string }[]).map((r) => r.link);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049) return [];
    throw err;
  }
}

async function waitApplied(dr: Connection, links: string[], flavor: Flavor, wanted: string, timeoutMs: number, target: ServerAddress): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const applied = await appliedPositions(dr, links);
    if (applied.some((p) => gtidCovers(flavor, p, wanted))) return;
    if (Date.now() > deadline) {
      throw new DrError("PRECONDITION", `The DR server at ${formatHostPort(target)} did not apply the master's transactions up to ${wanted} within ${Math.round(timeoutMs / 1000)} s (links: ${links.join(", ") || "none"}); the master was made writable again. Check the link's lag and raise promotion.timeoutSeconds.`);
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

async function appliedPositions(dr: Connection, links: string[]): Promise<string[]> {
  if (!links.length) return [];
  const [rows] = await dr.query(`SELECT source_gtid FROM ${CHECKPOINT_SCHEMA}.checkpoint WHERE link IN (?) /* mysql-dr promote */`, [links]);
  return (rows as { source_gtid: string }[]).map((r) => r.source_gtid);
}

/**
 * Marks the links fenced, stops their appliers, and makes the server writable while holding their
 * locks. If it cannot get that far, the marks are taken back so the links go on replicating.
 */
async function fenceAndOpen(dr: Connection, links: string[], flavor: Flavor): Promise<string> {
  const held: string[] = [];
  let opened = false;
  try {
    if (links.length) await dr.query(`UPDATE ${CHECKPOINT_SCHEMA}.checkpoint SET fenced = 1 WHERE link IN (?) /* mysql-dr promote */`, [links]);
    for (const link of links) {
      const [rows] = await dr.query("SELECT IS_USED_LOCK(?) AS holder", [lockName(link)]);
      const holder = (rows as { holder: number | null }[])[0].holder;
      if (holder !== null) await dr.query(`KILL ${Number(holder)}`).catch(() => undefined);
      const [got] = await dr.query(`SELECT GET_LOCK(?, ${LOCK_WAIT_S}) AS got`, [lockName(link)]);
      if (Number((got as { got: number }[])[0].got) !== 1) throw new DrError("CONFLICT", `Link ${link}'s applier did not let go of its lock within ${LOCK_WAIT_S} s; the DR server was left read-only.`);
      held.push(link);
    }
    await setReadOnly(dr, flavor, false);
    opened = true;
    const positions = await appliedPositions(dr, links);
    return positions.reduce((best, p) => (best === "" || gtidCovers(flavor, p, best) ? p : best), "");
  } catch (err) {
    if (!opened && links.length) await dr.query(`UPDATE ${CHECKPOINT_SCHEMA}.checkpoint SET fenced = 0 WHERE link IN (?) /* mysql-dr promote */`, [links]).catch(() => undefined);
    throw err;
  } finally {
    for (const link of held) await dr.query("SELECT RELEASE_LOCK(?)", [lockName(link)]).catch(() => undefined);
  }
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
