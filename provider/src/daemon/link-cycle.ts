/**
 * The DR cycle as the daemon runs it. A link copies its source (the master, A) to its target (the
 * DR server, B): "forward". When a promotion fences it on B, the link turns around as soon as A
 * answers ("reverse": B to A), so A catches up with what the application writes on B; when A is
 * promoted back (the switch back), it turns forward again. Each turn is the same step in the other
 * direction ("arm"): the old master is made a replica (read-only, its triggers kept and dropped,
 * its events disabled on the replica side), what it committed that the new primary never applied
 * is found by reading its binlog and recorded on the new primary, and the link starts on it from
 * the position the new primary had when it opened. Transactions found only on the old master stop
 * the turn unless failback.onDivergence is "resync", which re-copies the tables they touched.
 *
 * Everything the turn needs is on the two servers (checkpoint rows, the promotion record), so a
 * daemon that restarts halfway finds where it was.
 */
import { ObjectFilter } from "../core/object-filter";
import { listSelectedTables } from "../catalog/selected-tables";
import { accountPolicy } from "../catalog/accounts";
import { planCopyUnits, prepareTargetTables } from "../copy/copy-planner";
import { formatHostPort } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError, errorMessage } from "../core/errors";
import { collationCharsets, currentGtidPosition, inspectServer } from "../core/server-inspector";
import { initCheckpoint, readCheckpoint } from "../dr-state/checkpoint-store";
import { deleteCopyUnits, ensureCopyStateTable, insertCopyUnits } from "../dr-state/copy-state";
import { writeAsLink } from "../dr-state/link-writer";
import { type Divergence, type PromotionRecord, readPromotion, recordDivergence } from "../dr-state/promotion-record";
import { setReadOnly } from "../promote/promoter";
import { becomeReplica } from "../promote/replica-role";
import { scanSelectedTransactions } from "../stream/binlog-scan";
import type { Direction, LinkDefinition } from "./link-definition";

const SCAN_TIMEOUT_MS = 120_000;

/** The link's servers for a direction: forward copies the declared source to the declared target. */
export function directed(def: LinkDefinition, direction: Direction = def.direction): LinkDefinition {
  return direction === "forward" ? def : { ...def, source: def.target, target: def.source };
}

export function opposite(direction: Direction): Direction {
  return direction === "forward" ? "reverse" : "forward";
}

export type NextStep =
  /** Run in this direction (`copyPlanned`: tables to re-copy first). */
  | { run: Direction; copyPlanned: boolean; divergence: Divergence | null }
  /** Stay promoted, for this reason (shown in status), and look again later. */
  | { wait: string; divergence: Divergence | null };

/**
 * Where a link goes once its target was promoted: on in the other direction if that is armed
 * already (a daemon that stopped halfway), else armed now when allowed, else nowhere yet.
 */
export async function nextStep(def: LinkDefinition, replicaServerId: number): Promise<NextStep> {
  const next = opposite(def.direction);
  const link = directed(def, next);
  if (next === "reverse" && !def.failback.enabled) return { wait: `The DR server was promoted and failback is disabled for link ${def.name}; enable failback to run the link back to the old master.`, divergence: null };
  let newPrimary: Connection | undefined;
  let oldPrimary: Connection | undefined;
  try {
    newPrimary = await openConnection(link.source, "source");
    oldPrimary = await openConnection(link.target, "target").catch((err: Error) => {
      throw new DrError("UNREACHABLE", `Waiting for the old master at ${formatHostPort(link.target)} to answer before link ${def.name} runs back to it (${errorMessage(err)}).`);
    });
    const armed = await readCheckpoint(oldPrimary, def.name);
    const promotion = await readPromotion(newPrimary, def.name);
    if (armed && !armed.fenced && promotion && armed.sourceGtid !== "" && armed.sourceIdentity === (await inspectServer(newPrimary)).identity) {
      return { run: next, copyPlanned: false, divergence: promotion.divergence };
    }
    if (!promotion) {
      return { wait: `The server at ${formatHostPort(link.source)} was opened without a promotion record for link ${def.name} (read_only turned off by hand?), so where its own writes begin is unknown; promote it with 'mysql-dr promote', or recreate the link.`, divergence: null };
    }
    return await arm(def, next, link, newPrimary, oldPrimary, promotion, replicaServerId);
  } finally {
    newPrimary?.destroy();
    oldPrimary?.destroy();
  }
}

