/**
 * Account statements from the binlog (CREATE/ALTER/DROP/RENAME USER, CREATE/DROP ROLE, GRANT,
 * REVOKE, SET PASSWORD, SET DEFAULT ROLE): which accounts each one changes, so a whole-instance
 * link can replay them, keep the daemon's own login on the DR server out of their reach, and
 * digest what they touch (stream/ddl-guard.ts) to replay them exactly once.
 *
 * Servers log these statements as text, whatever binlog_format says, with the invoker (the
 * account that ran them) among the Query event's status variables when the text depends on it:
 * CURRENT_USER, and the implicit admin of a MariaDB CREATE ROLE.
 */
import { type AccountName, formatAccount } from "../catalog/accounts";
import { maskLiterals, wire } from "../sql/literals";

/** `user@host`; a bare name (a MariaDB role, or `'u'` meaning `'u'@'%'`) has no host. */

export type AccountVerb = "create-user" | "alter-user" | "drop-user" | "rename-user" | "create-role" | "drop-role" | "grant" | "revoke" | "set-password" | "set-default-role";

export interface AccountStatement {
  verb: AccountVerb;
  /** The accounts whose definition or grants the statement changes. */
  accounts: AccountName[];
  /** It names CURRENT_USER (or USER()): the account is the invoker's. */
  namesInvoker: boolean;
  /** CREATE ROLE without WITH ADMIN: the invoker becomes the role's admin. */
  implicitAdmin: boolean;
  /** IF [NOT] EXISTS, CREATE OR REPLACE: running it twice is harmless. */
  idempotent: boolean;
}

type Token = { kind: "word" | "quoted" | "symbol"; text: string; start: number };

const HEAD = /^\s*(CREATE\s+OR\s+REPLACE\s+(USER|ROLE)|(CREATE|ALTER|DROP|RENAME)\s+(USER|ROLE)|GRANT|REVOKE|SET\s+PASSWORD|SET\s+DEFAULT\s+ROLE)\b/i;

/** Words that end a list of accounts (the clauses after it). */
const LIST_END = new Set(["REQUIRE", "WITH", "DEFAULT", "ACCOUNT", "COMMENT", "ATTRIBUTE", "FAILED_LOGIN_ATTEMPTS", "PASSWORD_LOCK_TIME", "PASSWORD", "RESOURCE"]);
const PASSWORD_OPTION = new Set(["EXPIRE", "HISTORY", "REUSE", "REQUIRE"]);

export function isAccountStatement(sql: string): boolean {
  return HEAD.test(sql);
}

/** Undefined when `sql` is not an account statement. */
export function parseAccountStatement(sql: string, ansiQuotes = false): AccountStatement | undefined {
  const head = HEAD.exec(sql);
  if (!head) return undefined;
  const tokens = tokenize(sql, ansiQuotes);
  const words = (i: number, n: number) => tokens.slice(i, i + n).map((t) => (t.kind === "word" ? t.text.toUpperCase() : "")).join(" ");
  let i = 0;
  const skipIfExists = () => {
    if (words(i, 3) === "IF NOT EXISTS") i += 3;
    else if (words(i, 2) === "IF EXISTS") i += 2;
    else return false;
    return true;
  };
  const result = (verb: AccountVerb, accounts: AccountName[], idempotent: boolean, implicitAdmin = false): AccountStatement => ({
    verb,
    accounts: accounts.filter((a) => a.user !== CURRENT_USER),
    namesInvoker: accounts.some((a) => a.user === CURRENT_USER),
    implicitAdmin,
    idempotent,
  });
  const first = words(0, 1);
  if (first === "CREATE" || first === "ALTER" || first === "DROP" || first === "RENAME") {
    const orReplace = words(1, 2) === "OR REPLACE";
    i = orReplace ? 3 : 1;
    const object = words(i++, 1);
    const idempotent = skipIfExists() || orReplace;
    if (first === "RENAME") {
      const accounts: AccountName[] = [];
      for (;;) {
        const from = readAccount(tokens, i);
        if (!from) break;
        accounts.push(from.account);
        i = from.next;
        if (words(i, 1) !== "TO") break;
        const to = readAccount(tokens, i + 1);
        if (!to) break;
        accounts.push(to.account);
        i = to.next;
        if (tokens[i]?.text !== ",") break;
        i++;
      }
      return result("rename-user", accounts, false);
    }
    const list = readAccountList(tokens, i);
    const verb = `${first.toLowerCase()}-${object.toLowerCase()}` as AccountVerb;
    const implicitAdmin = verb === "create-role" && !tokens.slice(list.next).some((t, k, rest) => t.kind === "word" && t.text.toUpperCase() === "WITH" && rest[k + 1]?.text.toUpperCase() === "ADMIN");
    return result(verb, list.accounts, idempotent, implicitAdmin);
  }
  if (first === "GRANT" || first === "REVOKE") {
    // The grantees follow the first TO (FROM) outside parentheses: column lists and PROXY ON come before it.
    const keyword = first === "GRANT" ? "TO" : "FROM";
    let depth = 0;
    i = 1;
    if (first === "REVOKE") skipIfExists();
    for (; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.text === "(") depth++;
      else if (t.text === ")") depth--;
      else if (depth === 0 && t.kind === "word" && t.text.toUpperCase() === keyword) break;
    }
    return result(first === "GRANT" ? "grant" : "revoke", readAccountList(tokens, i + 1).accounts, first === "GRANT");
  }
  // SET PASSWORD [FOR account] = ...; SET DEFAULT ROLE role [FOR account] (MariaDB) or ... TO accounts (MySQL).
  const isPassword = words(1, 1) === "PASSWORD";
  const at = tokens.findIndex((t, k) => k > 1 && t.kind === "word" && ["FOR", "TO"].includes(t.text.toUpperCase()));
  const accounts = at < 0 ? [{ user: CURRENT_USER }] : readAccountList(tokens, at + 1).accounts;
  return result(isPassword ? "set-password" : "set-default-role", accounts, !isPassword);
}

