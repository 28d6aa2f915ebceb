/**
 * Events on a DR server wait disabled on the replica side (SLAVESIDE_DISABLED, as a native replica
 * keeps them; the link creates and replays them so): a promotion enables them, as failover tools
 * do, so scheduled work goes on on the new primary. Events the master itself kept disabled stay so.
 */
import { type Connection, quoteTable } from "../core/db";

export interface EventName {
  db: string;
  name: string;
}

export async function enableReplicaEvents(dr: Connection): Promise<EventName[]> {
  const [rows] = await dr.query("SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE STATUS IN ('SLAVESIDE_DISABLED', 'REPLICA_SIDE_DISABLED') ORDER BY 1, 2 /* mysql-dr promote */");
  const events = rows as EventName[];
  for (const e of events) await dr.query(`ALTER EVENT ${quoteTable(e.db, e.name)} ENABLE /* mysql-dr promote */`);
  return events;
}

/** Undoes enableReplicaEvents (a promotion that did not open the server). */
export async function disableReplicaEvents(dr: Connection, events: EventName[]): Promise<void> {
  for (const e of events) await dr.query(`ALTER EVENT ${quoteTable(e.db, e.name)} DISABLE ON SLAVE /* mysql-dr promote */`);
}
