/**
 * Groups source events into transactions (one per GTID) and applies the link's selection. Rows and
 * DDL of selected objects go on to the applier; everything else is dropped, but every source
 * transaction still ends in exactly one ending item (`endsTransaction`), so the checkpoint moves
 * past it. Heartbeat rows of this link are turned into lag markers here and never applied.
 *
 * A group is what the master wrote under one GTID: rows and a commit; a DDL alone; a DDL followed
 * by rows (CREATE TABLE ... SELECT); rows with savepoints; an XA transaction's prepared part (its
 * rows are kept until the XA COMMIT or XA ROLLBACK, a group of its own). What the link cannot
 * apply exactly (a table entering the selection by RENAME, DML logged as a statement) becomes a
 * `refuse` item, so the link stops at that GTID instead of diverging.
 *
 * Account statements (users, roles, grants) go on only for whole-instance links, as the server
 * would replay them, except where they touch the daemon's own login on the DR server.
 */
import { quoteTable } from "../core/db";
import { ObjectFilter, isSystemSchema } from "../core/object-filter";
import type { ApplyItem, DdlStatement, QueryStatement, RowChange, SourceEvent } from "./change-events";
import { disabledOnReplica, type StatementTarget, type TableName, parseStatement } from "./ddl-parser";
import { type AccountName, type AccountPolicy, formatAccount } from "../catalog/accounts";
import { type AccountStatement, resolveInvoker } from "./account-statements";
import type { Flavor } from "../core/flavor";
import { forgetTriggerSql, keepTriggerSql } from "../dr-state/trigger-store";
import { eventStatementSql } from "../dr-state/event-store";
import { statementForMessage } from "../sql/literals";
import { HEARTBEAT_TABLE } from "./heartbeat";

export interface AssemblerOutput {
  push(item: ApplyItem): void;
}

/** sql_mode's ANSI_QUOTES bit (the same in MySQL and MariaDB). */
const MODE_ANSI_QUOTES = 4n;

/** An XA transaction's prepared part: its selected changes, and its xid once XA END names it. */
interface XaBuffer {
  xid?: string;
  changes: RowChange[];
  savepoints: Map<string, number>;
}

interface Group {
  gtid: string;
  /** Already applied before (a resumed stream re-reads it): swallow its events. */
  skip: boolean;
  standalone: boolean | undefined;
  xa?: XaBuffer;
  heartbeatMs?: number;
  /** Selected changes of this group have gone on to the applier. */
  emitted?: boolean;
}

export interface AssemblerOptions {
  /**
   * Whether the master writes column names into its binlog (binlog_row_metadata=FULL). Without
   * them rows are decoded against the table's definition as it is when they are read, which is
   * wrong for rows written before an ALTER that changed the columns. Default true.
   */
  columnNamesInBinlog?: boolean;
  /** The link's name, under which it keeps trigger definitions (the heartbeat key names its row). Default: the heartbeat key. */
  link?: string;
  /** Replay account statements (whole-instance links); absent: they are counted, not replayed. */
  accounts?: AccountPolicy;
}

/** Tables behind users, roles and grants: changed by hand, they bypass the account statements a link replays. */
const GRANT_TABLES = new Set(["user", "global_priv", "db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv", "roles_mapping", "role_edges", "default_roles", "global_grants", "password_history"]);

export class TransactionAssembler {
  private group?: Group;
  /** Statements of a kind the product does not replay (UDFs, plugins, server settings...), for status. */
  ddlSkipped = 0;
  /** Account statements not replayed: all of them for a link with an include list, else those touching only protected users. */
  accountStatementsSkipped = 0;
  private readonly columnNamesInBinlog: boolean;
  private readonly link: string;

  constructor(
    /** The key of this link's heartbeat row on the master. */
    private readonly heartbeatKey: string,
    private readonly filter: ObjectFilter,
    private readonly alreadyApplied: (gtid: string) => boolean,
    private readonly out: AssemblerOutput,
    private readonly options: AssemblerOptions = {},
  ) {
    this.columnNamesInBinlog = options.columnNamesInBinlog ?? true;
    this.link = options.link ?? heartbeatKey;
  }

