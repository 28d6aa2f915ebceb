/**
 * XA transactions prepared on the master and not yet committed or rolled back there: their
 * selected changes, kept on the DR server (`mysql_dr.xa_prepared`) in the same target transaction
 * as the checkpoint that moves past the prepare, so a restart finds them again. XA COMMIT applies
 * and removes them, XA ROLLBACK removes them.
 */
import * as v8 from "node:v8";
import type { Connection } from "../core/db";
import { CHECKPOINT_SCHEMA } from "./checkpoint-store";

const TABLE = `${CHECKPOINT_SCHEMA}.xa_prepared`;

export async function ensureXaTable(conn: Connection): Promise<void> {
  await conn.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      link VARCHAR(64) NOT NULL,
      xid VARCHAR(400) NOT NULL,
      prepare_gtid VARCHAR(255) NOT NULL,
      changes LONGBLOB NOT NULL,
      PRIMARY KEY (link, xid)
    ) ENGINE=InnoDB /* mysql-dr xa */`);
}

/** Inside the applier's open transaction. xids are logged in X'..',X'..',n form: ASCII. */
export async function saveXa(conn: Connection, link: string, xid: string, gtid: string, changes: unknown[]): Promise<void> {
  await conn.query(`REPLACE INTO ${TABLE} (link, xid, prepare_gtid, changes) VALUES (?, ?, ?, ?) /* mysql-dr xa */`, [link, xid, gtid, v8.serialize(changes)]);
}

export async function deleteXa(conn: Connection, link: string, xid: string): Promise<void> {
  await conn.query(`DELETE FROM ${TABLE} WHERE link = ? AND xid = ? /* mysql-dr xa */`, [link, xid]);
}

/** The kept changes of a prepared transaction, or undefined when none were kept for `xid`. */
export async function loadXa<T>(conn: Connection, link: string, xid: string): Promise<T[] | undefined> {
  const [rows] = await conn.query(`SELECT changes FROM ${TABLE} WHERE link = ? AND xid = ? /* mysql-dr xa */`, [link, xid]);
  const row = (rows as { changes: Buffer }[])[0];
  return row ? (v8.deserialize(row.changes) as T[]) : undefined;
}
