/**
 * Events on a DR server wait disabled on the replica side (SLAVESIDE_DISABLED, as a native replica
 * marks every event it receives; the link creates and replays them so). A promotion gives the
 * events its links keep the status they have on the master (see dr-state/event-store.ts): it
 * enables those the master runs, as failover tools do, so scheduled work goes on on the new
 * primary, and disables those the master keeps disabled. Events no link keeps (outside the
 * selection, or there before a link created with --initial none) are left as they are.
 */
import { type Connection, quoteTable } from "../core/db";
import { keptEvents } from "../dr-state/event-store";

export interface EventName {
  db: string;
  name: string;
}

export interface SettledEvent extends EventName {
  enabled: boolean;
}

/** Settles the links' waiting events, adding each to `settled` as soon as it changed (so a failure can be undone). */
export async function settleReplicaEvents(dr: Connection, links: string[], settled: SettledEvent[]): Promise<void> {
  const kept = await keptEvents(dr, links);
  if (!kept.length) return;
  const [rows] = await dr.query("SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE STATUS IN ('SLAVESIDE_DISABLED', 'REPLICA_SIDE_DISABLED') ORDER BY 1, 2 /* mysql-dr promote */");
  // Event names ignore case.
  const waiting = new Map((rows as EventName[]).map((e) => [`${e.db}\u0000${e.name.toLowerCase()}`, e]));
  for (const k of kept) {
    const e = waiting.get(`${k.db}\u0000${k.name.toLowerCase()}`);
    // A status the master itself gave (DISABLE ON SLAVE) stays.
    if (!e || k.status === "SLAVESIDE_DISABLED") continue;
    const enabled = k.status === "ENABLED";
    await dr.query(`ALTER EVENT ${quoteTable(e.db, e.name)} ${enabled ? "ENABLE" : "DISABLE"} /* mysql-dr promote */`);
    settled.push({ db: e.db, name: e.name, enabled });
  }
}

/** Undoes settleReplicaEvents (a promotion that did not open the server). */
export async function disableReplicaEvents(dr: Connection, events: EventName[]): Promise<void> {
  for (const e of events) await dr.query(`ALTER EVENT ${quoteTable(e.db, e.name)} DISABLE ON SLAVE /* mysql-dr promote */`);
}

/**
 * A promoted server becoming a DR copy again (--reuse-promoted): the events these (fenced) links
 * kept wait on the replica side again, so they do not run on a replica.
 */
export async function rewaitReplicaEvents(dr: Connection, links: string[]): Promise<void> {
  const kept = new Set((await keptEvents(dr, links)).map((k) => `${k.db}\u0000${k.name.toLowerCase()}`));
  if (!kept.size) return;
  const [rows] = await dr.query("SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE STATUS IN ('ENABLED', 'DISABLED') ORDER BY 1, 2 /* mysql-dr promote */");
  await disableReplicaEvents(dr, (rows as EventName[]).filter((e) => kept.has(`${e.db}\u0000${e.name.toLowerCase()}`)));
}
