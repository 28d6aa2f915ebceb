/**
 * The selection's views and stored routines on the master, as the statements that create them
 * elsewhere: what an application needs besides tables to run on a promoted DR server. Views go
 * with the table selection (they share its namespace); procedures and functions with their
 * database. Only reads.
 */
import { type Connection, quoteId, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import { type Selector, SYSTEM_SCHEMAS } from "../core/object-filter";

export interface ViewDefinition {
  db: string;
  name: string;
  /** CREATE OR REPLACE ... VIEW `db`.`name` AS ...: runs from any default database. */
  create: string;
}

export interface RoutineDefinition {
  db: string;
  name: string;
  type: "PROCEDURE" | "FUNCTION";
  /** As SHOW CREATE gives it: the name unqualified, so it runs with `db` as the default database. */
  create: string;
  /** The sql_mode the routine was created under, which its body keeps. */
  sqlMode: string;
}

export interface TriggerDefinition {
  db: string;
  name: string;
  table: string;
  /** The sql_mode the body is parsed under: a name list, or the binlog's numeric form. */
  sqlMode: string;
  /** The CREATE TRIGGER statement as the master ran it (its name may be unqualified: it runs with `db` as default). */
  definition: string;
}

const SYSTEM = `(${SYSTEM_SCHEMAS.map(() => "?").join(", ")})`;

export async function selectedViews(source: Connection, filter: Selector): Promise<ViewDefinition[]> {
  const [rows] = await source.query(`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA NOT IN ${SYSTEM} ORDER BY 1, 2 /* mysql-dr catalog */`, [...SYSTEM_SCHEMAS]);
  const views: ViewDefinition[] = [];
  for (const { db, name } of rows as { db: string; name: string }[]) {
    if (!filter.tableSelected(db, name)) continue;
    const [shown] = await source.query(`SHOW CREATE VIEW ${quoteTable(db, name)} /* mysql-dr catalog */`);
    const text = String((shown as Record<string, string>[])[0]["Create View"]);
    // SHOW CREATE VIEW names the view without its database; the tables inside are qualified.
    const create = text.replace(/^CREATE /i, "CREATE OR REPLACE ").replace(/ VIEW `(?:[^`]|``)+` AS /i, () => ` VIEW ${quoteTable(db, name)} AS `);
    views.push({ db, name, create });
  }
  return views;
}

export async function selectedRoutines(source: Connection, filter: Selector): Promise<RoutineDefinition[]> {
  const [rows] = await source.query(`SELECT ROUTINE_SCHEMA AS db, ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION') AND ROUTINE_SCHEMA NOT IN ${SYSTEM} ORDER BY 1, 3, 2 /* mysql-dr catalog */`, [...SYSTEM_SCHEMAS]);
  const routines: RoutineDefinition[] = [];
  for (const { db, name, type } of rows as { db: string; name: string; type: RoutineDefinition["type"] }[]) {
    if (!filter.databaseSelected(db)) continue;
    const [shown] = await source.query(`SHOW CREATE ${type} ${quoteTable(db, name)} /* mysql-dr catalog */`);
    const row = (shown as Record<string, string | null>[])[0];
    const create = row[type === "PROCEDURE" ? "Create Procedure" : "Create Function"];
    if (create === null || create === undefined) {
      throw new DrError("ACCESS_DENIED", `The master's user may not read the definition of ${type.toLowerCase()} ${quoteId(db)}.${quoteId(name)}; grant it SELECT on mysql.proc (MariaDB) or SHOW_ROUTINE (MySQL), or exclude database ${db}.`);
    }
    routines.push({ db, name, type, create, sqlMode: String(row.sql_mode ?? "") });
  }
  return routines;
}

/** The triggers of selected tables, as the link keeps them (see dr-state/trigger-store.ts). */
export async function selectedTriggers(source: Connection, filter: Selector): Promise<TriggerDefinition[]> {
  const [rows] = await source.query(`SELECT TRIGGER_SCHEMA AS db, TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tbl FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA NOT IN ${SYSTEM} ORDER BY 1, 2 /* mysql-dr catalog */`, [...SYSTEM_SCHEMAS]);
  const triggers: TriggerDefinition[] = [];
  for (const { db, name, tbl } of rows as { db: string; name: string; tbl: string }[]) {
    if (!filter.tableSelected(db, tbl)) continue;
    const [shown] = await source.query(`SHOW CREATE TRIGGER ${quoteTable(db, name)} /* mysql-dr catalog */`);
    const row = (shown as Record<string, string>[])[0];
    triggers.push({ db, name, table: tbl, sqlMode: String(row.sql_mode ?? ""), definition: String(row["SQL Original Statement"]) });
  }
  return triggers;
}

/**
 * An event's status on the master: ENABLED runs it; DISABLED and SLAVESIDE_DISABLED (DISABLE ON
 * SLAVE, which MySQL 8.4 calls REPLICA_SIDE_DISABLED) do not.
 */
export type EventStatus = "ENABLED" | "DISABLED" | "SLAVESIDE_DISABLED";

export interface EventDefinition {
  db: string;
  name: string;
  /** SHOW CREATE EVENT's statement: the name unqualified, its status (ENABLE/DISABLE) explicit. */
  create: string;
  sqlMode: string;
  /** The time zone its schedule is read in. */
  timeZone: string;
  status: EventStatus;
}

/** The events of selected databases. */
export async function selectedEvents(source: Connection, filter: Selector): Promise<EventDefinition[]> {
  const [rows] = await source.query(`SELECT EVENT_SCHEMA AS db, EVENT_NAME AS name, STATUS AS status FROM information_schema.EVENTS WHERE EVENT_SCHEMA NOT IN ${SYSTEM} ORDER BY 1, 2 /* mysql-dr catalog */`, [...SYSTEM_SCHEMAS]);
  const events: EventDefinition[] = [];
  for (const { db, name, status } of rows as { db: string; name: string; status: string }[]) {
    if (!filter.databaseSelected(db)) continue;
    const [shown] = await source.query(`SHOW CREATE EVENT ${quoteTable(db, name)} /* mysql-dr catalog */`);
    const row = (shown as Record<string, string>[])[0];
    events.push({ db, name, create: String(row["Create Event"]), sqlMode: String(row.sql_mode ?? ""), timeZone: String(row.time_zone ?? "SYSTEM"), status: eventStatus(status) });
  }
  return events;
}

/** information_schema's STATUS, with MySQL 8.4's name for the replica side folded into the older one. */
export function eventStatus(status: string): EventStatus {
  const s = status.toUpperCase();
  return s === "ENABLED" || s === "DISABLED" ? s : "SLAVESIDE_DISABLED";
}
