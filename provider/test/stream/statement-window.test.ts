/**
 * The order rules of StatementWindow and TablePlan.updateKind, on statement text alone (no
 * server: the conformance case gathered_foreign_keys runs the same rules against real servers and
 * a native replica).
 */
import * as assert from "node:assert/strict";
import { PLAIN } from "../../src/sql/literals";
import { STATEMENT_MAX_ROWS } from "../../src/sql/statements";
import type { TableColumns } from "../../src/stream/change-events";
import { type SessionFlags, StatementWindow } from "../../src/stream/statement-window";
import { TablePlan } from "../../src/stream/table-plans";

const COLUMNS: TableColumns = { names: ["id", "parent", "v"], kinds: [PLAIN, PLAIN, PLAIN] };
const CHECKED: SessionFlags = { foreignKeyChecks: true, uniqueChecks: true };
const UNCHECKED: SessionFlags = { foreignKeyChecks: false, uniqueChecks: true };

/** A table (id key, parent, v); `parents`: the tables its `parent` column references. */
function plan(table: string, opts: { parents?: string[]; hasChildren?: boolean } = {}): TablePlan {
  const fkColumns = new Set<string>([...(opts.parents?.length ? ["parent"] : []), ...(opts.hasChildren ? ["id"] : [])]);
  return new TablePlan("db", table, COLUMNS, [0, 1, 2], [0], false, new Set(), { parents: (opts.parents ?? []).map((p) => `db\u0000${p}`), hasChildren: opts.hasChildren ?? false, columns: fkColumns }, true);
}

function origin(n: number) {
  return { gtid: `0-1-${n}`, db: "db", table: "t", op: "INSERT" };
}

/** The window's statements, shortened to "kind table (rows)". */
function shapes(window: StatementWindow, session: SessionFlags = { ...CHECKED }): string[] {
  return window.take(session).map((s) => {
    const insert = /^INSERT INTO `db`\.`(\w+)` \(.*?\) VALUES (.*?)( ON DUPLICATE KEY UPDATE .*)? \/\*/.exec(s.sql);
    if (insert) return `${insert[3] ? "upsert" : "insert"} ${insert[1]} ${insert[2]}`;
    const del = /^DELETE FROM `db`\.`(\w+)` WHERE `id` IN \((.*?)\) \/\*/.exec(s.sql);
    return del ? `delete ${del[1]} ${del[2]}` : s.sql;
  });
}

/** Row `id` of a table (id, parent, v). */
const row = (id: number) => [id, 1, "v"];

function insert(w: StatementWindow, p: TablePlan, id: number, flags = CHECKED): void {
  w.addRow("insert", p, `(${id})`, p.insertFootprint(row(id), flags), flags, origin(id));
}

function remove(w: StatementWindow, p: TablePlan, id: number): void {
  w.addRow("delete-in", p, `${id}`, p.deleteFootprint(row(id)), CHECKED, origin(id));
}

function update(w: StatementWindow, p: TablePlan, id: number): void {
  w.addRow("update", p, `(${id})`, p.updateFootprint("values", row(id)), UNCHECKED, origin(id));
}