/**
 * The statement with CURRENT_USER (and CURRENT_USER(), USER() where an account goes) replaced by
 * the invoker the master logged, and a MariaDB CREATE ROLE given the invoker as its admin, as a
 * native replica resolves them. `text` is wire text (the master's bytes, one char each), so every
 * other byte (a password in the client's character set) is kept as it was.
 */
export function resolveInvoker(text: string, invoker: AccountName, statement: AccountStatement, ansiQuotes = false): string {
  const masked = maskLiterals(text, ansiQuotes);
  // The invoker's name is UTF-8 text; `text` holds bytes.
  const invokerBytes = wire(formatAccount(invoker));
  let out = "";
  let last = 0;
  for (const m of masked.matchAll(/\b(?:CURRENT_USER|USER)\b(?:\s*\(\s*\))?/giu)) {
    if (/^USER$/i.test(m[0])) continue; // the keyword of CREATE USER, not a function call
    out += text.slice(last, m.index) + invokerBytes;
    last = m.index! + m[0].length;
  }
  out += text.slice(last);
  return statement.implicitAdmin ? `${out.replace(/\s*;?\s*$/, "")} WITH ADMIN ${invokerBytes}` : out;
}

const CURRENT_USER = "\u0000current_user";

/** An account name at `i`: `name`, `name@host` (quoted or not), CURRENT_USER[()] or USER(). */
function readAccount(tokens: Token[], i: number): { account: AccountName; next: number } | undefined {
  const t = tokens[i];
  if (!t || (t.kind === "symbol" && t.text !== "@")) return undefined;
  if (t.kind === "word" && /^(CURRENT_USER|USER)$/i.test(t.text) && (tokens[i + 1]?.text === "(" || t.text.toUpperCase() === "CURRENT_USER")) {
    const next = tokens[i + 1]?.text === "(" && tokens[i + 2]?.text === ")" ? i + 3 : i + 1;
    return { account: { user: CURRENT_USER }, next };
  }
  if (t.kind === "symbol") return undefined;
  // An unquoted name@host is one word to the tokenizer only when it has no '@' split: see tokenize.
  if (tokens[i + 1]?.text === "@" && tokens[i + 2] && tokens[i + 2].kind !== "symbol") {
    return { account: { user: t.text, host: tokens[i + 2].text }, next: i + 3 };
  }
  return { account: { user: t.text }, next: i + 1 };
}

/**
 * Accounts separated by commas, each possibly followed by its own authentication clause
 * (IDENTIFIED ...), up to the clauses that end the list.
 */
function readAccountList(tokens: Token[], start: number): { accounts: AccountName[]; next: number } {
  const accounts: AccountName[] = [];
  let i = start;
  for (;;) {
    const read = readAccount(tokens, i);
    if (!read) break;
    accounts.push(read.account);
    i = read.next;
    let depth = 0;
    for (; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.text === "(") depth++;
      else if (t.text === ")") depth--;
      else if (depth === 0 && t.text === ",") break;
      else if (depth === 0 && t.kind === "word" && endsList(tokens, i)) return { accounts, next: i };
    }
    if (tokens[i]?.text !== ",") break;
    i++;
  }
  return { accounts, next: i };
}

function endsList(tokens: Token[], i: number): boolean {
  const word = tokens[i].text.toUpperCase();
  if (!LIST_END.has(word)) return false;
  const before = tokens[i - 1]?.text.toUpperCase();
  // IDENTIFIED BY PASSWORD '...' (MariaDB) and USING PASSWORD('...') belong to the account's clause.
  if (word === "PASSWORD") return before !== "BY" && before !== "USING" && PASSWORD_OPTION.has(tokens[i + 1]?.text.toUpperCase() ?? "");
  return true;
}

/** Words, quoted names and strings (unquoted), and one-character symbols; comments dropped. */
function tokenize(sql: string, ansiQuotes: boolean): Token[] {
  const tokens: Token[] = [];
  const pattern = /\s+|\/\*[\s\S]*?\*\/|--[^\n]*|#[^\n]*|`((?:[^`]|``)*)`|'((?:[^'\\]|\\.|'')*)'|"((?:[^"\\]|\\.|"")*)"|([\p{L}\p{N}_$.%-]+)|(.)/gsu;
  for (const m of sql.matchAll(pattern)) {
    const start = m.index!;
    if (m[1] !== undefined) tokens.push({ kind: "quoted", text: m[1].replace(/``/g, "`"), start });
    else if (m[2] !== undefined) tokens.push({ kind: "quoted", text: unescapeString(m[2], "'"), start });
    else if (m[3] !== undefined) tokens.push({ kind: "quoted", text: ansiQuotes ? m[3].replace(/""/g, '"') : unescapeString(m[3], '"'), start });
    else if (m[4] !== undefined) tokens.push({ kind: "word", text: m[4], start });
    else if (m[5] !== undefined) tokens.push({ kind: "symbol", text: m[5], start });
  }
  return tokens;
}

function unescapeString(s: string, quote: string): string {
  return s.replace(new RegExp(`\\\\(.)|${quote}${quote}`, "gs"), (_all, c: string | undefined) => (c === undefined ? quote : ({ n: "\n", t: "\t", r: "\r", "0": "\0" } as Record<string, string>)[c] ?? c));
}

