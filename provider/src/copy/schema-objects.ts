/**
 * Brings the selection's views, stored routines, events and triggers to the DR server, after its
 * tables, at link creation and when a link update widens the selection: the binlog then carries
 * their later changes (CREATE/ALTER/DROP VIEW, PROCEDURE, FUNCTION and EVENT are replayed like
 * table DDL, events disabled on the replica side; CREATE/DROP TRIGGER are kept), so a promoted DR
 * server has what the application calls and schedules.
 */
import { type EventDefinition, type RoutineDefinition, type ViewDefinition, selectedEvents, selectedRoutines, selectedTriggers, selectedViews } from "../catalog/schema-objects";
import { type Connection, READ_SQL_MODE, quoteId, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import { type ObjectFilter, addedSelection } from "../core/object-filter";
import { ensureEventTable, forgetEvents, keepEvents } from "../dr-state/event-store";
import { ensureTriggerTable, forgetTriggers, keepTriggers } from "../dr-state/trigger-store";
import { disabledOnReplica } from "../stream/ddl-parser";
import { createDatabases } from "./copy-planner";

const ER_NO_SUCH_TABLE = 1146;

export interface CreatedObjects {
  views: string[];
  routines: string[];
  events: string[];
  /** Kept in mysql_dr.triggers for promotion, not created. */
  triggers: string[];
}

/**
 * Creates on the DR server the schema objects `selection` brings: all it selects at link creation,
 * or at a link update (`previous`: the selection before it) only what it adds. Routines first,
 * views in dependency order (a view reading what is not selected is refused), events disabled on
 * the replica side with their master status kept for promotion, and the triggers' definitions kept.
 * What a link update removes stays on the DR server as it is, like its tables; the link forgets
 * its triggers and events, so a promotion neither creates nor enables them.
 */
export async function copySchemaObjects(source: Connection, target: Connection, link: string, selection: ObjectFilter, previous?: ObjectFilter): Promise<CreatedObjects> {
  const added = previous ? addedSelection(previous, selection) : selection;
  const routines = await selectedRoutines(source, added);
  const views = await selectedViews(source, added);
  const events = await selectedEvents(source, added);
  const triggers = await selectedTriggers(source, added);
  // A database may hold only views, routines or events: the tables' copy did not create it.
  await createDatabases(source, target, [...routines, ...views, ...events].map((o) => o.db));
  for (const r of routines) await createRoutine(target, r);
  await createViews(target, views);
  await ensureEventTable(target);
  await ensureTriggerTable(target);
  // A new link keeps nothing from a link of the same name before it; an update forgets what it deselects.
  await forgetEvents(target, link, previous ? (e) => selection.databaseSelected(e.db) : undefined);
  await forgetTriggers(target, link, previous ? (t) => selection.tableSelected(t.db, t.table) : undefined);
  for (const e of events) await createEvent(target, e);
  await keepEvents(target, link, events);
  await keepTriggers(target, link, triggers);
  await target.query(`SET SESSION sql_mode = '${READ_SQL_MODE}', time_zone = '+00:00'`);
  const names = (objects: { db: string; name: string }[]) => objects.map((o) => `${o.db}.${o.name}`);
  return { views: names(views), routines: names(routines), events: names(events), triggers: names(triggers) };
}

/** Disabled on the replica side, as a native replica keeps every event it receives; a promotion gives it the master's status. */
async function createEvent(target: Connection, e: EventDefinition): Promise<void> {
  await target.query(`USE ${quoteId(e.db)}`);
  await target.query("SET SESSION sql_mode = ?, time_zone = ?", [e.sqlMode, e.timeZone]);
  await target.query(`DROP EVENT IF EXISTS ${quoteTable(e.db, e.name)} /* mysql-dr copy */`);
  await target.query(disabledOnReplica(e.create));
}

async function createRoutine(target: Connection, r: RoutineDefinition): Promise<void> {
  // The body is parsed under the sql_mode it was written for, with its database as the default.
  await target.query(`USE ${quoteId(r.db)}`);
  await target.query("SET SESSION sql_mode = ?", [r.sqlMode]);
  await target.query(`DROP ${r.type} IF EXISTS ${quoteTable(r.db, r.name)} /* mysql-dr copy */`);
  await target.query(r.create);
}

/**
 * Views may read other views, in any order: each round creates those whose tables and views
 * exist; a round that creates none leaves views reading something outside the selection, which
 * the stream could not keep either.
 */
async function createViews(target: Connection, views: ViewDefinition[]): Promise<void> {
  let pending = views;
  while (pending.length) {
    const waiting: ViewDefinition[] = [];
    for (const v of pending) {
      try {
        await target.query(v.create);
      } catch (err) {
        if ((err as { errno?: number }).errno !== ER_NO_SUCH_TABLE) throw err;
        waiting.push(v);
      }
    }
    if (waiting.length === pending.length) {
      const v = waiting[0];
      throw new DrError("PRECONDITION", `View ${v.db}.${v.name} reads a table or view that is not in the link's selection (${waiting.length} such view${waiting.length === 1 ? "" : "s"}); include what it reads, or exclude the view.`);
    }
    pending = waiting;
  }
}
