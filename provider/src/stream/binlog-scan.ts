/**
 * Reads what a server committed after a GTID position, up to where it stands now, and tells which
 * of those transactions touch a link's selection and how many rows each table got: the errant
 * transactions an old master kept after a forced promotion, before a link back to it may start.
 * Through the same reader and assembler as the link (so the selection means the same), applying
 * nothing.
 */
import type { ServerAddress } from "../core/connection-url";
import type { Flavor } from "../core/flavor";
import { gtidCovers, parseGtidProgress } from "../core/gtid";
import type { ObjectFilter } from "../core/object-filter";
import { BinlogReader } from "./binlog-reader";
import { endsTransaction } from "./change-events";
import type { AccountPolicy } from "../catalog/accounts";
import { TransactionAssembler } from "./transaction-assembler";

export interface ScannedTransaction {
  gtid: string;
  /** Rows changed per `db.table`; a DDL lists its tables with 0. */
  tables: Record<string, number>;
}

export interface ScanOptions {
  server: ServerAddress;
  flavor: Flavor;
  /** Transactions after this position are read. */
  from: string;
  /** ...up to this one (the server's position, read once it can no longer move). */
  to: string;
  filter: ObjectFilter;
  replicaServerId: number;
  charsetOf(collationId: number): string | undefined;
  /** Gives up after this long without reaching `to`. */
  timeoutMs: number;
  /** The link's account policy: account statements count as its changes where it replays them. */
  accounts?: AccountPolicy;
}

/** The selected transactions between `from` and `to`, in binlog order. */
export async function scanSelectedTransactions(o: ScanOptions): Promise<ScannedTransaction[]> {
  if (gtidCovers(o.flavor, o.from, o.to)) return [];
  const progress = await parseGtidProgress(o.flavor, o.from);
  const found = new Map<string, Record<string, number>>();
  const touch = (gtid: string, table: string, rows: number) => {
    const tables = found.get(gtid) ?? {};
    tables[table] = (tables[table] ?? 0) + rows;
    found.set(gtid, tables);
  };
  let finish!: (err?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (finish = (err) => (err ? reject(err) : resolve())));
  const assembler = new TransactionAssembler("binlog-scan", o.filter, () => false, {
    push: (item) => {
      if (item.kind === "rows") touch(item.gtid, `${item.change.db}.${item.change.table}`, item.change.rows.length);
      else if (item.kind === "xa-prepare") for (const c of item.changes) touch(item.gtid, `${c.db}.${c.table}`, c.rows.length);
      else if (item.kind === "ddl") {
        const { tables } = item.ddl.touches;
        if (tables.length) for (const t of tables) touch(item.gtid, `${t.db}.${t.table}`, 0);
        else touch(item.gtid, "(views, routines, events or accounts)", 0);
      }
      else if (item.kind === "refuse") touch(item.gtid, "(a change the link cannot apply)", 0);
      if (endsTransaction(item) || item.kind === "refuse") {
        progress.add(item.gtid);
        if (gtidCovers(o.flavor, progress.toString(), o.to)) finish();
      }
    },
  }, { accounts: o.accounts });
  const reader = new BinlogReader({ source: o.server, fromGtid: o.from, replicaServerId: o.replicaServerId, charsetOf: o.charsetOf, onEvent: (e) => assembler.accept(e), onError: (err) => finish(err), rowsWanted: (db, table) => assembler.wantsRows(db, table) });
  const timer = setTimeout(() => finish(new Error(`the binlog was not read up to ${o.to} within ${o.timeoutMs / 1000} s`)), o.timeoutMs);
  try {
    await reader.start();
    await done;
  } finally {
    clearTimeout(timer);
    await reader.stop();
  }
  return [...found].map(([gtid, tables]) => ({ gtid, tables }));
}