  accept(event: SourceEvent): void {
    if (event.kind === "gtid") {
      // A group without its terminator (never written by a server) ends where the next begins.
      if (this.group) this.commit(event.timestampMs);
      this.group = {
        gtid: event.gtid,
        skip: this.alreadyApplied(event.gtid),
        standalone: event.standalone,
        xa: event.xa ? { changes: [], savepoints: new Map() } : undefined,
      };
      return;
    }
    const group = this.group;
    if (!group) return;
    if (group.skip) {
      if (event.kind === "xid" || event.kind === "xa-prepare") this.group = undefined;
      return;
    }
    switch (event.kind) {
      case "rows":
        return this.acceptRows(group, event.change);
      case "xid":
        return this.commit(event.timestampMs);
      case "xa-prepare":
        return this.endPrepared(group, event.onePhase, event.timestampMs);
      case "query":
        return this.acceptStatement(group, event.statement, event.timestampMs);
    }
  }

  /**
   * Whether rows of `db`.`table` can matter to this link (its heartbeat row, a grant table it
   * refuses, a selected table): the reader leaves every other table's rows undecoded.
   */
  wantsRows(db: string, table: string): boolean {
    return isHeartbeatTable(db, table) || this.guardsGrantTable(db, table) || this.filter.tableSelected(db, table);
  }

  private acceptRows(group: Group, change: RowChange): void {
    if (isHeartbeatTable(change.db, change.table)) {
      const linkIdx = change.columns.names.indexOf("link");
      const tsIdx = change.columns.names.indexOf("ts_ms");
      for (const row of change.after ?? change.rows) {
        const link = row[linkIdx];
        if ((Buffer.isBuffer(link) ? link.toString("utf8") : link) === this.heartbeatKey) group.heartbeatMs = Number(row[tsIdx]);
      }
      return;
    }
    if (this.guardsGrantTable(change.db, change.table)) {
      return this.refuse(group, `The master changed the grant table mysql.${change.table} directly (GTID ${group.gtid}), which the link cannot follow as it follows account statements; change users, roles and grants with CREATE/ALTER/DROP USER, GRANT and REVOKE, then make the DR server's accounts match the master's and resume the link.`);
    }
    if (!this.filter.tableSelected(change.db, change.table)) return;
    if (group.xa) group.xa.changes.push(change);
    else {
      group.emitted = true;
      this.out.push({ kind: "rows", gtid: group.gtid, change });
    }
  }

  /** A link that follows accounts stops on a grant table changed by hand. */
  private guardsGrantTable(db: string, table: string): boolean {
    return this.options.accounts !== undefined && db.toLowerCase() === "mysql" && GRANT_TABLES.has(table.toLowerCase());
  }

  private acceptStatement(group: Group, statement: QueryStatement, timestampMs: number): void {
    const ansiQuotes = statement.context.sqlMode !== undefined && (BigInt(statement.context.sqlMode) & MODE_ANSI_QUOTES) !== 0n;
    const target = parseStatement(statement.sql, statement.schema, { ansiQuotes });
    switch (target.kind) {
      case "transaction":
        // A group ends in ROLLBACK when non-transactional changes were logged (those stayed on the
        // master); transactional changes logged with them were undone there, and cannot be here.
        if (target.verb === "rollback" && group.emitted) {
          this.refuse(group, `The master logged changes of selected tables in a transaction it rolled back (GTID ${group.gtid}, with changes to non-transactional tables), which cannot be undone exactly; keep non-transactional tables out of transactions on the master.`);
        }
        if (target.verb !== "begin") this.commit(timestampMs);
        return;
      case "savepoint":
        return this.savepoint(group, target.verb, target.name);
      case "xa":
        return this.xaStatement(group, target.verb, target.xid, timestampMs);
      case "dml":
        if (target.table === undefined || this.filter.tableSelected(target.table.db, target.table.table)) {
          this.refuse(group, `The master logged a statement instead of rows (${statementForMessage(statement.sql)}), which cannot be applied exactly; set binlog_format=ROW for every session on the master (GTID ${group.gtid}).`);
        }
        return this.endIfStatementEnds(group, statement, timestampMs);
      case "other":
        if (!isSystemSchema(statement.schema)) this.ddlSkipped++;
        return this.endIfStatementEnds(group, statement, timestampMs);
      default:
        return this.ddl(group, target, statement, timestampMs);
    }
  }