describe("StatementWindow (statement order only, no server)", () => {
  it("gathers the rows of one table past another table's rows", () => {
    const a = plan("a");
    const b = plan("b");
    const w = new StatementWindow();
    for (let i = 1; i <= 2; i++) {
      insert(w, a, i);
      insert(w, b, i);
    }
    assert.deepEqual(shapes(w), ["insert a (1), (2)", "insert b (1), (2)"]);
  });

  it("keeps the changes of one row in their order, and gathers those of other rows past them", () => {
    const a = plan("a");
    const w = new StatementWindow();
    insert(w, a, 1);
    remove(w, a, 2);
    insert(w, a, 2);
    remove(w, a, 3);
    insert(w, a, 3);
    remove(w, a, 2);
    insert(w, a, 4);
    assert.deepEqual(shapes(w), ["insert a (1)", "delete a 2, 3", "insert a (2), (3), (4)", "delete a 2"]);
  });

  it("keeps every change of a table with another unique index in its order (rows may collide through it)", () => {
    const a = new TablePlan("db", "a", COLUMNS, [0, 1, 2], [0], false, new Set(), undefined, false);
    const w = new StatementWindow();
    insert(w, a, 1);
    remove(w, a, 2);
    insert(w, a, 3);
    assert.deepEqual(shapes(w), ["insert a (1)", "delete a 2", "insert a (3)"]);
  });

  it("never moves a child's insert above an insert into its parent table; a parent's insert moves above children", () => {
    const parent = plan("p", { hasChildren: true });
    const child = plan("c", { parents: ["p"] });
    const w = new StatementWindow();
    insert(w, child, 1);
    insert(w, parent, 2);
    insert(w, child, 2);
    insert(w, parent, 3);
    assert.deepEqual(shapes(w), ["insert c (1)", "insert p (2), (3)", "insert c (2)"]);
  });

  it("moves a child's insert written without foreign key checks above its parent's insert", () => {
    const parent = plan("p", { hasChildren: true });
    const child = plan("c", { parents: ["p"] });
    const w = new StatementWindow();
    insert(w, child, 1, UNCHECKED);
    insert(w, parent, 2);
    insert(w, child, 2, UNCHECKED);
    assert.deepEqual(shapes(w), ["SET SESSION foreign_key_checks = 0, unique_checks = 1", "insert c (1), (2)", "SET SESSION foreign_key_checks = 1, unique_checks = 1", "insert p (2)"]);
  });

  it("lets nothing pass a change that foreign keys carry to other tables (a parent's delete)", () => {
    const parent = plan("p", { hasChildren: true });
    const other = plan("o");
    const w = new StatementWindow();
    update(w, other, 1);
    remove(w, parent, 7);
    update(w, other, 2);
    assert.deepEqual(shapes(w, { ...UNCHECKED }), ["upsert o (1)", "SET SESSION foreign_key_checks = 1, unique_checks = 1", "delete p 7", "SET SESSION foreign_key_checks = 0, unique_checks = 1", "upsert o (2)"]);
  });

  it("moves nothing past statements that run in place, nor them past anything", () => {
    const a = plan("a");
    const w = new StatementWindow();
    insert(w, a, 1);
    w.addStatements([{ sql: "UPDATE b" }], { table: "db\u0000b", barrier: true }, CHECKED);
    insert(w, a, 2);
    assert.deepEqual(shapes(w), ["insert a (1)", "UPDATE b", "insert a (2)"]);
  });

  it("still puts consecutive rows of one kind and table in one statement when they may pass nothing", () => {
    const a = plan("a");
    const w = new StatementWindow();
    const inPlace = { table: a.id, barrier: true };
    w.addRow("upsert", a, "(1)", inPlace, CHECKED, origin(1));
    w.addRow("upsert", a, "(2)", inPlace, CHECKED, origin(2));
    w.addStatements([{ sql: "UPDATE a" }], inPlace, CHECKED);
    w.addRow("upsert", a, "(3)", inPlace, CHECKED, origin(3));
    assert.deepEqual(shapes(w), ["upsert a (1), (2)", "UPDATE a", "upsert a (3)"]);
  });

  it("an upsert of updates must change two rows per row; a statement of several transactions names the first and last", () => {
    const a = plan("a");
    const w = new StatementWindow();
    w.addRow("update", a, "(1)", a.updateFootprint("values", row(1)), UNCHECKED, origin(1));
    w.addRow("update", a, "(1)", a.updateFootprint("values", row(1)), UNCHECKED, origin(2));
    const [set, upsert] = w.take({ ...CHECKED });
    assert.equal(set.sql, "SET SESSION foreign_key_checks = 0, unique_checks = 1");
    assert.deepEqual({ expect: upsert.expect, neverSkip: upsert.neverSkip, gtid: upsert.origin?.gtid }, { expect: 4, neverSkip: true, gtid: "0-1-1 to 0-1-2" });
  });

  it("closes a statement at STATEMENT_MAX_ROWS rows and goes on in a new one", () => {
    const a = plan("a");
    const w = new StatementWindow();
    for (let i = 0; i <= STATEMENT_MAX_ROWS; i++) insert(w, a, i);
    const statements = w.take({ ...CHECKED });
    assert.equal(statements.length, 2);
    assert.match(statements[1].sql, new RegExp(`VALUES \\(${STATEMENT_MAX_ROWS}\\) `));
  });
});

describe("TablePlan.updateKind (no server)", () => {
  it("tells an update of values from one of the key, of a foreign key column, or of nothing", () => {
    const child = plan("c", { parents: ["p"] });
    assert.equal(child.updateKind([1, 5, "x"], [1, 5, "y"]), "values");
    assert.equal(child.updateKind([1, 5, "x"], [2, 5, "x"]), "key");
    assert.equal(child.updateKind([1, 5, "x"], [1, 6, "x"]), "foreign-key");
    assert.equal(child.updateKind([1, 5, Buffer.from("x")], [1, 5, Buffer.from("x")]), "unchanged");
    const parent = plan("p", { hasChildren: true });
    assert.equal(parent.updateKind([1, 5, "x"], [2, 5, "x"]), "foreign-key", "a referenced key changing reaches the children");
    assert.deepEqual(child.updateFootprint("foreign-key", [1, 5, "x"]), { table: "db\u0000c", barrier: true });
    assert.deepEqual(child.updateFootprint("key", [1, 5, "x"]), { table: "db\u0000c" }, "a key that moves: the whole table");
  });

  it("treats every update as reaching other tables when a foreign key uses a generated column", () => {
    const generated = new TablePlan("db", "g", COLUMNS, [0, 2], [0], false, new Set(), { parents: ["db\u0000p"], hasChildren: false, columns: new Set(["parent"]) }, true);
    assert.equal(generated.updateKind([1, 5, "x"], [1, 5, "y"]), "foreign-key");
  });
});
