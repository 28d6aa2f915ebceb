/**
 * Creates the selection's views and stored routines on the DR server at link creation, after
 * its tables: the binlog then carries their later changes (CREATE/ALTER/DROP VIEW, PROCEDURE,
 * FUNCTION are replayed like table DDL), so a promoted DR server has what the application calls.
 */
import { type RoutineDefinition, type ViewDefinition, selectedRoutines, selectedViews } from "../catalog/schema-objects";
import { type Connection, READ_SQL_MODE, quoteId, quoteTable } from "../core/db";
import { DrError } from "../core/errors";
import type { ObjectFilter } from "../core/object-filter";
import { createDatabases } from "./copy-planner";

const ER_NO_SUCH_TABLE = 1146;

export interface CreatedObjects {
  views: string[];
  routines: string[];
}

export async function createSchemaObjects(source: Connection, target: Connection, filter: ObjectFilter): Promise<CreatedObjects> {
  const routines = await selectedRoutines(source, filter);
  const views = await selectedViews(source, filter);
  // A database may hold only views or routines: the tables' copy did not create it.
  await createDatabases(source, target, [...routines.map((r) => r.db), ...views.map((v) => v.db)]);
  for (const r of routines) await createRoutine(target, r);
  await createViews(target, views);
  await target.query(`SET SESSION sql_mode = '${READ_SQL_MODE}'`);
  return { views: views.map((v) => `${v.db}.${v.name}`), routines: routines.map((r) => `${r.db}.${r.name}`) };
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
