/**
 * Promotion guardrails: whether a planned promotion of a DR server should go ahead, read from the
 * live servers alone (no daemon needed, nothing written), so `pulumi preview` can show them and the
 * promotion can refuse with the same sentences.
 *
 * The links are found on the DR server: the unfenced mysql_dr.checkpoint rows recorded for the
 * master's identity (all unfenced rows when the master is not reachable). A link runs when its
 * applier holds the link's named lock on the DR server. Lag is an upper bound: 0 when the DR copy
 * has applied the master's whole position, else the master's clock now minus the master-side time
 * of the newest change applied (heartbeat marker or event timestamp; before the first, the
 * checkpoint's last update), so a link that is far behind can never look caught up.
 */
import type { ServerAddress } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError } from "../core/errors";
import { gtidCovers, gtidMissingCount } from "../core/gtid";
import { currentGtidPosition, inspectServer } from "../core/server-inspector";
import { type Checkpoint, lockName, readCheckpoint, unfencedLinks } from "../dr-state/checkpoint-store";
import { errantGtids } from "../dr-state/link-writer";
import { type LastVerification, latestLinkRecord } from "../dr-state/link-records";

export const DEFAULT_MAX_LAG_S = 5;
export const DEFAULT_MAX_OPEN_TRANSACTION_S = 30;

export const GUARDRAILS = ["link-running", "lag", "errant-transactions", "open-transactions", "ddl-in-flight", "verification"] as const;
export type GuardrailName = (typeof GUARDRAILS)[number];

export interface GuardrailOptions {
  maxLagSeconds?: number;
  maxOpenTransactionSeconds?: number;
  /** When set, a verification without differences must have finished within this many minutes. */
  requireVerifiedWithinMinutes?: number;
  /** Forced promotion: the guardrails that need the master are skipped when it does not answer. */
  allowDataLoss?: boolean;
}

export interface GuardrailResult {
  name: GuardrailName;
  pass: boolean;
  /** The measured figure the verdict rests on (seconds, a count, GTIDs), null when not measured. */
  figure: number | string | null;
  sentence: string;
}

/** The guardrails, plus the figures link status and outputs show. */
export interface GuardrailReport {
  results: GuardrailResult[];
  links: string[];
  lagSeconds: number | null;
  unappliedTransactions: number | null;
  errantGtids: string[] | null;
  lastVerification: LastVerification | null;
}

/** Statements that change schema, as the processlist shows them running on the master: verb and object kind. */
const DDL_STATEMENT = /^\s*(?:\/\*.*?\*\/\s*)*(ALTER|CREATE|DROP|RENAME|TRUNCATE)\s+(?:OR\s+REPLACE\s+|ONLINE\s+|IGNORE\s+|TEMPORARY\s+)*(\w+)/is;

/** The comment every statement the daemon sends carries. */
const DAEMON_STATEMENT = /\/\* mysql-dr [\w-]+ \*\/\s*$/;

export async function evaluateGuardrails(o: { master?: ServerAddress; target: ServerAddress; links?: string[] } & GuardrailOptions): Promise<GuardrailReport> {
  const dr = await openConnection(o.target, "DR");
  let master: Connection | undefined;
  try {
    master = o.master ? await openConnection(o.master, "source").catch((err: DrError) => {
      if (o.allowDataLoss && err.code === "UNREACHABLE") return undefined;
      throw err;
    }) : undefined;
    if (!master && !o.allowDataLoss) throw new DrError("PRECONDITION", "The master is needed to evaluate a planned promotion's guardrails; give it, or set promotion.allowDataLoss for a forced promotion.");
    return await evaluate(dr, master, o);
  } finally {
    dr.destroy();
    master?.destroy();
  }
}

/** The failing guardrails' sentences, in one: what a preview and a refused promotion say. */
export function blockers(report: GuardrailReport): string[] {
  return report.results.filter((r) => !r.pass).map((r) => r.sentence);
}

