import * as crypto from "node:crypto";
import { DrError } from "./errors";
import { WildcardPattern } from "./wildcard";

/**
 * Which databases and tables a link replicates: `db` or `db.table` patterns with `*` wildcards.
 * A table is selected when it matches an include (or there are none) and no exclude.
 */
export interface ObjectSelection {
  include: string[];
  exclude: string[];
}

/** Schemas that never replicate: the server's own and the product's bookkeeping. */
export const SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys", "mysql_dr"] as const;

/**
 * An applier clears its session's default database (for a DDL whose database the DR server
 * lacks) by creating, using and dropping a database of its own: one per link, so links applying
 * into one DR server at once never drop each other's.
 */
const SCRATCH_SCHEMA_PREFIX = "mysql_dr_nodb_";

export function scratchSchema(link: string): string {
  return SCRATCH_SCHEMA_PREFIX + crypto.createHash("sha256").update(link).digest("hex").slice(0, 16);
}

const NAME_PART = String.raw`[\p{L}\p{N}_$*-]+`;
const PATTERN_SYNTAX = new RegExp(`^${NAME_PART}(\\.${NAME_PART})?$`, "u");

interface CompiledPattern {
  db: WildcardPattern;
  table?: WildcardPattern;
}

/** What a selection answers: an ObjectFilter, or the part one selection adds to another (addedSelection). */
export interface Selector {
  tableSelected(db: string, table: string): boolean;
  databaseSelected(db: string): boolean;
}

export class ObjectFilter implements Selector {
  private readonly includes: CompiledPattern[];
  private readonly excludes: CompiledPattern[];
  private readonly tableCache = new Map<string, boolean>();

  constructor(readonly selection: ObjectSelection) {
    this.includes = selection.include.map((p) => compilePattern(p, "--include"));
    this.excludes = selection.exclude.map((p) => compilePattern(p, "--exclude"));
  }

  /** Whether rows and DDL of `db.table` replicate. */
  tableSelected(db: string, table: string): boolean {
    const key = `${db}\u0000${table}`;
    let selected = this.tableCache.get(key);
    if (selected === undefined) {
      selected =
        !isSystemSchema(db) &&
        (this.includes.length === 0 || this.includes.some((p) => matches(p, db, table))) &&
        !this.excludes.some((p) => matches(p, db, table));
      this.tableCache.set(key, selected);
    }
    return selected;
  }

  /**
   * Whether CREATE/DROP DATABASE of `db` replicates: some include can select a table in it, and no
   * exclude removes the whole database.
   */
  databaseSelected(db: string): boolean {
    return (
      !isSystemSchema(db) &&
      (this.includes.length === 0 || this.includes.some((p) => p.db.matches(db))) &&
      !this.excludes.some((p) => p.table === undefined && p.db.matches(db))
    );
  }
}

/** What `next` selects and `previous` did not: the objects a link update brings into the selection. */
export function addedSelection(previous: Selector, next: Selector): Selector {
  return {
    tableSelected: (db, table) => next.tableSelected(db, table) && !previous.tableSelected(db, table),
    databaseSelected: (db) => next.databaseSelected(db) && !previous.databaseSelected(db),
  };
}

export function isSystemSchema(db: string): boolean {
  const name = db.toLowerCase();
  return (SYSTEM_SCHEMAS as readonly string[]).includes(name) || name.startsWith(SCRATCH_SCHEMA_PREFIX);
}

/** Throws a BAD_INPUT error naming the malformed pattern. */
export function validatePatterns(patterns: string[], option: string): void {
  for (const p of patterns) compilePattern(p, option);
}

function compilePattern(pattern: string, option: string): CompiledPattern {
  if (typeof pattern !== "string" || !PATTERN_SYNTAX.test(pattern)) {
    throw new DrError(
      "BAD_INPUT",
      `${option} pattern ${JSON.stringify(pattern)} is malformed; write db or db.table, with * as a wildcard (for example shop or shop.order_*).`,
    );
  }
  const [db, table] = pattern.split(".");
  return { db: new WildcardPattern(db), table: table === undefined ? undefined : new WildcardPattern(table) };
}

function matches(p: CompiledPattern, db: string, table: string): boolean {
  return p.db.matches(db) && (p.table === undefined || p.table.matches(table));
}
