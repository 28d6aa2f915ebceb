/**
 * The transaction assembler on event sequences written the way the servers log them (seen with
 * mariadb-binlog on 10.11; MySQL's forms from its documentation): which items reach the applier.
 * Pure: no server. The same behaviours run end to end in test/conformance.
 */
import * as assert from "node:assert/strict";
import { ObjectFilter } from "../../src/core/object-filter";
import { PLAIN } from "../../src/sql/literals";
import type { ApplyItem, SourceEvent } from "../../src/stream/change-events";
import type { SessionContext } from "../../src/stream/session-context";
import type { AccountPolicy } from "../../src/catalog/accounts";
import { TransactionAssembler } from "../../src/stream/transaction-assembler";

const CONTEXT: SessionContext = { timestamp: { seconds: 1, micros: 0 }, foreignKeyChecks: true, uniqueChecks: true, autoIsNull: false };

function gtid(n: number, standalone: boolean | undefined, xa = false): SourceEvent {
  return { kind: "gtid", gtid: `0-1-${n}`, timestampMs: n * 1000, standalone, xa };
}
function query(sql: string, schema = "shop"): SourceEvent {
  return { kind: "query", statement: { schema, sql, raw: Buffer.from(sql), context: CONTEXT }, timestampMs: 1000 };
}
function rows(table: string, db = "shop"): SourceEvent {
  return { kind: "rows", change: { db, table, op: "insert", columns: { names: ["id"], kinds: [PLAIN] }, rows: [[1]], foreignKeyChecks: true, uniqueChecks: true }, timestampMs: 1000 };
}
const XID: SourceEvent = { kind: "xid", timestampMs: 1000 };

/** The items the events produce, summarized as kind (and the detail a test looks at). */
function assemble(events: SourceEvent[], options: { include?: string[]; exclude?: string[]; applied?: string[]; columnNames?: boolean; accounts?: AccountPolicy } = {}): ApplyItem[] {
  return assembleWith(events, options).items;
}

function assembleWith(events: SourceEvent[], options: { include?: string[]; exclude?: string[]; applied?: string[]; columnNames?: boolean; accounts?: AccountPolicy } = {}) {
  const items: ApplyItem[] = [];
  const filter = new ObjectFilter({ include: options.include ?? ["shop"], exclude: options.exclude ?? [] });
  const assembler = new TransactionAssembler("link", filter, (g) => (options.applied ?? []).includes(g), { push: (i) => items.push(i) }, { columnNamesInBinlog: options.columnNames ?? true, accounts: options.accounts });
  for (const e of events) assembler.accept(e);
  return { items, assembler };
}

function kinds(items: ApplyItem[]): string[] {
  return items.map((i) => (i.kind === "ddl" ? `ddl${i.ends ? "" : "(continues)"}` : i.kind === "savepoint" ? `savepoint${i.rollback ? "-rollback" : ""}` : i.kind));
}