async function evaluate(dr: Connection, master: Connection | undefined, o: { links?: string[] } & GuardrailOptions): Promise<GuardrailReport> {
  const drFacts = await inspectServer(dr);
  const masterFacts = master && (await inspectServer(master));
  const links = o.links ?? (await unfencedLinks(dr, masterFacts?.identity));
  const checkpoints = (await Promise.all(links.map((l) => readCheckpoint(dr, l)))).filter((c): c is Checkpoint => c !== undefined);
  const flavor = drFacts.flavor;
  const position = master ? await currentGtidPosition(master, flavor) : null;

  const results: GuardrailResult[] = [];
  const skipped = (name: GuardrailName) => results.push({ name, pass: true, figure: null, sentence: `${name}: skipped, the master does not answer (forced promotion).` });

  // Without the master (forced) its link cannot run: that is why the promotion is forced.
  const stopped = master ? await stoppedLinks(dr, links) : [];
  if (!master && links.length) skipped("link-running");
  else results.push(links.length === 0
    ? { name: "link-running", pass: false, figure: 0, sentence: "No link applies this master to the DR server; create a SyncLink (or resume its link) before promoting." }
    : stopped.length === 0
      ? { name: "link-running", pass: true, figure: links.length, sentence: `Link ${links.join(", ")} is running.` }
      : { name: "link-running", pass: false, figure: links.length - stopped.length, sentence: `Link ${stopped.join(", ")} is not running (no applier holds its lock on the DR server); resume it (mysql-dr link resume) and let it catch up before promoting.` });

  let lagSeconds: number | null = null;
  let unapplied: number | null = null;
  if (!master || position === null) {
    skipped("lag");
  } else {
    const maxLag = o.maxLagSeconds ?? DEFAULT_MAX_LAG_S;
    const [nowRows] = await master.query("SELECT ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS now_ms /* mysql-dr guardrails */");
    const nowMs = Number((nowRows as { now_ms: string | number }[])[0].now_ms);
    const lags = checkpoints.map((c) => (gtidCovers(flavor, c.sourceGtid, position) ? 0 : Math.max(0, nowMs - (c.appliedSourceMs ?? Date.parse(c.updatedAt))) / 1000));
    lagSeconds = lags.length ? Math.min(...lags) : null;
    unapplied = checkpoints.length ? Math.min(...checkpoints.map((c) => gtidMissingCount(flavor, c.sourceGtid, position))) : null;
    results.push(lagSeconds === null
      ? { name: "lag", pass: false, figure: null, sentence: "Lag cannot be measured: no link applies this master to the DR server; create a SyncLink before promoting." }
      : lagSeconds <= maxLag
        ? { name: "lag", pass: true, figure: lagSeconds, sentence: `Lag is ${lagSeconds.toFixed(3)} s (${unapplied} transactions not applied), within promotion.maxLagSeconds (${maxLag}).` }
        : { name: "lag", pass: false, figure: lagSeconds, sentence: `Lag is ${lagSeconds.toFixed(3)} s (${unapplied} master transactions not applied), above promotion.maxLagSeconds (${maxLag}); let the link catch up, or raise promotion.maxLagSeconds.` });
  }

  const errant = await errantGtids(dr, flavor, links);
  results.push(errant === null
    ? { name: "errant-transactions", pass: true, figure: null, sentence: `Errant transactions cannot be told on this DR server (${flavor === "mariadb" ? "the link's sessions could not set their own server_id" : "MySQL keeps no per-session GTID source"}); not evaluated.` }
    : errant.length === 0
      ? { name: "errant-transactions", pass: true, figure: 0, sentence: "No errant transactions on the DR server." }
      // Undoing an errant change does not clear this (its GTID stays in gtid_binlog_state, and the
      // undo is one more): the sentence must not suggest it does.
      : { name: "errant-transactions", pass: false, figure: errant.join(","), sentence: `The DR server has transactions that did not come from the master (newest per domain and server: ${errant.join(", ")}); they stay recorded even when undone, so re-create the DR server from the master before promoting.` });

  if (!master) {
    skipped("open-transactions");
  } else {
    const maxOpen = o.maxOpenTransactionSeconds ?? DEFAULT_MAX_OPEN_TRANSACTION_S;
    const [rows] = await master.query(
      // Writes only: a long read keeps working on a read-only master; an open write fails at its commit.
      `SELECT trx_mysql_thread_id AS thread, TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS age FROM information_schema.INNODB_TRX WHERE (trx_rows_modified > 0 OR trx_lock_structs > 0) AND trx_mysql_thread_id <> CONNECTION_ID() ORDER BY trx_started /* mysql-dr guardrails */`,
    );
    const open = rows as { thread: number; age: number }[];
    const oldest = open.length ? Number(open[0].age) : 0;
    const long = open.filter((t) => Number(t.age) > maxOpen);
    results.push(long.length === 0
      ? { name: "open-transactions", pass: true, figure: oldest, sentence: `No write transaction on the master is open longer than promotion.maxOpenTransactionSeconds (${maxOpen}); the oldest is ${oldest} s.` }
      : { name: "open-transactions", pass: false, figure: oldest, sentence: `${long.length} write transaction${long.length === 1 ? " has" : "s have"} been open on the master longer than promotion.maxOpenTransactionSeconds (${maxOpen}): the oldest for ${oldest} s (connection ${long[0].thread}); let ${long.length === 1 ? "it" : "them"} finish or end ${long.length === 1 ? "it" : "them"}, or raise promotion.maxOpenTransactionSeconds.` });
  }

  const pending = checkpoints.filter((c) => c.pendingDdl !== null).map((c) => c.pendingDdl!.gtid);
  const running = master ? await masterDdl(master) : [];
  results.push(pending.length === 0 && running.length === 0
    ? { name: "ddl-in-flight", pass: true, figure: 0, sentence: `No DDL in flight${master ? "" : " on the DR server (the master was not asked)"}.` }
    : { name: "ddl-in-flight", pass: false, figure: pending.length + running.length, sentence: `DDL is in flight (${[...pending.map((g) => `being applied on the DR server: GTID ${g}`), ...running.map((d) => `running on the master: ${d}`)].join("; ")}); wait until it finishes before promoting.` });

  const lastVerification = await latestLinkRecord(dr, "verification", links);
  results.push(verificationResult(lastVerification, o.requireVerifiedWithinMinutes));

  return { results, links, lagSeconds, unappliedTransactions: unapplied, errantGtids: errant, lastVerification };
}

