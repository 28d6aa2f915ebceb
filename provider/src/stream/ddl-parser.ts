/**
 * Finds which objects a DDL statement from the binlog touches, so the assembler can decide whether
 * it belongs to the link's selection. Recognizes the statements the product replays; anything else
 * is "other" and is not applied.
 */

export interface TableName {
  db: string;
  table: string;
}

export type DdlTarget =
  | { kind: "tables"; verb: "create" | "alter" | "drop" | "truncate" | "index"; tables: TableName[] }
  | { kind: "rename"; pairs: { from: TableName; to: TableName }[] }
  | { kind: "database"; verb: "create" | "drop" | "alter"; db: string }
  | { kind: "transaction-control" }
  | { kind: "other" };

const ID = "(?:`(?:[^`]|``)+`|[\\p{L}\\p{N}_$]+)";
const QNAME = String.raw`(${ID}(?:\s*\.\s*${ID})?)`;
const IF_EXISTS = String.raw`(?:IF\s+EXISTS\s+)?`;
const IF_NOT_EXISTS = String.raw`(?:IF\s+NOT\s+EXISTS\s+)?`;

const RULES: [RegExp, (m: RegExpExecArray, schema: string) => DdlTarget][] = [
  [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+${IF_NOT_EXISTS}${QNAME}`), (m, s) => tables("create", [m[1]], s)],
  [re(String.raw`^ALTER\s+(?:ONLINE\s+)?(?:IGNORE\s+)?TABLE\s+${IF_EXISTS}${QNAME}`), (m, s) => tables("alter", [m[1]], s)],
  [re(String.raw`^DROP\s+TABLE\s+${IF_EXISTS}(.*?)(?:\s+(?:RESTRICT|CASCADE))?\s*(?:/\*.*\*/)?\s*$`), (m, s) => tables("drop", splitNames(m[1]), s)],
  [re(String.raw`^TRUNCATE\s+(?:TABLE\s+)?${QNAME}`), (m, s) => tables("truncate", [m[1]], s)],
  [re(String.raw`^CREATE\s+(?:OR\s+REPLACE\s+)?(?:ONLINE\s+|OFFLINE\s+)?(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+${IF_NOT_EXISTS}${ID}(?:\s+USING\s+\w+)?\s+ON\s+${QNAME}`), (m, s) => tables("index", [m[1]], s)],
  [re(String.raw`^DROP\s+INDEX\s+${IF_EXISTS}${ID}\s+ON\s+${QNAME}`), (m, s) => tables("index", [m[1]], s)],
  [re(String.raw`^RENAME\s+TABLES?\s+(.*)$`), (m, s) => renames(m[1], s)],
  [re(String.raw`^(CREATE|DROP|ALTER)\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(${ID})`), (m) => ({ kind: "database", verb: m[1].toLowerCase() as "create" | "drop" | "alter", db: unquote(m[2]) })],
  [re(String.raw`^(?:BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO|XA\s)`), () => ({ kind: "transaction-control" })],
];

export function parseDdl(sql: string, schema: string): DdlTarget {
  const text = stripLeadingComments(sql);
  for (const [pattern, build] of RULES) {
    const m = pattern.exec(text);
    if (m) return build(m, schema);
  }
  return { kind: "other" };
}

function re(source: string): RegExp {
  return new RegExp(source, "isu");
}

function tables(verb: "create" | "alter" | "drop" | "truncate" | "index", names: string[], schema: string): DdlTarget {
  return { kind: "tables", verb, tables: names.map((n) => qualify(n, schema)) };
}

function renames(list: string, schema: string): DdlTarget {
  const pairRe = new RegExp(String.raw`${QNAME}\s+TO\s+${QNAME}`, "giu");
  const pairs: { from: TableName; to: TableName }[] = [];
  for (let m = pairRe.exec(list); m; m = pairRe.exec(list)) pairs.push({ from: qualify(m[1], schema), to: qualify(m[2], schema) });
  return pairs.length ? { kind: "rename", pairs } : { kind: "other" };
}

function splitNames(list: string): string[] {
  const nameRe = new RegExp(QNAME, "gu");
  return [...list.matchAll(nameRe)].map((m) => m[1]);
}

function qualify(name: string, schema: string): TableName {
  const [first, second] = name.match(new RegExp(ID, "gu")) ?? [name];
  return second === undefined ? { db: schema, table: unquote(first) } : { db: unquote(first), table: unquote(second) };
}

function unquote(id: string): string {
  return id.startsWith("`") ? id.slice(1, -1).replace(/``/g, "`") : id;
}

function stripLeadingComments(sql: string): string {
  let s = sql.trimStart();
  for (;;) {
    if (s.startsWith("/*") && !s.startsWith("/*!")) s = s.slice(s.indexOf("*/") + 2).trimStart();
    else if (s.startsWith("-- ") || s.startsWith("#")) s = s.slice(s.indexOf("\n") + 1).trimStart();
    else return s;
  }
}
