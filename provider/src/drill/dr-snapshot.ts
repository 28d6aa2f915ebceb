/**
 * A consistent read of a DR copy at one GTID: one session, one snapshot (read only: the drill never
 * writes to the DR server). The link's checkpoint row read in that snapshot names the master GTIDs
 * the snapshot reflects, because the applier commits the checkpoint in the same transaction as the
 * rows it covers. Everything the drill takes from the DR server (table list aside, which is
 * catalog) is read in that snapshot: the rows it copies and the checksums it compares them with.
 */
import { type SourceTable, listSelectedTables } from "../catalog/selected-tables";
import { readTableShape } from "../catalog/table-shape";
import type { ServerAddress } from "../core/connection-url";
import { formatHostPort } from "../core/connection-url";
import { type Connection, DATA_QUERY_TIMEOUT_MS, openConnection, openWireConnection } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { ObjectFilter, type ObjectSelection } from "../core/object-filter";
import { inspectServer } from "../core/server-inspector";
import { prepareTargetTables } from "../copy/copy-planner";
import { copiedColumns, streamTableRows } from "../copy/table-stream";
import { CHECKPOINT_SCHEMA, ensureCheckpointTable, readCheckpoint } from "../dr-state/checkpoint-store";
import { chunkChecksumSql } from "../verify/row-hash";

/** A whole table's checksum: row count, and the sum and XOR of verify's row hashes. */
export interface TableChecksum {
  table: string;
  rows: number;
  sum: string;
  xor: string;
}

export class DrSnapshot {
  private constructor(
    private readonly conn: Connection,
    readonly flavor: Flavor,
    /** Master GTIDs the DR copy had applied when the snapshot opened. */
    readonly gtid: string,
  ) {}

  /** Opens the snapshot and reads `link`'s checkpoint in it; refuses a copy that is not at a clean GTID. */
  static async open(target: ServerAddress, link: string): Promise<DrSnapshot> {
    const conn = await openConnection(target, "target", { queryTimeoutMs: DATA_QUERY_TIMEOUT_MS });
    try {
      const { flavor } = await inspectServer(conn);
      // Under READ COMMITTED (a server default some set) WITH CONSISTENT SNAPSHOT is silently ignored.
      await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ /* mysql-dr drill */");
      await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY /* mysql-dr drill */");
      const checkpoint = await readCheckpoint(conn, link);
      const where = `the DR server at ${formatHostPort(target)}`;
      if (!checkpoint) throw new DrError("PRECONDITION", `${capitalize(where)} holds no checkpoint of link ${link}, so its copy is at no known GTID; check the link's target.`);
      if (checkpoint.fenced) throw new DrError("PRECONDITION", `${capitalize(where)} was promoted (link ${link} is fenced there): it is a primary now, not a DR copy to drill.`);
      // The DDL's effects may or may not be in the tables: the copy is not exactly at the checkpoint.
      if (checkpoint.pendingDdl) throw new DrError("CONFLICT", `Link ${link} is applying a DDL (${checkpoint.pendingDdl.gtid}) on ${where}; run the drill again when it is done.`);
      return new DrSnapshot(conn, flavor, checkpoint.sourceGtid);
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** The link's selected tables as the DR copy holds them. */
  selectedTables(objects: ObjectSelection): Promise<SourceTable[]> {
    return listSelectedTables(this.conn, new ObjectFilter(objects), this.flavor);
  }

  /**
   * Creates `tables` on `into` from the DR copy's definitions and copies their rows, plus the
   * link's checkpoint row (what a real promotion finds on a DR server and fences). Returns the
   * rows copied.
   */
  async copyInto(into: ServerAddress, link: string, tables: SourceTable[]): Promise<number> {
    const ddl = await openConnection(into, "sandbox");
    const rows = await openWireConnection(into, "sandbox", { multipleStatements: true, queryTimeoutMs: 0 });
    try {
      await prepareTargetTables(this.conn, ddl, tables, false);
      await ensureCheckpointTable(ddl);
      // Parents and children arrive in any order; the DR copy already satisfies its foreign keys.
      await rows.query("SET SESSION foreign_key_checks = 0 /* mysql-dr drill */");
      let copied = 0;
      for (const t of tables) copied += await this.copyTable(rows, t.db, t.table);
      await this.copyTable(rows, CHECKPOINT_SCHEMA, "checkpoint", { sql: "link = ?", params: [link] });
      return copied;
    } finally {
      ddl.destroy();
      rows.destroy();
    }
  }

  /** Checksums of `tables` in the snapshot, to compare with the sandbox's. */
  checksums(tables: SourceTable[]): Promise<TableChecksum[]> {
    return tableChecksums(this.conn, tables);
  }

  close(): void {
    // Nothing was written: dropping the session ends the read-only transaction.
    this.conn.destroy();
  }

  private async copyTable(rows: Connection, db: string, table: string, where?: { sql: string; params: unknown[] }): Promise<number> {
    const columns = copiedColumns(await readTableShape(this.conn, db, table, this.flavor), db, table);
    await rows.query("START TRANSACTION /* mysql-dr drill */");
    const copied = await streamTableRows(this.conn, rows, db, table, columns, where);
    await rows.query("COMMIT /* mysql-dr drill */");
    return copied;
  }
}

/** Whole-table checksums with verify's row hash, over the stored columns. */
export async function tableChecksums(conn: Connection, tables: SourceTable[]): Promise<TableChecksum[]> {
  const sums: TableChecksum[] = [];
  for (const t of tables) {
    const hashed = { db: t.db, table: t.table, columns: t.shape.columns.filter((c) => !c.generated), key: t.shape.key ?? null };
    const [rows] = await conn.query(chunkChecksumSql(hashed, "1 = 1"));
    const r = (rows as { cnt: string | number; total: string | number; xored: string | number }[])[0];
    sums.push({ table: `${t.db}.${t.table}`, rows: Number(r.cnt), sum: String(r.total), xor: String(r.xored) });
  }
  return sums;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
