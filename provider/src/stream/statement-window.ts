/**
 * Gathers a batch's row changes into few statements. The DR server's cost is mostly per
 * statement, and a transaction alternates tables (a stock row, then an order line, ...), so rows
 * of one table and kind are gathered into one multi-row statement across the window, even past
 * changes of other tables. A row only moves up past changes it cannot disturb (`mayPass`): the
 * changes of one row keep their order (of one table, unless its key is its only unique index), an
 * insert never moves above a row it may need as a foreign key parent, and a change that may reach
 * other tables through foreign keys (a cascade, a check of children) lets nothing pass it. The
 * final state is the same as in the master's order, and every statement that checks a foreign key
 * finds what it found on the master.
 */
import type { TableId } from "../catalog/foreign-keys";
import { STATEMENT_MAX_BYTES, STATEMENT_MAX_ROWS } from "../sql/statements";
import type { TablePlan } from "./table-plans";

/** What a row change may disturb, and be disturbed by, when another change moves past it. */
export interface Footprint {
  /** The table whose rows it changes: changes of one row (of the whole table, without `row`) keep their order. */
  table: TableId;
  /** The one row it changes, by key, where changes of different rows of the table commute. */
  row?: string;
  /** It inserts into a table that foreign keys reference: a child may need the row. */
  adds?: boolean;
  /** Tables whose rows its foreign key checks need to exist. */
  needs?: readonly TableId[];
  /** It may reach other tables (cascades, checks of children, unknown effects): nothing passes it. */
  barrier?: boolean;
}

/** The master session's settings a statement runs under. */
export interface SessionFlags {
  foreignKeyChecks: boolean;
  uniqueChecks: boolean;
}

/** The source change a statement applies, for the message when it fails. */
export interface Origin {
  /** One GTID, or "first to last" for a statement gathering rows of several transactions. */
  gtid: string;
  db: string;
  table: string;
  op: string;
}

/** A statement to send, with the rows it must affect (UPDATE/DELETE: found rows). */
export interface Outgoing {
  sql: string;
  expect?: number;
  /** Falling short of `expect` means it wrote what it should have found: never skipped. */
  neverSkip?: boolean;
  origin?: Origin;
}

/**
 * Multi-row statement kinds. "update" is an upsert of after images that must find every row
 * (ON DUPLICATE KEY UPDATE counts 2 per row it changes, 1 per row it would insert).
 */
export type GroupKind = "insert" | "upsert" | "update" | "delete-in";

/** What the changes placed after a group's statement did: a row joining the group moves past them. */
class Passed {
  /** Tables changed as a whole. */
  readonly tables = new Set<TableId>();
  /** Rows changed, by table. */
  readonly rows = new Map<TableId, Set<string>>();
  readonly adds = new Set<TableId>();
  barrier = false;

  add(f: Footprint): void {
    if (f.barrier) this.barrier = true;
    if (f.row === undefined) this.tables.add(f.table);
    else {
      let rows = this.rows.get(f.table);
      if (!rows) this.rows.set(f.table, (rows = new Set()));
      rows.add(f.row);
    }
    if (f.adds) this.adds.add(f.table);
  }

  mayPass(f: Footprint): boolean {
    // Nothing placed after the group: joining it moves the row past nothing.
    if (!this.barrier && this.tables.size === 0 && this.rows.size === 0) return true;
    if (this.barrier || f.barrier || this.tables.has(f.table)) return false;
    const rows = this.rows.get(f.table);
    if (rows && (f.row === undefined || rows.has(f.row))) return false;
    return !(f.needs?.some((t) => this.adds.has(t)) ?? false);
  }
}

interface Group {
  kind: GroupKind;
  plan: TablePlan;
  flags: SessionFlags;
  parts: string[];
  bytes: number;
  origin: Origin;
  lastGtid: string;
  passed: Passed;
  position: number;
}

type Slot = { group: Group } | { statements: Outgoing[]; flags: SessionFlags };

