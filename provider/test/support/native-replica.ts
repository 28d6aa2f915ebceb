/**
 * Native replication as the reference: a server replicating from the test master with the
 * server's own GTID replication, so a test can run the same change through it and through the
 * daemon and compare. Also the exact table snapshots both comparisons use.
 */
import * as mysql from "mysql2/promise";
import { gtidCovers } from "../../src/core/gtid";
import { connect, masterPosition, serverAddress, sleep, sql } from "./daemon-process";
import type { TestServer } from "./servers";

export type NativeOutcome = { state: "applied" } | { state: "stopped"; errno: number; error: string };

export class NativeReplica {
  private constructor(readonly server: TestServer, private readonly master: TestServer) {}

  /** Makes `server` a native replica of `master` from the master's current position. */
  static async attach(server: TestServer, master: TestServer): Promise<NativeReplica> {
    const position = await masterPosition(master);
    const source = `'${master.host}', ${master.flavor === "mysql" ? "SOURCE_PORT" : "MASTER_PORT"}=${master.port}`;
    if (master.flavor === "mariadb") {
      await sql(server, `CHANGE MASTER TO MASTER_HOST=${source}, MASTER_USER='${master.user}', MASTER_PASSWORD='${master.password}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
        SET GLOBAL gtid_slave_pos = '${position}'; START SLAVE`);
    } else {
      await sql(server, `RESET MASTER; SET GLOBAL gtid_purged = '${position}';
        CHANGE REPLICATION SOURCE TO SOURCE_HOST=${source}, SOURCE_USER='${master.user}', SOURCE_PASSWORD='${master.password}', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=1;
        START REPLICA`);
    }
    return new NativeReplica(server, master);
  }

  /** Waits until the replica applied everything the master has, or its SQL thread stopped on an error. */
  async settle(timeoutMs = 60_000): Promise<NativeOutcome> {
    const wanted = await masterPosition(this.master);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (status.errno) return { state: "stopped", errno: status.errno, error: status.error };
      if (gtidCovers(this.master.flavor, status.applied, wanted)) return { state: "applied" };
      if (Date.now() > deadline) throw new Error(`the native replica did not apply ${wanted} within ${timeoutMs} ms (it has ${status.applied})`);
      await sleep(50);
    }
  }

  /** After an error: skips what is left of the master's binlog and goes on from its end. */
  async skipToMaster(): Promise<void> {
    const position = await masterPosition(this.master);
    if (this.master.flavor === "mariadb") await sql(this.server, `STOP SLAVE; SET GLOBAL gtid_slave_pos = '${position}'; START SLAVE`);
    else await sql(this.server, `STOP REPLICA; RESET MASTER; SET GLOBAL gtid_purged = '${position}'; START REPLICA`);
  }

  private async status(): Promise<{ applied: string; errno: number; error: string }> {
    const [row] = await sql(this.server, this.master.flavor === "mariadb" ? "SHOW SLAVE STATUS" : "SHOW REPLICA STATUS");
    const applied = await sql(this.server, this.master.flavor === "mariadb" ? "SELECT @@GLOBAL.gtid_slave_pos AS pos" : "SELECT @@GLOBAL.gtid_executed AS pos");
    return {
      applied: String(applied[0].pos).replace(/\s+/g, ""),
      errno: Number(row?.Last_SQL_Errno ?? 0) || Number(row?.Last_IO_Errno ?? 0),
      error: String(row?.Last_SQL_Error || row?.Last_IO_Error || ""),
    };
  }
}

export interface TableSnapshot {
  /** SHOW CREATE TABLE without the AUTO_INCREMENT counter (which no replica reproduces exactly). */
  definition: string;
  /** Every row as the stored bytes of each column (hex; FLOAT through DOUBLE), sorted. */
  rows: string[];
}