  private ddl(group: Group, target: Exclude<StatementTarget, { kind: "transaction" | "savepoint" | "xa" | "dml" | "other" }>, statement: QueryStatement, timestampMs: number): void {
    const ends = this.statementEnds(group, statement);
    if (!this.columnNamesInBinlog && target.kind === "tables" && target.changesColumns) {
      const table = target.tables.find((t) => this.filter.tableSelected(t.db, t.table));
      if (table) {
        return this.refuse(group, `The master writes no column names into its binlog (binlog_row_metadata needs MySQL 8.0.1+ or MariaDB 10.5+), so rows of ${quoteTable(table.db, table.table)} written around this ALTER (GTID ${group.gtid}) may be decoded against the wrong columns; re-copy the table after the ALTER (remove it from the link and add it back with 'mysql-dr link update'), or upgrade the master.`);
      }
    }
    const selected = this.selectDdl(target, statement, group.gtid);
    if (selected === undefined) return this.endIfStatementEnds(group, statement, timestampMs);
    if (typeof selected === "string") return this.refuse(group, selected);
    this.out.push({ kind: "ddl", gtid: group.gtid, timestampMs, ddl: selected, ends });
    if (ends) this.group = undefined;
  }

  /**
   * The part of a DDL that concerns the selection: the statement as the master ran it, a rewrite
   * when only part of it is selected, undefined when none is, or why it cannot be applied.
   */
  private selectDdl(target: Exclude<StatementTarget, { kind: "transaction" | "savepoint" | "xa" | "dml" | "other" }>, statement: QueryStatement, gtid: string): DdlStatement | string | undefined {
    const sel = (t: TableName) => this.filter.tableSelected(t.db, t.table);
    const asIs = (tables: TableName[], databases: string[], idempotent: boolean): DdlStatement => ({ statement, touches: { tables, databases }, idempotent });
    switch (target.kind) {
      case "database":
        return this.filter.databaseSelected(target.db) ? asIs([], [target.db], target.idempotent) : undefined;
      case "tables": {
        if (target.renameTo) return this.renames(statement, [{ from: target.tables[0], to: target.renameTo }], gtid);
        const selected = target.tables.filter(sel);
        if (selected.length === 0) return undefined;
        if (selected.length === target.tables.length) return asIs(selected, [], target.idempotent);
        // A multi-table DROP of which only some tables are selected: drop just those.
        return { ...asIs(selected, [], true), rewritten: `DROP TABLE IF EXISTS ${selected.map((t) => quoteTable(t.db, t.table)).join(", ")}` };
      }
      case "rename":
        return this.renames(statement, target.pairs, gtid);
      case "accounts":
        return this.accountStatement(target.statement, statement, gtid);
      case "routine":
        return this.filter.databaseSelected(target.routine.db) ? { statement, touches: { tables: [], databases: [], routines: [target.routine] }, idempotent: target.idempotent } : undefined;
      case "event": {
        if (!this.filter.databaseSelected(target.event.db)) return undefined;
        const touches = { tables: [], databases: [], events: target.renameTo ? [target.event, target.renameTo] : [target.event] };
        const ansiQuotes = statement.context.sqlMode !== undefined && (BigInt(statement.context.sqlMode) & MODE_ANSI_QUOTES) !== 0n;
        // The DDL keeps the master's bytes (and so its client character set), its status clause set
        // for the replica side. The master's status is kept before it runs: replayed after a crash
        // that is harmless, and a DDL that ran is not replayed. Messages show the DDL alone (`sql`).
        const ddl = (text: string) => (target.verb === "drop" ? text : disabledOnReplica(text, ansiQuotes));
        const raw = [...eventStatementSql(this.link, target), ddl(statement.raw.toString("latin1"))].join(";\n");
        return { statement: { ...statement, raw: Buffer.from(raw, "latin1"), sql: ddl(statement.sql) }, touches, idempotent: target.idempotent };
      }
      case "trigger": {
        // Kept, not created: the replacement statements are idempotent, so a replay after a crash is harmless.
        const keep = (rewritten: string): DdlStatement => ({ statement, rewritten, touches: { tables: [], databases: [] }, idempotent: true });
        if (target.verb === "drop") return this.filter.databaseSelected(target.trigger.db) ? keep(forgetTriggerSql(this.link, target.trigger.db, target.trigger.name)) : undefined;
        if (!sel(target.table!)) return undefined;
        return keep(keepTriggerSql(this.link, { ...target.trigger, table: target.table!.table, sqlMode: statement.context.sqlMode ?? "", definition: statement.sql }));
      }
    }
  }

