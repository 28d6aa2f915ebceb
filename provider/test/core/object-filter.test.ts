/**
 * Object selection: include/exclude of `db` and `db.table` patterns with `*`, system schemas never
 * selected, database-level decisions, and BAD_INPUT for malformed patterns. Pure: no server.
 */
import * as assert from "node:assert/strict";
import { DrError } from "../../src/core/errors";
import { ObjectFilter, SYSTEM_SCHEMAS, addedSelection, isSystemSchema, validatePatterns } from "../../src/core/object-filter";

function filter(include: string[], exclude: string[] = []): ObjectFilter {
  return new ObjectFilter({ include, exclude });
}

function malformed(run: () => unknown): DrError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof DrError, `expected a DrError, got ${String(err)}`);
    assert.equal(err.code, "BAD_INPUT");
    return err;
  }
  assert.fail("the pattern was accepted");
}

describe("object-filter", () => {
  describe("tableSelected", () => {
    it("selects every user table when there are no includes", () => {
      const f = filter([]);
      assert.equal(f.tableSelected("shop", "orders"), true);
      assert.equal(f.tableSelected("crm", "people"), true);
    });

    it("selects every table of a database named by a db pattern, and nothing else", () => {
      const f = filter(["shop"]);
      assert.equal(f.tableSelected("shop", "orders"), true);
      assert.equal(f.tableSelected("shop", "items"), true);
      assert.equal(f.tableSelected("crm", "orders"), false);
    });

    it("selects only the named table for a db.table pattern", () => {
      const f = filter(["shop.orders"]);
      assert.equal(f.tableSelected("shop", "orders"), true);
      assert.equal(f.tableSelected("shop", "items"), false);
      assert.equal(f.tableSelected("other", "orders"), false);
    });

    it("matches * as any run of characters, including none", () => {
      const f = filter(["shop.order_*"]);
      assert.equal(f.tableSelected("shop", "order_"), true);
      assert.equal(f.tableSelected("shop", "order_2024"), true);
      assert.equal(f.tableSelected("shop", "orders"), false);
      assert.equal(f.tableSelected("shop", "x_order_1"), false);
    });

    it("matches * in the database part", () => {
      const f = filter(["tenant_*.users"]);
      assert.equal(f.tableSelected("tenant_a", "users"), true);
      assert.equal(f.tableSelected("tenant_b", "users"), true);
      assert.equal(f.tableSelected("tenant_b", "roles"), false);
      assert.equal(f.tableSelected("landlord", "users"), false);
    });

    it("treats a bare * and *.* as every user table", () => {
      for (const p of ["*", "*.*"]) {
        assert.equal(filter([p]).tableSelected("anything", "at_all"), true, p);
      }
    });

    it("matches whole names only, not prefixes", () => {
      const f = filter(["shop"]);
      assert.equal(f.tableSelected("shop2", "t"), false);
      assert.equal(f.tableSelected("myshop", "t"), false);
    });

    it("is not fooled by regex metacharacters in names", () => {
      const f = filter(["a$b"]);
      assert.equal(f.tableSelected("a$b", "t"), true);
      assert.equal(f.tableSelected("ab", "t"), false);
    });

    it("accepts and matches names with a hyphen", () => {
      const f = filter(["my-app.audit-log"]);
      assert.equal(f.tableSelected("my-app", "audit-log"), true);
      assert.equal(f.tableSelected("my-app", "audit_log"), false);
    });

    it("accepts and matches non-ASCII letters", () => {
      assert.equal(filter(["café"]).tableSelected("café", "t"), true);
    });

    it("removes a table matched by an exclude even when an include selects it", () => {
      const f = filter(["shop"], ["shop.audit"]);
      assert.equal(f.tableSelected("shop", "orders"), true);
      assert.equal(f.tableSelected("shop", "audit"), false);
    });

    it("removes a whole database with a db exclude", () => {
      const f = filter([], ["scratch"]);
      assert.equal(f.tableSelected("scratch", "t"), false);
      assert.equal(f.tableSelected("shop", "t"), true);
    });

    it("applies wildcards in excludes", () => {
      const f = filter(["shop"], ["shop.tmp_*"]);
      assert.equal(f.tableSelected("shop", "tmp_1"), false);
      assert.equal(f.tableSelected("shop", "orders"), true);
    });

    it("selects a table matched by any one of several includes", () => {
      const f = filter(["a.t1", "b"]);
      assert.equal(f.tableSelected("a", "t1"), true);
      assert.equal(f.tableSelected("b", "zz"), true);
      assert.equal(f.tableSelected("a", "t2"), false);
    });

    it("never selects a system schema, even when included by name or by *", () => {
      for (const db of SYSTEM_SCHEMAS) {
        assert.equal(filter([]).tableSelected(db, "t"), false, `${db} with no include`);
        assert.equal(filter(["*"]).tableSelected(db, "t"), false, `${db} with *`);
        assert.equal(filter([db]).tableSelected(db, "t"), false, `${db} by name`);
      }
    });

    it("includes the product's own mysql_dr schema among the system schemas", () => {
      assert.equal(filter(["mysql_dr"]).tableSelected("mysql_dr", "checkpoint"), false);
    });

    it("recognizes INFORMATION_SCHEMA in upper case as a system schema", () => {
      assert.equal(isSystemSchema("INFORMATION_SCHEMA"), true);
      assert.equal(filter(["*"]).tableSelected("INFORMATION_SCHEMA", "TABLES"), false);
    });

    it("gives the same answer when asked twice (cached)", () => {
      const f = filter(["shop"], ["shop.audit"]);
      for (let i = 0; i < 2; i++) {
        assert.equal(f.tableSelected("shop", "audit"), false);
        assert.equal(f.tableSelected("shop", "orders"), true);
      }
    });
  });

  describe("databaseSelected", () => {
    it("selects every user database when there are no includes", () => {
      assert.equal(filter([]).databaseSelected("shop"), true);
    });

    it("selects a database that a db.table include reaches into", () => {
      const f = filter(["shop.orders"]);
      assert.equal(f.databaseSelected("shop"), true);
      assert.equal(f.databaseSelected("crm"), false);
    });

    it("matches wildcards in the database part", () => {
      const f = filter(["tenant_*"]);
      assert.equal(f.databaseSelected("tenant_x"), true);
      assert.equal(f.databaseSelected("other"), false);
    });

    it("keeps a database when only one of its tables is excluded", () => {
      assert.equal(filter(["shop"], ["shop.audit"]).databaseSelected("shop"), true);
    });

    it("drops a database excluded as a whole", () => {
      assert.equal(filter(["*"], ["scratch"]).databaseSelected("scratch"), false);
    });

    it("never selects a system schema", () => {
      for (const db of SYSTEM_SCHEMAS) assert.equal(filter(["*"]).databaseSelected(db), false, db);
    });
  });

  describe("malformed patterns", () => {
    const BAD = ["", "a.b.c", "a b", "`shop`", "shop.", ".orders", "shop;drop", "shop/orders", "shop.'t'"];

    for (const pattern of BAD) {
      it(`refuses ${JSON.stringify(pattern)} in --include with a sentence naming it`, () => {
        const err = malformed(() => filter([pattern]));
        assert.ok(err.message.includes(JSON.stringify(pattern)), err.message);
        assert.match(err.message, /^--include pattern .* is malformed; write db or db\.table/);
        assert.equal(err.message.split("\n").length, 1);
      });
    }

    it("names --exclude when the bad pattern is an exclude", () => {
      const err = malformed(() => filter([], ["a.b.c"]));
      assert.match(err.message, /^--exclude pattern "a\.b\.c" is malformed/);
    });

    it("validatePatterns refuses the malformed one among good ones, naming it and the option", () => {
      const err = malformed(() => validatePatterns(["shop", "bad pattern", "crm.*"], "--include"));
      assert.match(err.message, /^--include pattern "bad pattern" is malformed/);
    });

    it("validatePatterns accepts well-formed patterns", () => {
      assert.doesNotThrow(() => validatePatterns(["shop", "shop.order_*", "*", "*.*", "my-app", "a$b"], "--include"));
    });
  });

  describe("addedSelection", () => {
    it("selects what the new selection adds: tables of a database already selected, and databases new to it", () => {
      const added = addedSelection(filter(["shop.orders"]), filter(["shop", "crm"], ["shop.tmp_*"]));
      assert.equal(added.tableSelected("shop", "orders"), false, "selected before");
      assert.equal(added.tableSelected("shop", "extra"), true);
      assert.equal(added.tableSelected("shop", "tmp_1"), false, "excluded now");
      assert.equal(added.tableSelected("crm", "people"), true);
      assert.equal(added.databaseSelected("shop"), false, "its routines and events came with shop.orders");
      assert.equal(added.databaseSelected("crm"), true);
      assert.equal(added.databaseSelected("other"), false);
    });
  });
});
