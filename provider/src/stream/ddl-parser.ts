/**
 * Classifies a statement from the binlog: the DDL the product replays and the objects it touches
 * (so the assembler can apply the link's selection), transaction control (BEGIN, COMMIT,
 * savepoints, XA), DML logged as a statement (which a row stream cannot replay exactly), and
 * everything else ("other", not replayed).
 */
import type { EventStatus } from "../catalog/schema-objects";
import { maskLiterals } from "../sql/literals";
import { type AccountStatement, parseAccountStatement } from "./account-statements";

export interface TableName {
  db: string;
  table: string;
}

export type StatementTarget =
  | {
      kind: "tables";
      verb: "create" | "alter" | "drop" | "truncate" | "index";
      tables: TableName[];
      /** Running it twice is harmless: IF [NOT] EXISTS, CREATE OR REPLACE, TRUNCATE. */
      idempotent: boolean;
      /** ALTER TABLE ... RENAME TO: the table's new name. */
      renameTo?: TableName;
      /** ALTER TABLE adding, dropping, changing, moving or renaming columns (not indexes or options). */
      changesColumns?: boolean;
    }
  | { kind: "rename"; pairs: { from: TableName; to: TableName }[] }
  /** A stored procedure or function: selected with its database (routines have no table name). */
  | { kind: "routine"; verb: "create" | "alter" | "drop"; routine: RoutineName; idempotent: boolean }
  /**
   * An event: created disabled on the replica side on the DR server (a promotion gives it its
   * master status), selected with its database. `status`: what the statement makes it on the
   * master (a CREATE without a clause: ENABLED; an ALTER without one keeps it); `renameTo`: ALTER
   * EVENT ... RENAME TO; `ifNotExists`: CREATE EVENT IF NOT EXISTS.
   */
  | { kind: "event"; verb: "create" | "alter" | "drop"; event: { db: string; name: string }; idempotent: boolean; status?: EventStatus; renameTo?: { db: string; name: string }; ifNotExists?: boolean }
  /** A trigger: kept by the link, not created on the DR server (see dr-state/trigger-store.ts). `table` is known for CREATE. */
  | { kind: "trigger"; verb: "create" | "drop"; trigger: { db: string; name: string }; table?: TableName }
  | { kind: "database"; verb: "create" | "drop" | "alter"; db: string; idempotent: boolean }
  /** Users, roles and grants: replayed by whole-instance links (stream/account-statements.ts). */
  | { kind: "accounts"; statement: AccountStatement }
  | { kind: "transaction"; verb: "begin" | "commit" | "rollback" }
  | { kind: "savepoint"; verb: "set" | "rollback-to" | "release"; name: string }
  | { kind: "xa"; verb: "start" | "end" | "prepare" | "commit" | "rollback"; xid: string }
  /** INSERT/UPDATE/DELETE/REPLACE/LOAD DATA logged as a statement; `table`: the first one it names. */
  | { kind: "dml"; table?: TableName }
  | { kind: "other" };

export interface RoutineName {
  db: string;
  name: string;
  type: "PROCEDURE" | "FUNCTION";
}

export interface ParseOptions {
  /** sql_mode ANSI_QUOTES: "name" is an identifier, not a string. */
  ansiQuotes?: boolean;
}

const BACKTICKED = "`(?:[^`]|``)+`";
const DOUBLE_QUOTED = '"(?:[^"]|"")+"';
const BARE = "[\\p{L}\\p{N}_$]+";
const IF_EXISTS = String.raw`(?:IF\s+EXISTS\s+)?`;
const IF_NOT_EXISTS = String.raw`(?:IF\s+NOT\s+EXISTS\s+)?`;
/** What the binlog writes between CREATE/ALTER and VIEW or a routine's kind: ALGORITHM, DEFINER, SQL SECURITY. */
const VIEW_OPTIONS = String.raw`(?:ALGORITHM\s*=\s*\w+\s+)?(?:DEFINER\s*=\s*(?:CURRENT_USER(?:\s*\(\s*\))?|\S+)\s+)?(?:SQL\s+SECURITY\s+\w+\s+)?`;
const DEFINER = String.raw`(?:DEFINER\s*=\s*(?:CURRENT_USER(?:\s*\(\s*\))?|\S+)\s+)?`;