  /**
   * An account statement as the DR server must run it: CURRENT_USER and a MariaDB role's implicit
   * admin resolved to the master's invoker (the applier's own login would take their place), or
   * nothing when it only concerns protected users, or why it cannot be replayed.
   */
  private accountStatement(parsed: AccountStatement, statement: QueryStatement, gtid: string): DdlStatement | string | undefined {
    const policy = this.options.accounts;
    if (!policy) {
      this.accountStatementsSkipped++;
      return undefined;
    }
    const implicitAdmin = parsed.implicitAdmin && policy.flavor === "mariadb";
    const invoker = statement.context.invoker;
    if ((parsed.namesInvoker || implicitAdmin) && invoker === undefined) {
      return `An account statement at GTID ${gtid} (${statementForMessage(statement.sql)}) depends on the account that ran it on the master, which the master did not log; name the account explicitly on the master, make the DR server's accounts match, then resume the link.`;
    }
    const accounts: AccountName[] = [...parsed.accounts, ...(parsed.namesInvoker && invoker ? [invoker] : [])];
    if (accounts.length === 0) return `The link cannot tell which accounts the statement at GTID ${gtid} changes (${statementForMessage(statement.sql)}); make the DR server's accounts match the master's, then resume the link.`;
    const isProtected = (a: AccountName) => policy.protectedUsers.includes(a.user);
    const kept = accounts.filter(isProtected);
    if (kept.length === accounts.length) {
      this.accountStatementsSkipped++;
      return undefined;
    }
    if (kept.length) {
      return `The account statement at GTID ${gtid} (${statementForMessage(statement.sql)}) changes ${kept.map(formatAccount).join(", ")}, which the link leaves alone because the daemon logs in to the DR server as that user, together with ${accounts.filter((a) => !isProtected(a)).map(formatAccount).join(", ")}; give the link a DR login whose user the master does not have (mysql-dr link update NAME --target with another user), then resume the link.`;
    }
    const touches = { tables: [], databases: [], accounts };
    if (!parsed.namesInvoker && !implicitAdmin) return { statement, touches, idempotent: parsed.idempotent };
    const ansiQuotes = statement.context.sqlMode !== undefined && (BigInt(statement.context.sqlMode) & MODE_ANSI_QUOTES) !== 0n;
    const resolved = resolveInvoker(statement.raw.toString("latin1"), invoker!, { ...parsed, implicitAdmin }, ansiQuotes);
    return { statement: { ...statement, raw: Buffer.from(resolved, "latin1"), sql: resolveInvoker(statement.sql, invoker!, { ...parsed, implicitAdmin }, ansiQuotes) }, touches, idempotent: parsed.idempotent };
  }