function verificationResult(last: LastVerification | null, withinMinutes: number | undefined): GuardrailResult {
  const ageMinutes = last ? (Date.now() - Date.parse(last.at)) / 60_000 : null;
  const figure = ageMinutes === null ? null : Math.round(ageMinutes * 10) / 10;
  if (withinMinutes === undefined) return { name: "verification", pass: true, figure, sentence: "No recent verification is required (promotion.requireVerifiedWithinMinutes is not set)." };
  // "repaired": the differences found were rewritten and a second comparison found none.
  if (last && last.result !== "different" && ageMinutes! <= withinMinutes) {
    return { name: "verification", pass: true, figure, sentence: `The last verification (${last.at}) found the copy identical, ${figure} minutes ago, within promotion.requireVerifiedWithinMinutes (${withinMinutes}).` };
  }
  const what = !last ? "No verification was recorded for this link" : last.result === "different" ? `The last verification (${last.at}) found ${last.differences} difference${last.differences === 1 ? "" : "s"} (${last.result})` : `The last verification without differences was ${figure} minutes ago (${last.at})`;
  return { name: "verification", pass: false, figure, sentence: `${what}, and promotion.requireVerifiedWithinMinutes is ${withinMinutes}; run mysql-dr verify --link NAME, or raise the setting.` };
}

async function stoppedLinks(dr: Connection, links: string[]): Promise<string[]> {
  const stopped: string[] = [];
  for (const link of links) {
    const [rows] = await dr.query("SELECT IS_USED_LOCK(?) AS holder /* mysql-dr guardrails */", [lockName(link)]);
    if ((rows as { holder: number | null }[])[0].holder === null) stopped.push(link);
  }
  return stopped;
}

/** DDL statements running on the master now, as "connection N: ALTER TABLE" (never the statement's text: it may hold a password). */
async function masterDdl(master: Connection): Promise<string[]> {
  const [rows] = await master.query("SELECT ID AS id, INFO AS info FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO IS NOT NULL /* mysql-dr guardrails */");
  return (rows as { id: number; info: string | Buffer }[])
    // The daemon's own bookkeeping (CREATE TABLE IF NOT EXISTS mysql_dr.heartbeat when a link starts) is no schema change of the application's.
    .filter((r) => !DAEMON_STATEMENT.test(r.info.toString()))
    .map((r) => ({ id: r.id, ddl: DDL_STATEMENT.exec(r.info.toString()) }))
    .filter((r) => r.ddl !== null)
    .map((r) => `connection ${r.id}: ${r.ddl![1].toUpperCase()} ${r.ddl![2].toUpperCase()}`);
}
