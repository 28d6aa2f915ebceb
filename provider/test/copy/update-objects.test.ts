/**
 * `link update` widening a running link's selection brings the new databases' and tables' schema
 * objects as link creation does: views (in dependency order; one reading an unselected table is
 * refused and the link goes on unchanged), routines, events (disabled on the replica side, their
 * master status kept) and the triggers' definitions (kept, not created). They then follow the
 * binlog, and a promotion creates the triggers and settles the events. Narrowing the selection
 * leaves the DR objects as they are and forgets the deselected triggers and events, so a promotion
 * neither creates nor enables them. Ends with a promotion, and the promoted server reused as a DR copy.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import type { LinkStatus } from "../../src/daemon/link-runner";
import type { PromotionResult } from "../../src/promote/promoter";
import { DaemonProcess, runCli, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("link update: schema objects", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;

  before(async () => {
    ({ master, replica } = getPair());
    // Nothing fires by itself: events are compared by status, not by what they did.
    for (const server of [master, replica]) await sql(server, "SET GLOBAL event_scheduler = OFF");
    stateDir = tempStateDir("update-objects");
    daemon = await DaemonProcess.start(stateDir);
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  const cli = (...args: string[]) => runCli([...args, "--daemon", daemon.url, "--state-dir", stateDir]);

  async function inSync(name: string): Promise<LinkStatus> {
    return waitFor(`link ${name} to be in sync`, async () => {
      const s = await client.getLink(name);
      if (s.state === "error") throw new Error(`link stopped: ${s.lastError}`);
      return s.state === "running" && s.phase === "syncing" ? s : undefined;
    }, 120_000, 250);
  }

  /** SHOW CREATE of an object, the same on both servers (events: the master's with DISABLE ON SLAVE as its status). */
  async function assertSameObject(kind: "VIEW" | "PROCEDURE" | "FUNCTION" | "EVENT", db: string, name: string): Promise<void> {
    const column = { VIEW: "Create View", PROCEDURE: "Create Procedure", FUNCTION: "Create Function", EVENT: "Create Event" }[kind];
    const [m] = await sql(master, `SHOW CREATE ${kind} \`${db}\`.\`${name}\``);
    const [r] = await sql(replica, `SHOW CREATE ${kind} \`${db}\`.\`${name}\``);
    const expected = kind === "EVENT" ? String(m[column]).replace(/ PRESERVE (?:ENABLE|DISABLE) /, " PRESERVE DISABLE ON SLAVE ") : m[column];
    assert.equal(r[column], expected, `${kind} ${db}.${name}`);
    if (kind !== "VIEW") assert.equal(r.sql_mode, m.sql_mode, `${kind} ${db}.${name} keeps its sql_mode`);
  }

  const objects = async (server: TestServer, dbs: string[]) => ({
    views: (await sql(server, "SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA IN (?) ORDER BY 1", [dbs])).map((r) => r.n),
    routines: (await sql(server, "SELECT CONCAT(ROUTINE_SCHEMA, '.', ROUTINE_NAME) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (?) ORDER BY 1", [dbs])).map((r) => r.n),
    triggers: (await sql(server, "SELECT CONCAT(TRIGGER_SCHEMA, '.', TRIGGER_NAME) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (?) ORDER BY 1", [dbs])).map((r) => r.n),
    events: (await sql(server, "SELECT CONCAT(EVENT_SCHEMA, '.', EVENT_NAME, ' ', STATUS) AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN (?) ORDER BY 1", [dbs])).map((r) => r.n),
  });
  const kept = async (table: "triggers" | "events") =>
    (await sql(replica, table === "triggers" ? "SELECT CONCAT(db, '.', name, ' on ', table_name) AS k FROM mysql_dr.triggers WHERE link = 'shop' ORDER BY 1" : "SELECT CONCAT(db, '.', name, ' ', status) AS k FROM mysql_dr.events WHERE link = 'shop' ORDER BY 1")).map((r) => r.k);

  it("creates the objects of newly selected databases and tables, which then follow the binlog; deselected ones are left and forgotten; a promotion creates the kept triggers and settles the kept events", async function () {
    this.timeout(300_000);
    await sql(master, [
      "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, total DECIMAL(10,2)); INSERT INTO shop.orders VALUES (1, 9.50), (2, 20.00)",
      "CREATE VIEW shop.v_orders AS SELECT id FROM shop.orders",
      // Not selected at first: a table of an already selected database, with its trigger and a view over it.
      "CREATE TABLE shop.extra (id INT PRIMARY KEY, note VARCHAR(20)); INSERT INTO shop.extra VALUES (1, 'one')",
      "CREATE TABLE shop.extra_log (id INT PRIMARY KEY)",
      "CREATE TRIGGER shop.extra_ins AFTER INSERT ON shop.extra FOR EACH ROW INSERT INTO shop.extra_log VALUES (NEW.id)",
      "CREATE VIEW shop.v_extra AS SELECT id, note FROM shop.extra",
      // A database the link does not select yet, with every kind of object; a_ids reads z_big, so the views need two rounds.
      "CREATE DATABASE crm; CREATE TABLE crm.customers (id INT PRIMARY KEY, score INT); INSERT INTO crm.customers VALUES (1, 5), (2, 50)",
      "CREATE TABLE crm.audit (id INT PRIMARY KEY, what VARCHAR(20))",
      "CREATE VIEW crm.z_big AS SELECT id, score FROM crm.customers WHERE score > 10",
      "CREATE VIEW crm.a_ids AS SELECT id FROM crm.z_big",
      "CREATE PROCEDURE crm.add_customer(IN n INT) BEGIN INSERT INTO crm.customers VALUES (n, 0); END",
      "CREATE FUNCTION crm.doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
      "CREATE TRIGGER crm.audit_ins AFTER INSERT ON crm.customers FOR EACH ROW INSERT INTO crm.audit VALUES (NEW.id, 'insert')",
      "CREATE EVENT crm.nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM crm.audit",
      "CREATE EVENT crm.paused ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM crm.customers",
      // Selected by the update and deselected later.
      "CREATE DATABASE legacy; CREATE TABLE legacy.t (id INT PRIMARY KEY); CREATE TABLE legacy.t_log (id INT PRIMARY KEY)",
      "CREATE TRIGGER legacy.t_ins AFTER INSERT ON legacy.t FOR EACH ROW INSERT INTO legacy.t_log VALUES (NEW.id)",
      "CREATE EVENT legacy.purge ON SCHEDULE EVERY 1 HOUR DO DELETE FROM legacy.t",
    ].join("; "));
    await client.createLink({ name: "shop", source: master.url, target: replica.url, include: ["shop.orders", "shop.v_orders"], initial: "full" });
    await inSync("shop");
    assert.deepEqual(await objects(replica, ["shop", "crm"]), { views: ["shop.v_orders"], routines: [], triggers: [], events: [] });
    assert.deepEqual(await kept("triggers"), []);

    // Widening: whole databases, through the command line.
    const updated = cli("link", "update", "shop", "--include", "shop", "--include", "crm", "--include", "legacy", "--wait", "--json");
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal((JSON.parse(updated.stdout) as LinkStatus).phase, "syncing");
    assert.deepEqual(await objects(replica, ["shop", "crm", "legacy"]), {
      views: ["crm.a_ids", "crm.z_big", "shop.v_extra", "shop.v_orders"],
      routines: ["crm.add_customer", "crm.doubled"],
      // Kept, not created: their effects arrive as rows.
      triggers: [],
      events: ["crm.nightly SLAVESIDE_DISABLED", "crm.paused SLAVESIDE_DISABLED", "legacy.purge SLAVESIDE_DISABLED"],
    });
    for (const [kind, db, name] of [["VIEW", "crm", "z_big"], ["VIEW", "crm", "a_ids"], ["VIEW", "shop", "v_extra"], ["PROCEDURE", "crm", "add_customer"], ["FUNCTION", "crm", "doubled"], ["EVENT", "crm", "nightly"], ["EVENT", "crm", "paused"]] as const) {
      await assertSameObject(kind, db, name);
    }
    assert.deepEqual(await kept("triggers"), ["crm.audit_ins on customers", "legacy.t_ins on t", "shop.extra_ins on extra"]);
    assert.deepEqual(await kept("events"), ["crm.nightly ENABLED", "crm.paused DISABLED", "legacy.purge ENABLED"]);
    assert.deepEqual(await tableContents(replica, "crm", "customers"), await tableContents(master, "crm", "customers"));
    assert.deepEqual(await tableContents(replica, "shop", "extra"), await tableContents(master, "shop", "extra"));

    // Later DDL of the new objects follows through the binlog; the triggers' effects arrive once, as rows.
    await sql(master, [
      "CREATE OR REPLACE VIEW crm.z_big AS SELECT id, score FROM crm.customers WHERE score > 20",
      "DROP FUNCTION crm.doubled",
      "ALTER EVENT crm.nightly RENAME TO crm.nightly2",
      "ALTER EVENT crm.paused ON SCHEDULE EVERY 2 DAY",
      "CREATE TRIGGER crm.audit_upd AFTER UPDATE ON crm.customers FOR EACH ROW INSERT INTO crm.audit VALUES (NEW.id + 1000, 'update')",
      "CALL crm.add_customer(3)",
      "UPDATE crm.customers SET score = 60 WHERE id = 3",
      "INSERT INTO shop.extra VALUES (2, 'two')",
    ].join("; "));
    await waitCaughtUp(client, "shop", master);
    await assertSameObject("VIEW", "crm", "z_big");
    await assertSameObject("EVENT", "crm", "nightly2");
    await assertSameObject("EVENT", "crm", "paused");
    assert.deepEqual((await objects(replica, ["crm"])).routines, ["crm.add_customer"]);
    assert.deepEqual(await kept("triggers"), ["crm.audit_ins on customers", "crm.audit_upd on customers", "legacy.t_ins on t", "shop.extra_ins on extra"]);
    assert.deepEqual(await kept("events"), ["crm.nightly2 ENABLED", "crm.paused DISABLED", "legacy.purge ENABLED"]);
    for (const [db, table] of [["crm", "customers"], ["crm", "audit"], ["shop", "extra"], ["shop", "extra_log"]]) {
      assert.deepEqual(await tableContents(replica, db, table), await tableContents(master, db, table), `${db}.${table}`);
    }

    // A view over a table the selection leaves out is refused, as at link creation, and the link goes on unchanged.
    await sql(master, "CREATE DATABASE ledger; CREATE TABLE ledger.entries (id INT PRIMARY KEY, amount INT); CREATE DATABASE reports; CREATE VIEW reports.totals AS SELECT SUM(amount) AS s FROM ledger.entries");
    const refused = cli("link", "update", "shop", "--include", "shop", "--include", "crm", "--include", "legacy", "--include", "reports");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^mysql-dr: View reports\.totals reads a table or view that is not in the link's selection \(1 such view\); include what it reads, or exclude the view\.$/m);
    assert.deepEqual((await client.getLink("shop")).include, ["shop", "crm", "legacy"]);
    await sql(master, "INSERT INTO crm.customers VALUES (4, 1)");
    await waitCaughtUp(client, "shop", master);
    assert.deepEqual(await tableContents(replica, "crm", "audit"), await tableContents(master, "crm", "audit"));

    // Narrowing: legacy and shop.extra stay on the DR server as they are, and the link forgets their triggers and events.
    await client.updateLink("shop", { include: ["shop", "crm"], exclude: ["shop.extra"] });
    await inSync("shop");
    assert.deepEqual(await kept("triggers"), ["crm.audit_ins on customers", "crm.audit_upd on customers"]);
    assert.deepEqual(await kept("events"), ["crm.nightly2 ENABLED", "crm.paused DISABLED"]);
    assert.deepEqual((await objects(replica, ["legacy", "shop"])).events, ["legacy.purge SLAVESIDE_DISABLED"]);
    assert.deepEqual((await objects(replica, ["shop"])).views, ["shop.v_extra", "shop.v_orders"]);
    await sql(master, "INSERT INTO shop.extra VALUES (3, 'three'); INSERT INTO crm.customers VALUES (5, 2)");
    await waitCaughtUp(client, "shop", master);
    assert.deepEqual(await tableContents(replica, "shop", "extra"), ['{"id":1,"note":"one"}', '{"id":2,"note":"two"}'], "a deselected table is no longer followed");

    // The promotion creates the kept triggers and gives the kept events the master's status.
    await sql(replica, "SET GLOBAL read_only = ON");
    const r = runCli(["promote", "--source", master.url, "--target", replica.url, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as PromotionResult;
    assert.deepEqual(result.fencedLinks, ["shop"]);
    assert.deepEqual(result.triggersCreated, ["crm.audit_ins", "crm.audit_upd"]);
    assert.deepEqual(result.eventsEnabled, ["crm.nightly2"]);
    assert.deepEqual(await objects(replica, ["crm", "legacy", "shop"]), {
      views: ["crm.a_ids", "crm.z_big", "shop.v_extra", "shop.v_orders"],
      routines: ["crm.add_customer"],
      triggers: ["crm.audit_ins", "crm.audit_upd"],
      events: ["crm.nightly2 ENABLED", "crm.paused DISABLED", "legacy.purge SLAVESIDE_DISABLED"],
    });
    await sql(replica, "CALL crm.add_customer(6)");
    assert.deepEqual(await sql(replica, "SELECT what FROM crm.audit WHERE id = 6"), [{ what: "insert" }], "on the promoted server the new tables' triggers fire");
    await sql(master, "SET GLOBAL read_only = OFF");
    await client.deleteLink("shop");

    // Made a DR copy again, the server no longer runs what the promotion created or enabled from the fenced link.
    await client.createLink({ name: "again", source: master.url, target: replica.url, include: ["shop.orders"], initial: "none", reusePromoted: true });
    assert.deepEqual(await objects(replica, ["crm"]), {
      views: ["crm.a_ids", "crm.z_big"],
      routines: ["crm.add_customer"],
      triggers: [],
      events: ["crm.nightly2 SLAVESIDE_DISABLED", "crm.paused SLAVESIDE_DISABLED"],
    });
    await client.deleteLink("again");
  });
});
