/**
 * Makes a server a replica of a link (again): the old master before a link back to it starts, or
 * the old DR server when the pair switches back. Read-only; the selection's triggers kept by the
 * link and dropped (applied rows already carry their effects); its events disabled on the replica
 * side. What a promotion does, undone; the definitions stay for the next promotion.
 */
import { selectedTriggers } from "../catalog/schema-objects";
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";
import type { ObjectFilter } from "../core/object-filter";
import { dropTriggers, ensureTriggerTable, keepTriggers } from "../dr-state/trigger-store";
import { setReadOnly } from "./promoter";
import { type EventName, disableReplicaEvents } from "./replica-events";

export async function becomeReplica(conn: Connection, flavor: Flavor, link: string, filter: ObjectFilter): Promise<void> {
  // Not super_read_only (MySQL): the link's own applier writes here.
  await setReadOnly(conn, flavor, true);
  const triggers = await selectedTriggers(conn, filter);
  await ensureTriggerTable(conn);
  await keepTriggers(conn, link, triggers);
  await dropTriggers(conn, triggers);
  const [rows] = await conn.query("SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name FROM information_schema.EVENTS WHERE STATUS = 'ENABLED' ORDER BY 1, 2 /* mysql-dr replica */");
  await disableReplicaEvents(conn, (rows as EventName[]).filter((e) => filter.databaseSelected(e.db)));
}