/** Every table (and sequence) of `db`, byte for byte, and its views', routines' and events' definitions. */
export async function databaseSnapshot(server: TestServer, db: string): Promise<Map<string, TableSnapshot>> {
  const conn = await mysql.createConnection({ ...serverAddress(server), multipleStatements: true });
  const snapshot = new Map<string, TableSnapshot>();
  try {
    const [tables] = await conn.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY 1", [db]);
    for (const { t } of tables as { t: string }[]) {
      const [[created]] = (await conn.query(`SHOW CREATE TABLE \`${db}\`.\`${t}\``)) as unknown as [Record<string, string>[]];
      const definition = String(created["Create Table"] ?? created["Create Sequence"] ?? Object.values(created)[1]).replace(/ AUTO_INCREMENT=\d+/, "");
      const [columns] = await conn.query("SELECT COLUMN_NAME AS c, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", [db, t]);
      // The stored bytes of the value's text form (no character set conversion); FLOAT through DOUBLE (every bit).
      const select = (columns as { c: string; type: string }[]).map(({ c, type }) => {
        const id = `\`${c.replace(/`/g, "``")}\``;
        return type === "float" ? `CONCAT(${id} + 0E0)` : type === "double" ? `CONCAT(${id})` : `HEX(CONCAT(${id}))`;
      });
      const [rows] = await conn.query({ sql: `SELECT ${select.join(", ") || "1"} FROM \`${db}\`.\`${t}\``, rowsAsArray: true });
      snapshot.set(t, { definition, rows: (rows as unknown[][]).map((r) => JSON.stringify(r)).sort() });
    }
    // Views and routines, by definition: what an application calls on a promoted server.
    const [views] = await conn.query("SELECT TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY 1", [db]);
    for (const { name } of views as { name: string }[]) {
      const [[created]] = (await conn.query(`SHOW CREATE VIEW \`${db}\`.\`${name}\``)) as unknown as [Record<string, string>[]];
      snapshot.set(`view ${name}`, { definition: String(created["Create View"]), rows: [] });
    }
    const [routines] = await conn.query("SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 2, 1", [db]);
    for (const { name, type } of routines as { name: string; type: string }[]) {
      const [[created]] = (await conn.query(`SHOW CREATE ${type} \`${db}\`.\`${name}\``)) as unknown as [Record<string, string>[]];
      snapshot.set(`${type.toLowerCase()} ${name}`, { definition: String(created[`Create ${type === "PROCEDURE" ? "Procedure" : "Function"}`]), rows: [] });
    }
    // Events: the definition (its status clause apart), the session it was created in, and the status.
    const [events] = await conn.query("SELECT EVENT_NAME AS name, STATUS AS status FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY 1", [db]);
    for (const { name, status } of events as { name: string; status: string }[]) {
      const [[created]] = (await conn.query(`SHOW CREATE EVENT \`${db}\`.\`${name}\``)) as unknown as [Record<string, string>[]];
      const statement = String(created["Create Event"]).replace(EVENT_STATUS_CLAUSE, "$1");
      const session = ["sql_mode", "time_zone", "character_set_client", "collation_connection"].map((k) => `${k}: ${created[k]}`);
      snapshot.set(`event ${name}`, { definition: [statement, ...session, `${EVENT_STATUS} ${status === "REPLICA_SIDE_DISABLED" ? "SLAVESIDE_DISABLED" : status}`].join("\n"), rows: [] });
    }
  } finally {
    await conn.end();
  }
  return snapshot;
}

/** SHOW CREATE EVENT always states the status, right after ON COMPLETION. */
const EVENT_STATUS_CLAUSE = /( ON COMPLETION(?: NOT)? PRESERVE) (?:ENABLE|DISABLE ON (?:SLAVE|REPLICA)|DISABLE)(?= )/;
const EVENT_STATUS = "status:";

/**
 * What a replica of the snapshot's server holds: the same, but every event disabled on the
 * replica side, as native replication marks each event it receives (SLAVESIDE_DISABLED),
 * whatever its status on the master.
 */
export function asReplicated(master: Map<string, TableSnapshot>): Map<string, TableSnapshot> {
  const replica = new Map<string, TableSnapshot>();
  for (const [key, s] of master) {
    replica.set(key, key.startsWith("event ") ? { ...s, definition: s.definition.replace(new RegExp(`^${EVENT_STATUS} .*$`, "m"), `${EVENT_STATUS} SLAVESIDE_DISABLED`) } : s);
  }
  return replica;
}

/** Where two snapshots differ, in a few words (empty when identical). */
export function snapshotDifferences(expected: Map<string, TableSnapshot>, actual: Map<string, TableSnapshot>): string[] {
  const out: string[] = [];
  for (const [t, e] of expected) {
    const a = actual.get(t);
    if (!a) out.push(`${t}: missing`);
    else {
      if (a.definition !== e.definition) out.push(`${t}: definition differs:\n${e.definition}\n---\n${a.definition}`);
      if (JSON.stringify(a.rows) !== JSON.stringify(e.rows)) out.push(`${t}: rows differ: ${JSON.stringify(e.rows).slice(0, 600)} vs ${JSON.stringify(a.rows).slice(0, 600)}`);
    }
  }
  for (const t of actual.keys()) if (!expected.has(t)) out.push(`${t}: extra`);
  return out;
}

export { connect };
