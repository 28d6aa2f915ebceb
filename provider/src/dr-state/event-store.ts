/**
 * The master's status of the events a link keeps on the DR server. There every event waits
 * disabled on the replica side (SLAVESIDE_DISABLED), as a native replica marks every event it
 * receives whatever its status on the master, so that status is kept here (initial copy, then
 * CREATE/ALTER/DROP EVENT from the binlog, exactly once with the DDL), and a promotion gives each
 * event the master's: it enables those the master runs and leaves disabled those it does not.
 */
import type { EventStatus } from "../catalog/schema-objects";
import type { Connection } from "../core/db";
import { CHECKPOINT_SCHEMA, hexText, stateRows } from "./checkpoint-store";

const TABLE = `${CHECKPOINT_SCHEMA}.events`;

export interface KeptEvent {
  db: string;
  name: string;
  status: EventStatus;
}

export async function ensureEventTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${CHECKPOINT_SCHEMA} /* mysql-dr events */`);
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL,
      db VARCHAR(64) NOT NULL,
      name VARCHAR(64) NOT NULL,
      status VARCHAR(32) NOT NULL,
      PRIMARY KEY (link, db, name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 /* mysql-dr events */`);
}

/** Records events read from the master (initial copy, link update), replacing what the link kept of them. */
export async function keepEvents(conn: Connection, link: string, events: KeptEvent[]): Promise<void> {
  for (const e of events) await conn.query(keepEventSql(link, e, "replace"));
}

/** Forgets the kept events `stillKept` rejects (all of them without it). */
export async function forgetEvents(conn: Connection, link: string, stillKept: (e: KeptEvent) => boolean = () => false): Promise<void> {
  const kept = await stateRows<KeptEvent>(conn, `SELECT db, name, status FROM ${TABLE} WHERE link = ? /* mysql-dr events */`, [link]);
  for (const e of kept) if (!stillKept(e)) await conn.query(forgetEventSql(link, e.db, e.name));
}

/**
 * The statements that follow one of the master's CREATE/ALTER/DROP EVENT, for the applier to run
 * before the DDL itself (replayed after a crash, they are harmless). Values go as hex: they run
 * under the master's session sql_mode.
 */
export function eventStatementSql(link: string, change: EventChange): string[] {
  const { db, name } = change.event;
  switch (change.verb) {
    case "create":
      // CREATE ... IF NOT EXISTS of an event that exists changes nothing on the master.
      return [keepEventSql(link, { db, name, status: change.status ?? "ENABLED" }, change.ifNotExists ? "if-absent" : "replace")];
    case "drop":
      return [forgetEventSql(link, db, name)];
    case "alter": {
      const to = change.renameTo ?? change.event;
      const out: string[] = [];
      if (change.renameTo) {
        out.push(forgetEventSql(link, to.db, to.name));
        out.push(`UPDATE ${TABLE} SET db = ${hexText(to.db)}, name = ${hexText(to.name)} WHERE ${key(link, db, name)} /* mysql-dr events */`);
      }
      // Without a status clause an ALTER keeps the master's status.
      if (change.status) out.push(keepEventSql(link, { db: to.db, name: to.name, status: change.status }, "replace"));
      return out;
    }
  }
}

export interface EventChange {
  verb: "create" | "alter" | "drop";
  event: { db: string; name: string };
  /** The status the statement sets on the master; absent when it says none (CREATE: ENABLED). */
  status?: EventStatus;
  renameTo?: { db: string; name: string };
  ifNotExists?: boolean;
}

function keepEventSql(link: string, e: KeptEvent, mode: "replace" | "if-absent"): string {
  return `${mode === "replace" ? "REPLACE" : "INSERT IGNORE"} INTO ${TABLE} (link, db, name, status) VALUES (${[link, e.db, e.name, e.status].map(hexText).join(", ")}) /* mysql-dr events */`;
}

function forgetEventSql(link: string, db: string, name: string): string {
  return `DELETE FROM ${TABLE} WHERE ${key(link, db, name)} /* mysql-dr events */`;
}

function key(link: string, db: string, name: string): string {
  return `link = ${hexText(link)} AND db = ${hexText(db)} AND name = ${hexText(name)}`;
}

/** The events these links keep, with the master's status (for a promotion). */
export async function keptEvents(conn: Connection, links: string[]): Promise<KeptEvent[]> {
  if (!links.length) return [];
  return stateRows<KeptEvent>(conn, `SELECT db, name, status FROM ${TABLE} WHERE link IN (?) ORDER BY db, name /* mysql-dr events */`, [links]);
}

