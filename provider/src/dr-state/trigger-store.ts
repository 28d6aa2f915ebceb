/**
 * The selection's triggers, kept on the DR server instead of created there: while it is a
 * replica their effects arrive through the binlog as rows, and a trigger firing on applied rows
 * would double them. The link keeps each definition up to date (initial copy, then CREATE and
 * DROP TRIGGER from the binlog, exactly once with the checkpoint), and promotion creates them
 * once the appliers are stopped and before the server opens.
 */
import type { TriggerDefinition } from "../catalog/schema-objects";
import { type Connection, quoteId, quoteTable } from "../core/db";
import { CHECKPOINT_SCHEMA, hexText, stateRows } from "./checkpoint-store";

const TABLE = `${CHECKPOINT_SCHEMA}.triggers`;

export type KeptTrigger = TriggerDefinition;

export async function ensureTriggerTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${CHECKPOINT_SCHEMA} /* mysql-dr triggers */`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL,
      db VARCHAR(64) NOT NULL,
      name VARCHAR(64) NOT NULL,
      table_name VARCHAR(64) NOT NULL,
      sql_mode VARCHAR(1024) NOT NULL,
      definition LONGTEXT NOT NULL,
      PRIMARY KEY (link, db, name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 /* mysql-dr triggers */`);
}

/** Records triggers read from the master (initial copy, link update), replacing what the link kept of them. */
export async function keepTriggers(conn: Connection, link: string, triggers: KeptTrigger[]): Promise<void> {
  for (const t of triggers) await conn.query(keepTriggerSql(link, t));
}

/** Forgets the kept triggers whose table `stillKept` rejects (all of them without it). */
export async function forgetTriggers(conn: Connection, link: string, stillKept: (t: { db: string; table: string }) => boolean = () => false): Promise<void> {
  const kept = await stateRows<{ db: string; name: string; table: string }>(conn, `SELECT db, name, table_name AS \`table\` FROM ${TABLE} WHERE link = ? /* mysql-dr triggers */`, [link]);
  for (const t of kept) if (!stillKept(t)) await conn.query(forgetTriggerSql(link, t.db, t.name));
}

/**
 * The statement that keeps a trigger, for the applier to run in place of the master's CREATE
 * TRIGGER. Values go as hex: it runs under the master's session sql_mode, whatever that does to
 * quotes and backslashes.
 */
export function keepTriggerSql(link: string, t: KeptTrigger): string {
  return `REPLACE INTO ${TABLE} (link, db, name, table_name, sql_mode, definition) VALUES (${[link, t.db, t.name, t.table, t.sqlMode, t.definition].map(hexText).join(", ")}) /* mysql-dr triggers */`;
}

/** In place of the master's DROP TRIGGER. */
export function forgetTriggerSql(link: string, db: string, name: string): string {
  return `DELETE FROM ${TABLE} WHERE link = ${hexText(link)} AND db = ${hexText(db)} AND name = ${hexText(name)} /* mysql-dr triggers */`;
}

export interface TriggerName {
  db: string;
  name: string;
}

/** Creates the triggers the links kept, and returns them. The session's default database and sql_mode change. */
export async function createKeptTriggers(conn: Connection, links: string[]): Promise<TriggerName[]> {
  if (!links.length) return [];
  const kept = await stateRows<KeptTrigger>(conn, `SELECT db, name, sql_mode AS sqlMode, definition FROM ${TABLE} WHERE link IN (?) ORDER BY db, name /* mysql-dr triggers */`, [links]);
  const created: TriggerName[] = [];
  for (const t of kept) {
    await conn.query(`USE ${quoteId(t.db)}`);
    if (/^\d+$/.test(t.sqlMode)) await conn.query(`SET SESSION sql_mode = ${t.sqlMode}`);
    else await conn.query("SET SESSION sql_mode = ?", [t.sqlMode]);
    await conn.query(`DROP TRIGGER IF EXISTS ${quoteTable(t.db, t.name)}`);
    await conn.query(t.definition);
    created.push({ db: t.db, name: t.name });
  }
  return created;
}

/** The triggers these links kept (and a promotion created from). */
export async function keptTriggers(conn: Connection, links: string[]): Promise<TriggerName[]> {
  if (!links.length) return [];
  return stateRows(conn, `SELECT db, name FROM ${TABLE} WHERE link IN (?) ORDER BY db, name /* mysql-dr triggers */`, [links]);
}

/** Undoes createKeptTriggers (a promotion that did not open the server). */
export async function dropTriggers(conn: Connection, triggers: TriggerName[]): Promise<void> {
  for (const t of triggers) await conn.query(`DROP TRIGGER IF EXISTS ${quoteTable(t.db, t.name)}`);
}