  /**
   * RENAME by every name involved: the renames are followed through (a swap goes through
   * temporary names), then each selected table ends up under its new name, a table leaving the
   * selection is dropped on the DR server, and a table entering it stops the link (the DR server
   * never held its rows).
   */
  private renames(statement: QueryStatement, pairs: { from: TableName; to: TableName }[], gtid: string): DdlStatement | string | undefined {
    const key = (t: TableName) => `${t.db}\u0000${t.table}`;
    const sel = (t: TableName) => this.filter.tableSelected(t.db, t.table);
    const origin = new Map<string, TableName>();
    const names = new Map<string, TableName>();
    for (const { from, to } of pairs) {
      const source = origin.get(key(from)) ?? from;
      origin.delete(key(from));
      origin.set(key(to), source);
      names.set(key(to), to);
    }
    const moves: { from: TableName; to: TableName }[] = [];
    const leaving: TableName[] = [];
    for (const [k, from] of origin) {
      const to = names.get(k)!;
      if (key(from) === k) continue;
      if (sel(from) && sel(to)) moves.push({ from, to });
      else if (sel(to)) {
        return `RENAME brings ${quoteTable(from.db, from.table)} into the selection as ${quoteTable(to.db, to.table)} at GTID ${gtid}, and the DR server does not hold that table's rows; include the online schema change tool's tables in the link's selection (for example its _*_gho or _*_new tables), then recreate the link with --initial full.`;
      } else if (sel(from)) leaving.push(from);
    }
    // Tables moved away and not replaced: a selected name vacated by the renames.
    if (moves.length === 0 && leaving.length === 0) return undefined;
    const touched = [...moves.flatMap((m) => [m.from, m.to]), ...leaving];
    const allSelected = pairs.every((p) => sel(p.from) && sel(p.to));
    if (allSelected) return { statement, touches: { tables: touched, databases: [] }, idempotent: false };
    const steps: string[] = [];
    if (moves.length) {
      const temp = (i: number, t: TableName) => quoteTable(t.db, `_mysql_dr_rename_${i}`);
      steps.push(`RENAME TABLE ${[...moves.map((m, i) => `${quoteTable(m.from.db, m.from.table)} TO ${temp(i, m.from)}`), ...moves.map((m, i) => `${temp(i, m.from)} TO ${quoteTable(m.to.db, m.to.table)}`)].join(", ")}`);
    }
    if (leaving.length) steps.push(`DROP TABLE IF EXISTS ${leaving.map((t) => quoteTable(t.db, t.table)).join(", ")}`);
    return { statement, rewritten: steps.join(";\n"), touches: { tables: touched, databases: [] }, idempotent: false };
  }

  private savepoint(group: Group, verb: "set" | "rollback-to" | "release", name: string): void {
    if (verb === "release") return;
    if (group.xa) {
      // An XA transaction's rows are kept here until it commits: its savepoints cut the list.
      if (verb === "set") group.xa.savepoints.set(name, group.xa.changes.length);
      else group.xa.changes.length = group.xa.savepoints.get(name) ?? group.xa.changes.length;
      return;
    }
    this.out.push({ kind: "savepoint", gtid: group.gtid, name, rollback: verb === "rollback-to" });
  }

  private xaStatement(group: Group, verb: "start" | "end" | "prepare" | "commit" | "rollback", xid: string, timestampMs: number): void {
    switch (verb) {
      case "start":
        group.xa ??= { changes: [], savepoints: new Map() };
        return;
      case "end":
        if (group.xa) group.xa.xid = xid;
        return;
      case "commit":
      case "rollback":
        this.out.push({ kind: "xa-end", gtid: group.gtid, timestampMs, xid, commit: verb === "commit" });
        this.group = undefined;
        return;
      default:
        return;
    }
  }

  /** The end of an XA-prepared group; XA COMMIT ... ONE PHASE commits at once. */
  private endPrepared(group: Group, onePhase: boolean, timestampMs: number): void {
    const xa: XaBuffer = group.xa ?? { changes: [], savepoints: new Map() };
    if (onePhase) {
      for (const change of xa.changes) this.out.push({ kind: "rows", gtid: group.gtid, change });
      return this.commit(timestampMs);
    }
    if (xa.xid === undefined) return this.refuse(group, `An XA transaction was prepared without naming its xid (GTID ${group.gtid}); its changes cannot be matched to its XA COMMIT.`);
    this.out.push({ kind: "xa-prepare", gtid: group.gtid, timestampMs, xid: xa.xid, changes: xa.changes });
    this.group = undefined;
  }

  /** MariaDB marks one-statement groups; MySQL ends them at the statement, unless it says rows follow. */
  private statementEnds(group: Group, statement: QueryStatement): boolean {
    return group.standalone ?? !/\bSTART\s+TRANSACTION\s*$/i.test(statement.sql);
  }

  private endIfStatementEnds(group: Group, statement: QueryStatement, timestampMs: number): void {
    if (this.statementEnds(group, statement)) this.commit(timestampMs);
  }

  private refuse(group: Group, message: string): void {
    this.out.push({ kind: "refuse", gtid: group.gtid, message });
  }

  private commit(timestampMs: number): void {
    const group = this.group;
    this.group = undefined;
    if (!group || group.skip) return;
    this.out.push({ kind: "commit", gtid: group.gtid, timestampMs, heartbeatMs: group.heartbeatMs });
  }
}

function isHeartbeatTable(db: string, table: string): boolean {
  return db === HEARTBEAT_TABLE.db && table === HEARTBEAT_TABLE.table;
}
