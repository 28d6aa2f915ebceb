/**
 * Groups source events into transactions and applies the link's selection: rows and DDL of
 * selected objects go on to the applier; everything else is dropped, but every source transaction
 * still ends in a `commit` item so the checkpoint moves past it. Heartbeat rows of this link are
 * turned into lag markers here and never applied.
 */
import { ObjectFilter, isSystemSchema } from "../core/object-filter";
import { quoteTable } from "../core/db";
import type { ApplyItem, SourceEvent } from "./change-events";
import { type DdlTarget, parseDdl } from "./ddl-parser";
import { HEARTBEAT_TABLE } from "./heartbeat";

export interface AssemblerOutput {
  push(item: ApplyItem): void;
}

export class TransactionAssembler {
  private gtid?: string;
  private heartbeatMs?: number;
  /** Statements of a kind the product does not replay (views, routines, users...), for status. */
  ddlSkipped = 0;

  constructor(
    private readonly linkName: string,
    private readonly filter: ObjectFilter,
    private readonly alreadyApplied: (gtid: string) => boolean,
    private readonly out: AssemblerOutput,
  ) {}

  accept(event: SourceEvent): void {
    switch (event.kind) {
      case "gtid":
        this.gtid = this.alreadyApplied(event.gtid) ? undefined : event.gtid;
        this.heartbeatMs = undefined;
        return;
      case "rows":
        return this.acceptRows(event);
      case "commit":
        return this.endTransaction(event.timestampMs);
      case "query":
        return this.acceptQuery(event.schema, event.sql, event.timestampMs);
    }
  }

  private acceptRows(event: Extract<SourceEvent, { kind: "rows" }>): void {
    if (this.gtid === undefined) return;
    const { change } = event;
    if (change.db === HEARTBEAT_TABLE.db && change.table === HEARTBEAT_TABLE.table) {
      const linkIdx = change.columns.indexOf("link");
      const tsIdx = change.columns.indexOf("ts_ms");
      for (const row of change.after ?? change.rows) {
        if (row[linkIdx] === this.linkName) this.heartbeatMs = Number(row[tsIdx]);
      }
      return;
    }
    if (this.filter.tableSelected(change.db, change.table)) this.out.push({ kind: "rows", gtid: this.gtid, change });
  }

  private acceptQuery(schema: string, sql: string, timestampMs: number): void {
    if (this.gtid === undefined) return;
    const target = parseDdl(sql, schema);
    if (target.kind === "transaction-control") {
      if (/^\s*(COMMIT|ROLLBACK)\s*$/i.test(sql)) this.endTransaction(timestampMs);
      return;
    }
    const statement = this.selectedStatement(target, sql);
    if (statement === undefined) {
      if (target.kind === "other" && !isSystemSchema(schema)) this.ddlSkipped++;
      this.endTransaction(timestampMs);
      return;
    }
    this.out.push({ kind: "ddl", gtid: this.gtid, timestampMs, schema, sql: statement });
    this.gtid = undefined;
  }

  /** The statement to replay for the selected part of a DDL, or undefined when nothing of it is selected. */
  private selectedStatement(target: DdlTarget, sql: string): string | undefined {
    switch (target.kind) {
      case "database":
        return this.filter.databaseSelected(target.db) ? sql : undefined;
      case "tables": {
        const selected = target.tables.filter((t) => this.filter.tableSelected(t.db, t.table));
        if (selected.length === 0) return undefined;
        if (selected.length === target.tables.length) return sql;
        // A multi-table DROP of which only some tables are selected: drop just those.
        return `DROP TABLE IF EXISTS ${selected.map((t) => quoteTable(t.db, t.table)).join(", ")}`;
      }
      case "rename": {
        const selected = target.pairs.filter((p) => this.filter.tableSelected(p.from.db, p.from.table));
        if (selected.length === 0) return undefined;
        if (selected.length === target.pairs.length) return sql;
        return `RENAME TABLE ${selected.map((p) => `${quoteTable(p.from.db, p.from.table)} TO ${quoteTable(p.to.db, p.to.table)}`).join(", ")}`;
      }
      default:
        return undefined;
    }
  }

  private endTransaction(timestampMs: number): void {
    if (this.gtid === undefined) return;
    this.out.push({ kind: "commit", gtid: this.gtid, timestampMs, heartbeatMs: this.heartbeatMs });
    this.gtid = undefined;
    this.heartbeatMs = undefined;
  }
}
