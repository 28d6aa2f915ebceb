/**
 * Makes a server a replica of a link (again): the old master before a link back to it starts, or
 * the old DR server when the pair switches back. Read-only; the selection's triggers kept by the
 * link and dropped (applied rows already carry their effects); its events disabled on the replica
 * side, their statuses kept by the link. What a promotion does, undone; the definitions and
 * statuses stay for the next promotion.
 */
import { eventStatus, selectedTriggers } from "../catalog/schema-objects";
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";
import type { ObjectFilter } from "../core/object-filter";
import { dropTriggers, ensureTriggerTable, forgetTriggers, keepTriggers } from "../dr-state/trigger-store";
import { setReadOnly } from "./promoter";
import { ensureEventTable, forgetEvents, keepEvents } from "../dr-state/event-store";
import { disableReplicaEvents } from "./replica-events";

export async function becomeReplica(conn: Connection, flavor: Flavor, link: string, filter: ObjectFilter): Promise<void> {
  // Not super_read_only (MySQL): the link's own applier writes here.
  await setReadOnly(conn, flavor, true);
  const triggers = await selectedTriggers(conn, filter);
  await ensureTriggerTable(conn);
  await forgetTriggers(conn, link);
  await keepTriggers(conn, link, triggers);
  await dropTriggers(conn, triggers);
  // Every selected event waits on the replica side, as a native replica holds them; the link keeps
  // each one's status here (the new primary's, which a promotion gave it from these) for the next promotion.
  const [rows] = await conn.query("SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name, STATUS AS status FROM information_schema.EVENTS ORDER BY 1, 2 /* mysql-dr replica */");
  const events = (rows as { db: string; name: string; status: string }[]).filter((e) => filter.databaseSelected(e.db)).map((e) => ({ db: e.db, name: e.name, status: eventStatus(e.status) }));
  await ensureEventTable(conn);
  await forgetEvents(conn, link);
  await keepEvents(conn, link, events);
  await disableReplicaEvents(conn, events.filter((e) => e.status !== "SLAVESIDE_DISABLED"));
}