describe("transaction assembler", () => {
  it("keeps CREATE TABLE ... SELECT's rows with its DDL: MariaDB logs them in one group that an XID ends", () => {
    const items = assemble([gtid(1, false), query("CREATE TABLE `s` (`id` int(11) NOT NULL)"), rows("s"), XID]);
    assert.deepEqual(kinds(items), ["ddl(continues)", "rows", "commit"]);
    assert.ok(items.every((i) => i.gtid === "0-1-1"));
  });

  it("ends a group at a standalone DDL (MariaDB) and at a MySQL DDL, unless MySQL says START TRANSACTION", () => {
    assert.deepEqual(kinds(assemble([gtid(1, true), query("CREATE TABLE a (id INT)"), gtid(2, true), query("DROP TABLE a")])), ["ddl", "ddl"]);
    assert.deepEqual(kinds(assemble([gtid(1, undefined), query("CREATE TABLE b (id INT) START TRANSACTION"), rows("b"), XID])), ["ddl(continues)", "rows", "commit"]);
    assert.deepEqual(kinds(assemble([gtid(1, undefined), query("CREATE TABLE c (id INT)"), gtid(2, undefined), query("BEGIN"), rows("c"), XID])), ["ddl", "rows", "commit"]);
  });

  it("sends an event's DDL with its master status kept first, the DDL in the master's bytes set to wait on the replica side", () => {
    const hex = (t: string) => `CONVERT(X'${Buffer.from(t).toString("hex")}' USING utf8mb4)`;
    const events = [
      gtid(1, true), query("CREATE EVENT e ON SCHEDULE EVERY 1 DAY COMMENT 'caf\u00e9' DO SELECT 1"),
      gtid(2, true), query("ALTER EVENT e RENAME TO f DISABLE"),
      gtid(3, true), query("DROP EVENT IF EXISTS f"),
      gtid(4, true), query("CREATE EVENT other.e ON SCHEDULE EVERY 1 DAY DO SELECT 1"),
    ];
    const ddl = assemble(events).flatMap((i) => (i.kind === "ddl" ? [i.ddl] : []));
    assert.equal(ddl.length, 3, "an unselected database's event is not replayed");
    const [create, alter, drop] = ddl.map((d) => ({ raw: d.statement.raw.toString("latin1").split(";\n"), sql: d.statement.sql, touches: d.touches.events, rewritten: d.rewritten }));
    const key = (name: string) => `link = ${hex("link")} AND db = ${hex("shop")} AND name = ${hex(name)}`;
    assert.deepEqual(create.raw, [
      `REPLACE INTO mysql_dr.events (link, db, name, status) VALUES (${["link", "shop", "e", "ENABLED"].map(hex).join(", ")}) /* mysql-dr events */`,
      // The master's bytes: the UTF-8 of the comment stays as it was logged.
      Buffer.from("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE ON SLAVE COMMENT 'caf\u00e9' DO SELECT 1").toString("latin1"),
    ]);
    assert.equal(create.sql, "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE ON SLAVE COMMENT 'caf\u00e9' DO SELECT 1", "messages show the DDL alone");
    assert.equal(create.rewritten, undefined);
    assert.deepEqual(alter.raw, [
      `DELETE FROM mysql_dr.events WHERE ${key("f")} /* mysql-dr events */`,
      `UPDATE mysql_dr.events SET db = ${hex("shop")}, name = ${hex("f")} WHERE ${key("e")} /* mysql-dr events */`,
      `REPLACE INTO mysql_dr.events (link, db, name, status) VALUES (${["link", "shop", "f", "DISABLED"].map(hex).join(", ")}) /* mysql-dr events */`,
      "ALTER EVENT e RENAME TO f DISABLE ON SLAVE",
    ]);
    assert.deepEqual(alter.touches, [{ db: "shop", name: "e" }, { db: "shop", name: "f" }], "both names tell whether a RENAME ran");
    assert.deepEqual(drop.raw, [`DELETE FROM mysql_dr.events WHERE ${key("f")} /* mysql-dr events */`, "DROP EVENT IF EXISTS f"]);
  });

  it("keeps an XA transaction's rows until its XA COMMIT or XA ROLLBACK, a group of its own", () => {
    const prepare = (n: number, xid: string) => [gtid(n, false, true), rows("t"), query(`XA END ${xid}`), { kind: "xa-prepare", onePhase: false, timestampMs: 1000 } as SourceEvent];
    const items = assemble([...prepare(1, "X'31',X'',1"), gtid(2, true), query("XA ROLLBACK X'31',X'',1"), ...prepare(3, "X'32',X'',1"), gtid(4, true), query("XA COMMIT X'32',X'',1")]);
    assert.deepEqual(kinds(items), ["xa-prepare", "xa-end", "xa-prepare", "xa-end"]);
    const [first, rollback, , commit] = items as Extract<ApplyItem, { kind: "xa-prepare" | "xa-end" }>[];
    assert.equal(first.kind === "xa-prepare" && first.changes.length, 1);
    assert.deepEqual([rollback.kind === "xa-end" && rollback.commit, rollback.xid], [false, "X'31',X'',1"]);
    assert.deepEqual([commit.kind === "xa-end" && commit.commit, commit.xid], [true, "X'32',X'',1"]);
  });

  it("commits XA COMMIT ... ONE PHASE at once (MySQL logs it with an XA_PREPARE event marked one-phase)", () => {
    const items = assemble([gtid(1, undefined), query("XA START X'33',X'',1"), rows("t"), query("XA END X'33',X'',1"), { kind: "xa-prepare", onePhase: true, timestampMs: 1000 }]);
    assert.deepEqual(kinds(items), ["rows", "commit"]);
  });

  it("passes SAVEPOINT and ROLLBACK TO SAVEPOINT through in their place, and drops RELEASE", () => {
    const items = assemble([gtid(1, false), rows("t"), query("SAVEPOINT `s`"), rows("t"), query("ROLLBACK TO `s`"), query("RELEASE SAVEPOINT s"), rows("t"), XID]);
    assert.deepEqual(kinds(items), ["rows", "savepoint", "rows", "savepoint-rollback", "rows", "commit"]);
  });

  it("follows RENAME through every name: a swap through an unselected temporary name, a table leaving, a table entering", () => {
    const swap = assemble([gtid(1, true), query("RENAME TABLE a TO tmp, b TO a, tmp TO b")], { exclude: ["shop.tmp"] });
    assert.deepEqual(kinds(swap), ["ddl"]);
    const ddl = (swap[0] as Extract<ApplyItem, { kind: "ddl" }>).ddl;
    // b ends up as a and a as b, through temporary names the DR server does not otherwise have.
    assert.equal(ddl.rewritten, "RENAME TABLE `shop`.`b` TO `shop`.`_mysql_dr_rename_0`, `shop`.`a` TO `shop`.`_mysql_dr_rename_1`, `shop`.`_mysql_dr_rename_0` TO `shop`.`a`, `shop`.`_mysql_dr_rename_1` TO `shop`.`b`");

    const leaving = assemble([gtid(1, true), query("RENAME TABLE t TO archive.t")]);
    assert.equal((leaving[0] as Extract<ApplyItem, { kind: "ddl" }>).ddl.rewritten, "DROP TABLE IF EXISTS `shop`.`t`");

    const entering = assemble([gtid(1, true), query("RENAME TABLE t TO _t_del, _t_gho TO t")], { exclude: ["shop._*"] });
    assert.deepEqual(kinds(entering), ["refuse"]);
    assert.match((entering[0] as Extract<ApplyItem, { kind: "refuse" }>).message, /RENAME brings `shop`.`_t_gho` into the selection as `shop`.`t` at GTID 0-1-1/);

    const whole = assemble([gtid(1, true), query("RENAME TABLE t TO t2")]);
    assert.equal((whole[0] as Extract<ApplyItem, { kind: "ddl" }>).ddl.rewritten, undefined, "fully selected: the master's statement runs as it is");
  });

  it("refuses a group that ends in ROLLBACK after selected rows (they cannot be undone), and ends one without them", () => {
    assert.deepEqual(kinds(assemble([gtid(1, false), query("BEGIN"), rows("t"), rows("m", "other"), query("ROLLBACK")])), ["rows", "refuse", "commit"]);
    assert.deepEqual(kinds(assemble([gtid(1, false), query("BEGIN"), rows("m", "other"), query("ROLLBACK")])), ["commit"]);
  });

  it("refuses DML logged as a statement on a selected table, and lets it pass on others", () => {
    assert.deepEqual(kinds(assemble([gtid(1, false), query("BEGIN"), query("INSERT INTO t VALUES (1)"), query("COMMIT")])), ["refuse", "commit"]);
    assert.deepEqual(kinds(assemble([gtid(1, false), query("BEGIN"), query("INSERT INTO other.t VALUES (1)"), query("COMMIT")])), ["commit"]);
  });

  it("skips a group the checkpoint already holds", () => {
    assert.deepEqual(kinds(assemble([gtid(1, false), rows("t"), XID, gtid(2, false), rows("t"), XID], { applied: ["0-1-1"] })), ["rows", "commit"]);
  });

  it("without a server: when the master writes no column names (no binlog_row_metadata), refuses an ALTER that changes a selected table's columns", () => {
    const changes = assemble([gtid(1, true), query("ALTER TABLE t ADD COLUMN x INT")], { columnNames: false });
    assert.deepEqual(kinds(changes), ["refuse"]);
    assert.match((changes[0] as Extract<ApplyItem, { kind: "refuse" }>).message, /^The master writes no column names into its binlog .* rows of `shop`.`t` written around this ALTER \(GTID 0-1-1\)/);
    assert.deepEqual(kinds(assemble([gtid(1, true), query("ALTER TABLE t ADD INDEX i (x)")], { columnNames: false })), ["ddl"]);
    assert.deepEqual(kinds(assemble([gtid(1, true), query("ALTER TABLE t ADD COLUMN x INT")], { columnNames: true })), ["ddl"]);
  });

  describe("account statements", () => {
    const WHOLE: AccountPolicy = { flavor: "mariadb", protectedUsers: ["dr", "mariadb.sys"] };
    const invoked = (sql: string): SourceEvent => ({ kind: "query", statement: { schema: "", sql, raw: Buffer.from(sql), context: { ...CONTEXT, invoker: { user: "admin", host: "localhost" } } }, timestampMs: 1000 });
    const ddl = (item: ApplyItem) => (item.kind === "ddl" ? item.ddl : assert.fail(`expected a DDL, got ${item.kind}: ${item.kind === "refuse" ? item.message : ""}`));

    it("a whole-instance link replays them with the accounts they touch; a link with an include list counts them", () => {
      const events = [gtid(1, true), query("CREATE USER 'app'@'%' IDENTIFIED BY 'pw'", ""), gtid(2, true), query("GRANT SELECT ON shop.* TO 'app'@'%'", "")];
      const whole = assembleWith(events, { include: [], accounts: WHOLE });
      assert.deepEqual(whole.items.map((i) => ddl(i).touches.accounts), [[{ user: "app", host: "%" }], [{ user: "app", host: "%" }]]);
      assert.equal(whole.assembler.accountStatementsSkipped, 0);
      const selected = assembleWith(events, { include: ["shop"] });
      assert.deepEqual(kinds(selected.items), ["commit", "commit"]);
      assert.equal(selected.assembler.accountStatementsSkipped, 2);
    });

    it("leaves the DR login's user alone, and stops at a statement that changes it together with another account", () => {
      const { items, assembler } = assembleWith([gtid(1, true), query("ALTER USER 'dr'@'%' IDENTIFIED BY 'x'", ""), gtid(2, true), query("DROP USER 'dr'@'%', 'app'@'%'", "")], { include: [], accounts: WHOLE });
      assert.deepEqual(kinds(items), ["commit", "refuse"]);
      assert.equal(assembler.accountStatementsSkipped, 1);
      assert.match((items[1] as { message: string }).message, /^The account statement at GTID 0-1-2 \(DROP USER \?@\?, \?@\?\) changes `dr`@`%`, which the link leaves alone .* together with `app`@`%`; give the link a DR login/);
    });

    it("resolves CURRENT_USER and a MariaDB role's implicit admin to the master's invoker; refuses them when none was logged", () => {
      const items = assemble([gtid(1, true), invoked("GRANT INSERT ON *.* TO CURRENT_USER"), gtid(2, true), invoked("CREATE ROLE r1")], { include: [], accounts: WHOLE });
      assert.deepEqual(items.map((i) => ddl(i).statement.raw.toString("latin1")), ["GRANT INSERT ON *.* TO `admin`@`localhost`", "CREATE ROLE r1 WITH ADMIN `admin`@`localhost`"]);
      assert.deepEqual(ddl(items[0]).touches.accounts, [{ user: "admin", host: "localhost" }]);
      const mysqlRole = assemble([gtid(1, true), invoked("CREATE ROLE r1")], { include: [], accounts: { ...WHOLE, flavor: "mysql" } });
      assert.equal(ddl(mysqlRole[0]).statement.raw.toString(), "CREATE ROLE r1", "MySQL does not make the creator a role's admin");
      assert.deepEqual(kinds(assemble([gtid(1, true), query("GRANT INSERT ON *.* TO CURRENT_USER", "")], { include: [], accounts: WHOLE })), ["refuse"]);
    });

    it("stops at rows written into the grant tables by hand, which no account statement carries", () => {
      const items = assemble([gtid(1, false), rows("global_priv", "mysql"), XID], { include: [], accounts: WHOLE });
      assert.deepEqual(kinds(items), ["refuse", "commit"]);
      assert.deepEqual(kinds(assemble([gtid(1, false), rows("global_priv", "mysql"), XID])), ["commit"], "links with an include list do not look at them");
    });
  });
});