async function arm(def: LinkDefinition, next: Direction, link: LinkDefinition, newPrimary: Connection, oldPrimary: Connection, promotion: PromotionRecord, replicaServerId: number): Promise<NextStep> {
  const [newFacts, oldFacts] = await Promise.all([inspectServer(newPrimary), inspectServer(oldPrimary)]);
  const filter = new ObjectFilter(def.objects);
  // The old master must stop taking writes before its own can be counted.
  await setReadOnly(oldPrimary, oldFacts.flavor, true);
  const fenced = await readCheckpoint(newPrimary, def.name);
  // A refused turn is retried every few seconds: the old master, read-only, is read again only when it moved.
  const to = await currentGtidPosition(oldPrimary, oldFacts.flavor);
  const known = promotion.divergence;
  const divergence = known && known.unknown === undefined && known.scannedTo === to ? known : await findDivergence(link, oldPrimary, oldFacts.flavor, fenced?.sourceGtid ?? "", to, filter, replicaServerId);
  if (divergence !== known) {
    await writeAsLink(newPrimary, def.name, newFacts.flavor);
    await recordDivergence(newPrimary, def.name, divergence);
  }
  const diverged = divergence.gtids.length > 0 || divergence.unknown !== undefined;
  if (diverged && def.failback.onDivergence === "refuse") return { wait: divergenceSentence(def, link, divergence), divergence };

  await writeAsLink(oldPrimary, def.name, oldFacts.flavor);
  await becomeReplica(oldPrimary, oldFacts.flavor, def.name, filter);
  await initCheckpoint(oldPrimary, def.name, promotion.openedGtid, newFacts.identity, true);
  let copyPlanned = false;
  if (diverged) {
    // Resync: the old master's version of the tables it changed alone is replaced by the new primary's.
    const named = new Set(Object.keys(divergence.tables));
    const all = await listSelectedTables(newPrimary, filter, newFacts.flavor);
    const tables = divergence.unknown !== undefined || [...named].some((n) => n.startsWith("(")) ? all : all.filter((t) => named.has(`${t.db}.${t.table}`));
    const units = await planCopyUnits(newPrimary, tables, def.copyParallelism);
    await prepareTargetTables(newPrimary, oldPrimary, tables, true);
    await ensureCopyStateTable(oldPrimary);
    await deleteCopyUnits(oldPrimary, def.name);
    await insertCopyUnits(oldPrimary, def.name, units);
    copyPlanned = units.length > 0;
  }
  return { run: next, copyPlanned, divergence };
}

/** The old master's transactions after the position the new primary had applied, in the selection. */
async function findDivergence(link: LinkDefinition, oldPrimary: Connection, flavor: "mysql" | "mariadb", applied: string, to: string, filter: ObjectFilter, replicaServerId: number): Promise<Divergence> {
  const checkedAt = new Date().toISOString();
  try {
    const found = await scanSelectedTransactions({
      server: link.target,
      flavor,
      from: applied,
      to,
      filter,
      replicaServerId,
      charsetOf: ((charsets) => (id: number) => charsets.get(id))(await collationCharsets(oldPrimary)),
      timeoutMs: SCAN_TIMEOUT_MS,
      accounts: accountPolicy(link.objects, link.target.user, flavor),
    });
    const tables: Record<string, number> = {};
    for (const t of found) for (const [name, rows] of Object.entries(t.tables)) tables[name] = (tables[name] ?? 0) + rows;
    return { gtids: found.map((t) => t.gtid), tables, checkedAt, scannedTo: to };
  } catch (err) {
    return { gtids: [], tables: {}, checkedAt, unknown: `its binlog after ${applied || "the start"} could not be read (${errorMessage(err)})` };
  }
}

export function divergenceSentence(def: LinkDefinition, link: LinkDefinition, d: Divergence): string {
  const where = `the old master at ${formatHostPort(link.target)}`;
  if (d.unknown !== undefined) return `Link ${def.name} does not run back to ${where}: whether it holds transactions the new primary never applied cannot be told (${d.unknown}); set failback.onDivergence to resync to re-copy the whole selection from the new primary.`;
  const tables = Object.entries(d.tables).map(([t, rows]) => `${t} (${rows} row${rows === 1 ? "" : "s"})`).join(", ");
  return `Link ${def.name} does not run back to ${where}: it holds ${d.gtids.length} transaction${d.gtids.length === 1 ? "" : "s"} the new primary never applied (${d.gtids.slice(0, 5).join(", ")}${d.gtids.length > 5 ? ", ..." : ""}), touching ${tables}; nothing was overwritten. Set failback.onDivergence to resync to replace those tables on the old master with the new primary's, or reconcile them by hand.`;
}