interface Grammar {
  id: string;
  qname: string;
  rules: [RegExp, (m: RegExpExecArray, schema: string) => StatementTarget][];
}

const grammars = new Map<boolean, Grammar>();

function grammar(ansiQuotes: boolean): Grammar {
  let g = grammars.get(ansiQuotes);
  if (g) return g;
  const id = `(?:${BACKTICKED}|${ansiQuotes ? `${DOUBLE_QUOTED}|` : ""}${BARE})`;
  const qname = String.raw`(${id}(?:\s*\.\s*${id})?)`;
  const q = (m: string, s: string) => qualify(m, s, id);
  // The match ends at the object's name, so these words can only be the statement's own.
  const ifExists = (m: RegExpExecArray) => /\bIF\s+(?:NOT\s+)?EXISTS\b|^CREATE\s+OR\s+REPLACE\b/i.test(m[0]);
  const rules: Grammar["rules"] = [
    [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+${IF_NOT_EXISTS}${qname}`), (m, s) => tables("create", [q(m[1], s)], ifExists(m))],
    [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?SEQUENCE\s+${IF_NOT_EXISTS}${qname}`), (m, s) => tables("create", [q(m[1], s)], ifExists(m))],
    [re(String.raw`^ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+${IF_EXISTS}${qname}([\s\S]*)$`), (m, s) => alterTable(q(m[1], s), m[2], s, id, ansiQuotes)],
    [re(String.raw`^ALTER\s+SEQUENCE\s+${IF_EXISTS}${qname}`), (m, s) => tables("alter", [q(m[1], s)], false)],
    [re(String.raw`^DROP\s+(?:TABLE|SEQUENCE)\s+(${IF_EXISTS})(.*?)(?:\s+(?:RESTRICT|CASCADE))?\s*(?:/\*.*\*/)?\s*$`), (m, s) => tables("drop", splitNames(m[2], qname).map((n) => q(n, s)), m[1] !== "")],
    [re(String.raw`^TRUNCATE\s+(?:TABLE\s+)?${qname}`), (m, s) => tables("truncate", [q(m[1], s)], true)],
    [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+${IF_NOT_EXISTS}${id}(?:\s+USING\s+\w+)?\s+ON\s+${qname}`), (m, s) => tables("index", [q(m[1], s)], ifExists(m))],
    [re(String.raw`^DROP\s+INDEX\s+${IF_EXISTS}${id}\s+ON\s+${qname}`), (m, s) => tables("index", [q(m[1], s)], ifExists(m))],
    // Views share the tables' namespace and selection; RENAME TABLE renames them too.
    [re(String.raw`^CREATE\s+(OR\s+REPLACE\s+)?${VIEW_OPTIONS}VIEW\s+(${IF_NOT_EXISTS})${qname}`), (m, s) => tables("create", [q(m[3], s)], m[1] !== undefined || m[2] !== "")],
    [re(String.raw`^ALTER\s+${VIEW_OPTIONS}VIEW\s+${qname}`), (m, s) => tables("alter", [q(m[1], s)], false)],
    [re(String.raw`^DROP\s+VIEW\s+(${IF_EXISTS})(.*?)(?:\s+(?:RESTRICT|CASCADE))?\s*(?:/\*.*\*/)?\s*$`), (m, s) => tables("drop", splitNames(m[2], qname).map((n) => q(n, s)), m[1] !== "")],
    // Loadable functions (CREATE FUNCTION ... SONAME) are the server's, not a database's: not replayed.
    [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?${DEFINER}(?:AGGREGATE\s+)?FUNCTION\s+${IF_NOT_EXISTS}${qname}\s*RETURNS\s+\w+\s+SONAME\b`), () => ({ kind: "other" })],
    [re(String.raw`^CREATE\s+(OR\s+REPLACE\s+)?${DEFINER}(?:AGGREGATE\s+)?(PROCEDURE|FUNCTION)\s+(${IF_NOT_EXISTS})${qname}`), (m, s) => routine("create", m[2], q(m[4], s), m[1] !== undefined || m[3] !== "")],
    [re(String.raw`^ALTER\s+(PROCEDURE|FUNCTION)\s+${qname}`), (m, s) => routine("alter", m[1], q(m[2], s), false)],
    [re(String.raw`^DROP\s+(PROCEDURE|FUNCTION)\s+(${IF_EXISTS})${qname}`), (m, s) => routine("drop", m[1], q(m[3], s), m[2] !== "")],
    [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?${DEFINER}TRIGGER\s+${IF_NOT_EXISTS}${qname}\s+(?:BEFORE|AFTER)\s+(?:INSERT|UPDATE|DELETE)\s+ON\s+${qname}`), (m, s) => {
      const trigger = q(m[1], s);
      // A trigger's table is in the trigger's database.
      const table = q(m[2], trigger.db);
      return { kind: "trigger", verb: "create", trigger: { db: trigger.db, name: trigger.table }, table };
    }],
    [re(String.raw`^CREATE\s+(OR\s+REPLACE\s+)?${DEFINER}EVENT\s+(${IF_NOT_EXISTS})${qname}([\s\S]*)$`), (m, s) => {
      const target = event("create", q(m[3], s), m[1] !== undefined || m[2] !== "", m[4], s, qname, id, ansiQuotes);
      return m[2] !== "" ? { ...target, ifNotExists: true } : target;
    }],
    [re(String.raw`^ALTER\s+${DEFINER}EVENT\s+${qname}([\s\S]*)$`), (m, s) => event("alter", q(m[1], s), false, m[2], s, qname, id, ansiQuotes)],
    [re(String.raw`^DROP\s+EVENT\s+(${IF_EXISTS})${qname}`), (m, s) => event("drop", q(m[2], s), m[1] !== "", "", s, qname, id, ansiQuotes)],
    [re(String.raw`^DROP\s+TRIGGER\s+${IF_EXISTS}${qname}`), (m, s) => {
      const trigger = q(m[1], s);
      return { kind: "trigger", verb: "drop", trigger: { db: trigger.db, name: trigger.table } };
    }],
    [re(String.raw`^RENAME\s+TABLES?\s+(.*)$`), (m, s) => renames(m[1], s, qname, id)],
    [re(String.raw`^(CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA)\s+(IF\s+(?:NOT\s+)?EXISTS\s+)?(${id})`), (m) => ({ kind: "database", verb: m[1].toLowerCase() as "create" | "drop" | "alter", db: unquote(m[3]), idempotent: m[2] !== undefined })],
    [re(String.raw`^(?:BEGIN|START\s+TRANSACTION)\b`), () => ({ kind: "transaction", verb: "begin" })],
    [re(String.raw`^COMMIT\b`), () => ({ kind: "transaction", verb: "commit" })],
    [re(String.raw`^ROLLBACK\s+(?:WORK\s+)?TO\s+(?:SAVEPOINT\s+)?(${id})`), (m) => ({ kind: "savepoint", verb: "rollback-to", name: unquote(m[1]) })],
    [re(String.raw`^ROLLBACK\b`), () => ({ kind: "transaction", verb: "rollback" })],
    [re(String.raw`^SAVEPOINT\s+(${id})`), (m) => ({ kind: "savepoint", verb: "set", name: unquote(m[1]) })],
    [re(String.raw`^RELEASE\s+SAVEPOINT\s+(${id})`), (m) => ({ kind: "savepoint", verb: "release", name: unquote(m[1]) })],
    [re(String.raw`^XA\s+(START|BEGIN|END|PREPARE|COMMIT|ROLLBACK)\s+(.*?)\s*(?:\b(?:ONE\s+PHASE|JOIN|RESUME|SUSPEND(?:\s+FOR\s+MIGRATE)?)\s*)?$`), (m) => ({ kind: "xa", verb: (m[1].toUpperCase() === "BEGIN" ? "start" : m[1].toLowerCase()) as "start", xid: m[2].replace(/\s+/g, "") })],
    [re(String.raw`^(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*(?:INTO\s+)?${qname}`), (m, s) => ({ kind: "dml", table: q(m[1], s) })],
    [re(String.raw`^UPDATE\s+(?:(?:LOW_PRIORITY|IGNORE)\s+)*${qname}`), (m, s) => ({ kind: "dml", table: q(m[1], s) })],
    [re(String.raw`^DELETE\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\s+)*FROM\s+${qname}`), (m, s) => ({ kind: "dml", table: q(m[1], s) })],
    [re(String.raw`^LOAD\s+(?:DATA|XML)\b[\s\S]*?\bINTO\s+TABLE\s+${qname}`), (m, s) => ({ kind: "dml", table: q(m[1], s) })],
    [re(String.raw`^(?:DELETE|UPDATE|INSERT|REPLACE|LOAD)\b`), () => ({ kind: "dml" })],
  ];
  g = { id, qname, rules };
  grammars.set(ansiQuotes, g);
  return g;
}

export function parseStatement(sql: string, schema: string, options: ParseOptions = {}): StatementTarget {
  const text = stripLeadingComments(sql);
  const account = parseAccountStatement(text, options.ansiQuotes === true);
  if (account) return { kind: "accounts", statement: account };
  for (const [pattern, build] of grammar(options.ansiQuotes === true).rules) {
    const m = pattern.exec(text);
    if (m) return build(m, schema);
  }
  return { kind: "other" };
}

function re(source: string): RegExp {
  return new RegExp(source, "isu");
}

function tables(verb: "create" | "alter" | "drop" | "truncate" | "index", names: TableName[], idempotent: boolean): StatementTarget {
  return { kind: "tables", verb, tables: names, idempotent };
}

/** An event statement; `rest`: its text after the event's name. */
function event(verb: "create" | "alter" | "drop", name: TableName, idempotent: boolean, rest: string, schema: string, qname: string, id: string, ansiQuotes: boolean): StatementTarget {
  const target: StatementTarget = { kind: "event", verb, event: { db: name.db, name: name.table }, idempotent };
  if (verb === "drop") return target;
  const clauses = eventClauses(rest, ansiQuotes);
  if (clauses.status) target.status = statusOf(clauses.status.word);
  else if (verb === "create") target.status = "ENABLED";
  if (verb === "alter" && clauses.renameAt !== undefined) {
    const to = new RegExp(qname, "iuy");
    to.lastIndex = clauses.renameAt;
    const m = to.exec(rest);
    if (m) {
      const renamed = qualify(m[1], schema, id);
      target.renameTo = { db: renamed.db, name: renamed.table };
    }
  }
  return target;
}

const EVENT_STATUS = /\b(ENABLE|DISABLE(?:\s+ON\s+(?:SLAVE|REPLICA))?)\b/i;

/** Where, in an event statement's text after the event's name, its clauses before DO are. */
interface EventClauses {
  status?: { index: number; length: number; word: string };
  /** Where a status clause goes when there is none: before COMMENT or DO, else at the end. */
  insertAt: number;
  /** RENAME TO: where the new name starts. */
  renameAt?: number;
}

function eventClauses(text: string, ansiQuotes: boolean): EventClauses {
  const masked = maskLiterals(text, ansiQuotes);
  const body = /\bDO\b/i.exec(masked);
  const head = body ? masked.slice(0, body.index) : masked;
  const status = EVENT_STATUS.exec(head);
  const comment = /\bCOMMENT\b/i.exec(head);
  // The name itself may be masked (quoted): only the words are read here.
  const rename = /\bRENAME\s+TO\b/i.exec(head);
  return {
    status: status ? { index: status.index, length: status[0].length, word: status[1] } : undefined,
    insertAt: comment?.index ?? body?.index ?? text.trimEnd().length,
    renameAt: rename ? rename.index + rename[0].length + (/^\s*/.exec(text.slice(rename.index + rename[0].length))?.[0].length ?? 0) : undefined,
  };
}

function statusOf(word: string): EventStatus {
  return /^ENABLE$/i.test(word) ? "ENABLED" : /^DISABLE$/i.test(word) ? "DISABLED" : "SLAVESIDE_DISABLED";
}

/**
 * A CREATE or ALTER EVENT (as logged, or as SHOW CREATE EVENT gives it) with the event's status
 * set to DISABLE ON SLAVE, as a native replica marks every event it receives, whatever the
 * master's status (which a promotion restores, see dr-state/event-store.ts): a status clause is
 * replaced, and one is added where there is none (before COMMENT or DO, else at the end). Words
 * inside strings, quoted names and comments are not read as clauses.
 */
export function disabledOnReplica(sql: string, ansiQuotes = false): string {
  // Clauses are read after the event's name (which may be a word like ENABLE).
  const text = stripLeadingComments(sql);
  const named = new RegExp(String.raw`^(?:CREATE|ALTER)\s+(?:OR\s+REPLACE\s+)?${DEFINER}EVENT\s+${IF_NOT_EXISTS}${grammar(ansiQuotes).qname}`, "iu").exec(text);
  const start = named ? sql.length - text.length + named[0].length : 0;
  const rest = sql.slice(start);
  const c = eventClauses(rest, ansiQuotes);
  const at = start + (c.status?.index ?? c.insertAt);
  const end = c.status ? at + c.status.length : at;
  const before = sql.slice(0, at);
  const after = sql.slice(end);
  return `${before}${/\s$/.test(before) || before === "" ? "" : " "}DISABLE ON SLAVE${c.status || /^\s/.test(after) || after === "" ? "" : " "}${after}`;
}

function routine(verb: "create" | "alter" | "drop", type: string, name: TableName, idempotent: boolean): StatementTarget {
  return { kind: "routine", verb, routine: { db: name.db, name: name.table, type: type.toUpperCase() as RoutineName["type"] }, idempotent };
}

/** An ALTER TABLE, with the new name when one of its clauses renames the table. */
function alterTable(table: TableName, body: string, schema: string, id: string, ansiQuotes: boolean): StatementTarget {
  const clauses = withoutLiterals(body, ansiQuotes);
  const m = new RegExp(String.raw`\bRENAME\s+(?!COLUMN\b|INDEX\b|KEY\b)(?:TO\s+|AS\s+)?(${id}(?:\s*\.\s*${id})?)`, "isu").exec(clauses);
  const target: StatementTarget = { kind: "tables", verb: "alter", tables: [table], idempotent: false, changesColumns: COLUMN_CLAUSE.test(clauses) };
  if (m) target.renameTo = qualify(m[1], schema, id);
  return target;
}

/** An ALTER clause that changes the table's columns: what rows written before it cannot be decoded against without the binlog's own column names. */
const COLUMN_CLAUSE = new RegExp(
  [
    String.raw`\bADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!(?:INDEX|KEY|UNIQUE|PRIMARY|FULLTEXT|SPATIAL|CONSTRAINT|FOREIGN|PARTITION|CHECK|PERIOD|SYSTEM)\b)`,
    String.raw`\bDROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?!(?:INDEX|KEY|PRIMARY|FOREIGN|CONSTRAINT|PARTITION|CHECK|SYSTEM|DEFAULT)\b)`,
    String.raw`\b(?:CHANGE|MODIFY)\b`,
    String.raw`\bRENAME\s+COLUMN\b`,
  ].join("|"),
  "isu",
);

function renames(list: string, schema: string, qname: string, id: string): StatementTarget {
  const pairRe = new RegExp(String.raw`${qname}\s+TO\s+${qname}`, "giu");
  const pairs: { from: TableName; to: TableName }[] = [];
  for (let m = pairRe.exec(list); m; m = pairRe.exec(list)) pairs.push({ from: qualify(m[1], schema, id), to: qualify(m[2], schema, id) });
  return pairs.length ? { kind: "rename", pairs } : { kind: "other" };
}

function splitNames(list: string, qname: string): string[] {
  return [...list.matchAll(new RegExp(qname, "gu"))].map((m) => m[1]);
}

function qualify(name: string, schema: string, id: string): TableName {
  const [first, second] = name.match(new RegExp(id, "gu")) ?? [name];
  return second === undefined ? { db: schema, table: unquote(first) } : { db: unquote(first), table: unquote(second) };
}

function unquote(id: string): string {
  if (id.startsWith("`")) return id.slice(1, -1).replace(/``/g, "`");
  if (id.startsWith('"')) return id.slice(1, -1).replace(/""/g, '"');
  return id;
}

/** The text with string literals emptied, so words inside them are not read as clauses. */
function withoutLiterals(text: string, ansiQuotes: boolean): string {
  const literal = ansiQuotes ? /'(?:[^'\\]|\\.|'')*'/gs : /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"/gs;
  return text.replace(literal, "''");
}

function stripLeadingComments(sql: string): string {
  let s = sql.trimStart();
  for (;;) {
    if (s.startsWith("/*") && !s.startsWith("/*!") && !s.startsWith("/*M!")) s = s.slice(s.indexOf("*/") + 2).trimStart();
    else if (s.startsWith("-- ") || s.startsWith("#")) s = s.slice(s.indexOf("\n") + 1).trimStart();
    else return s;
  }
}