export class StatementWindow {
  private slots: Slot[] = [];
  /** Groups that may still take rows, by kind, plan and flags. */
  private readonly open = new Map<string, Group>();
  private planIds = new WeakMap<TablePlan, number>();
  private nextPlanId = 0;
  /** Rows and bytes held, for the caller to decide when to take them. */
  rows = 0;
  bytes = 0;

  /** Adds a row to its kind and table's open statement when it may move up to it, else starts one at the end. */
  addRow(kind: GroupKind, plan: TablePlan, part: string, footprint: Footprint, flags: SessionFlags, origin: Origin): void {
    const key = `${kind}:${this.planId(plan)}:${Number(flags.foreignKeyChecks)}${Number(flags.uniqueChecks)}`;
    let group = this.open.get(key);
    if (group && !group.passed.mayPass(footprint)) {
      this.open.delete(key);
      group = undefined;
    }
    if (!group) {
      group = { kind, plan, flags, parts: [], bytes: 0, origin, lastGtid: origin.gtid, passed: new Passed(), position: this.slots.length };
      this.slots.push({ group });
      this.open.set(key, group);
    }
    group.parts.push(part);
    group.bytes += part.length;
    group.lastGtid = origin.gtid;
    this.passedBy(footprint, group.position);
    this.rows++;
    this.bytes += part.length;
    if (group.parts.length >= STATEMENT_MAX_ROWS || group.bytes >= STATEMENT_MAX_BYTES) this.open.delete(key);
  }

  /** Adds statements that run where they are (a row change that cannot be gathered). */
  addStatements(statements: Outgoing[], footprint: Footprint, flags: SessionFlags): void {
    this.passedBy(footprint, this.slots.length);
    this.slots.push({ statements, flags });
    this.rows++;
    for (const s of statements) this.bytes += s.sql.length;
  }

  get empty(): boolean {
    return this.slots.length === 0;
  }

  /**
   * Every statement, in order, each preceded by the session settings it needs when they differ
   * from the previous one's (starting from `session`, which is updated); the window is emptied.
   */
  take(session: SessionFlags): Outgoing[] {
    const out: Outgoing[] = [];
    for (const slot of this.slots) {
      const flags = "group" in slot ? slot.group.flags : slot.flags;
      if (flags.foreignKeyChecks !== session.foreignKeyChecks || flags.uniqueChecks !== session.uniqueChecks) {
        out.push({ sql: `SET SESSION foreign_key_checks = ${flags.foreignKeyChecks ? 1 : 0}, unique_checks = ${flags.uniqueChecks ? 1 : 0}` });
        session.foreignKeyChecks = flags.foreignKeyChecks;
        session.uniqueChecks = flags.uniqueChecks;
      }
      if ("group" in slot) out.push(render(slot.group));
      else out.push(...slot.statements);
    }
    this.slots = [];
    this.open.clear();
    this.rows = 0;
    this.bytes = 0;
    return out;
  }

  /** A change placed at `position` is passed by rows that later join the groups above it. */
  private passedBy(footprint: Footprint, position: number): void {
    for (const group of this.open.values()) if (group.position < position) group.passed.add(footprint);
  }

  private planId(plan: TablePlan): number {
    let id = this.planIds.get(plan);
    if (id === undefined) this.planIds.set(plan, (id = this.nextPlanId++));
    return id;
  }
}

function render(g: Group): Outgoing {
  const origin = g.lastGtid === g.origin.gtid ? g.origin : { ...g.origin, gtid: `${g.origin.gtid} to ${g.lastGtid}` };
  const rows = g.parts.join(", ");
  switch (g.kind) {
    case "delete-in":
      return { sql: `${g.plan.deleteInPrefix}${rows}) /* mysql-dr applier */`, expect: g.parts.length, origin };
    case "update":
      return { sql: `${g.plan.insertPrefix}${rows}${g.plan.upsertSuffix} /* mysql-dr applier */`, expect: 2 * g.parts.length, neverSkip: true, origin };
    case "upsert":
      return { sql: `${g.plan.insertPrefix}${rows}${g.plan.upsertSuffix} /* mysql-dr applier */`, origin };
    case "insert":
      return { sql: `${g.plan.insertPrefix}${rows} /* mysql-dr applier */`, origin };
  }
}
