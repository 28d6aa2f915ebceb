/**
 * Promotion against real servers, through the CLI: a planned switchover loses nothing and leaves
 * the old master read-only; without the master it is refused unless forced; a forced promotion
 * reports what is known to be unapplied; either way the link is fenced and never writes to the
 * promoted server again.
 */
import * as assert from "node:assert/strict";
import type { DaemonClient } from "../../src/cli/daemon-client";
import type { PromotionResult } from "../../src/promote/promoter";
import { DaemonProcess, runCli, sleep, sql, tableContents, tempStateDir, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

describeEachBackend("promote", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("promote"));
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  /** The tests share one DR server, which each promotion leaves promoted: later links reuse it on purpose. */
  async function freshLink(name: string, db: string, reusePromoted = false): Promise<void> {
    await sql(master, `CREATE DATABASE IF NOT EXISTS ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY); INSERT INTO ${db}.t VALUES (1), (2)`);
    // Promotion alone: the link must not run back to the old master afterwards (test/daemon/failback.test.ts does).
    await client.createLink({ name, source: master.url, target: replica.url, include: [db], initial: "full", reusePromoted, failback: { enabled: false } });
    await waitFor(`${name} in sync`, async () => {
      const s = await client.getLink(name);
      return s.state === "running" && s.phase === "syncing";
    });
    await sql(replica, "SET GLOBAL read_only = ON");
  }

  const readOnly = async (server: TestServer) => Number((await sql(server, "SELECT @@GLOBAL.read_only AS ro"))[0].ro) === 1;

  it("planned: makes the master read-only, waits until every master transaction is applied, fences the link, opens the DR", async () => {
    // An event from before the link (the initial copy creates it) and one after (the binlog brings it).
    await sql(master, "CREATE DATABASE planned_db; CREATE TABLE planned_db.ticks (id INT AUTO_INCREMENT PRIMARY KEY); CREATE EVENT planned_db.before_link ON SCHEDULE EVERY 1 HOUR DO INSERT INTO planned_db.ticks VALUES ()");
    await freshLink("planned", "planned_db");
    // And one the master keeps disabled: a replica holds it as it holds the others.
    await sql(master, "CREATE EVENT planned_db.after_link ON SCHEDULE EVERY 1 HOUR DO INSERT INTO planned_db.ticks VALUES (); CREATE EVENT planned_db.kept_off ON SCHEDULE EVERY 1 HOUR DISABLE DO DELETE FROM planned_db.ticks");
    await waitFor("the events on the DR server, disabled on the replica side", async () => {
      const events = await sql(replica, "SELECT EVENT_NAME AS e, STATUS AS s FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'planned_db' ORDER BY 1");
      return JSON.stringify(events) === JSON.stringify([{ e: "after_link", s: "SLAVESIDE_DISABLED" }, { e: "before_link", s: "SLAVESIDE_DISABLED" }, { e: "kept_off", s: "SLAVESIDE_DISABLED" }]) || undefined;
    }, 30_000);
    await sql(master, "INSERT INTO planned_db.t VALUES (3), (4), (5)");
    // A trigger on the master: its effects arrive as rows, so the DR server only keeps it until promotion.
    await sql(master, "CREATE TABLE planned_db.audit (id INT PRIMARY KEY); CREATE TRIGGER planned_db.audit_t AFTER INSERT ON planned_db.t FOR EACH ROW INSERT INTO planned_db.audit VALUES (NEW.id); INSERT INTO planned_db.t VALUES (50)");
    // A rolled-back insert uses up id 4 on the master; no row event tells the DR server.
    await sql(master, "CREATE TABLE planned_db.seq (id INT AUTO_INCREMENT PRIMARY KEY, v INT); INSERT INTO planned_db.seq (v) VALUES (1), (2), (3); BEGIN; INSERT INTO planned_db.seq (v) VALUES (9); ROLLBACK");
    const r = runCli(["promote", "--source", master.url, "--target", replica.url, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as PromotionResult;
    assert.equal(result.mode, "planned");
    assert.deepEqual(result.fencedLinks, ["planned"]);
    assert.equal(result.unappliedGtid, null);
    assert.deepEqual(await tableContents(replica, "planned_db", "t"), await tableContents(master, "planned_db", "t"), "zero loss");
    assert.deepEqual(result.autoIncrementsRaised, [{ table: "planned_db.seq", from: 4, to: 5 }]);
    assert.deepEqual(await tableContents(replica, "planned_db", "audit"), ['{"id":50}'], "the trigger's effect arrived once, as a row");
    assert.deepEqual(result.triggersCreated, ["planned_db.audit_t"]);
    assert.deepEqual(result.eventsEnabled, ["planned_db.after_link", "planned_db.before_link"]);
    assert.deepEqual(await sql(replica, "SELECT EVENT_NAME AS e, STATUS AS s FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'planned_db' ORDER BY 1"), [{ e: "after_link", s: "ENABLED" }, { e: "before_link", s: "ENABLED" }, { e: "kept_off", s: "DISABLED" }], "each event as the master has it");
    await sql(replica, "INSERT INTO planned_db.t VALUES (51)");
    assert.deepEqual(await tableContents(replica, "planned_db", "audit"), ['{"id":50}', '{"id":51}'], "on the promoted server the trigger fires");
    await sql(replica, "INSERT INTO planned_db.seq (v) VALUES (4)");
    assert.deepEqual((await sql(replica, "SELECT MAX(id) AS id FROM planned_db.seq"))[0].id, 5, "the promoted server goes on after the master's last id, not into the one it used up");
    assert.equal(await readOnly(master), true);
    assert.equal(await readOnly(replica), false);
    await waitFor("the link to stop as promoted", async () => (await client.getLink("planned")).state === "promoted");

    const promotedRows = await tableContents(replica, "planned_db", "t");
    await sql(master, "SET GLOBAL read_only = OFF; INSERT INTO planned_db.t VALUES (6)");
    await sleep(1500);
    assert.deepEqual(await tableContents(replica, "planned_db", "t"), promotedRows, "a fenced link never writes to the promoted server");
    await client.deleteLink("planned");
  });

  it("refuses a link to a promoted DR server, so an initial copy never overwrites rows written on the new primary, unless told to reuse it", async () => {
    // The planned test promoted the DR server; the application now writes there.
    await sql(replica, "INSERT INTO planned_db.t VALUES (100)");
    const before = await tableContents(replica, "planned_db", "t");
    const location = ["--daemon", daemon.url, "--state-dir", daemon.stateDir];
    const create = (...extra: string[]) => runCli(["link", "create", "again", "--source", master.url, "--target", replica.url, "--include", "planned_db", "--initial", "full", "--overwrite", ...extra, ...location]);
    const refused = create();
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /^mysql-dr: The DR server at [\d.:]+ was promoted \(link planned fenced at \d{4}-\d\d-\d\dT[\d:.]+Z\) and may hold writes made on it as a primary.*--reuse-promoted/);
    assert.deepEqual(await tableContents(replica, "planned_db", "t"), before, "nothing on the promoted server was touched");
    assert.ok(!(await client.listLinks()).some((l) => l.name === "again"), "no link was created");

    const reused = create("--reuse-promoted", "--json");
    assert.equal(reused.code, 0, reused.stderr);
    await waitFor("the reused server's link in sync", async () => (await client.getLink("again")).phase === "syncing");
    assert.deepEqual(await tableContents(replica, "planned_db", "t"), await tableContents(master, "planned_db", "t"), "asked explicitly, the copy overwrote the DR table");
    await client.deleteLink("again");
  });

  it("refuses without the master unless forced; forced, it fences the link and reports what is known to be unapplied", async () => {
    await sql(replica, "SET GLOBAL read_only = OFF");
    await freshLink("forced", "forced_db", true);
    await client.pauseLink("forced");
    await sql(master, "INSERT INTO forced_db.t VALUES (3)");
    const [pos] = await sql(master, master.flavor === "mysql" ? "SELECT @@GLOBAL.gtid_executed AS p" : "SELECT @@GLOBAL.gtid_binlog_pos AS p");
    // What the daemon had last seen of the master before it went away.
    await sql(replica, "UPDATE mysql_dr.checkpoint SET source_seen_gtid = ? WHERE link = 'forced'", [pos.p]);
    const gone = "mysql://root@127.0.0.1:1";

    const refused = runCli(["promote", "--source", gone, "--target", replica.url]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^mysql-dr: Cannot connect to the source server at 127\.0\.0\.1:1 \(connection refused\); .*the promotion was refused .*--force/);
    assert.equal(await readOnly(replica), true, "a refused promotion changes nothing");

    const forced = runCli(["promote", "--source", gone, "--target", replica.url, "--force", "--json"]);
    assert.equal(forced.code, 0, forced.stderr);
    const result = JSON.parse(forced.stdout) as PromotionResult;
    assert.equal(result.mode, "forced");
    // Every unfenced checkpoint on the DR server is fenced, including those of links deleted from the daemon.
    assert.ok(result.fencedLinks.includes("forced"), result.fencedLinks.join());
    assert.equal(result.unappliedGtid, String(pos.p).replace(/\s+/g, ""));
    assert.equal(result.dataLoss?.atLeastTransactions, 1, "the daemon had seen one transaction the DR copy had not applied");
    assert.match(result.dataLoss?.summary ?? "", /^at least 1 transaction \(the master had reached .*\); unknown since \d{4}-\d\d-\d\dT[\d:.]+Z/);
    assert.equal(await readOnly(replica), false);
    const [fenced] = await sql(replica, "SELECT fenced FROM mysql_dr.checkpoint WHERE link = 'forced'");
    assert.equal(Number(fenced.fenced), 1);
    await client.resumeLink("forced");
    await waitFor("the resumed link to refuse to write", async () => (await client.getLink("forced")).state === "promoted");
    assert.equal((await tableContents(replica, "forced_db", "t")).length, 2);
    await client.deleteLink("forced");
  });

  it("forced while the daemon was down: reports at least what it had seen and since when nothing is known, never nothing", async () => {
    await sql(replica, "SET GLOBAL read_only = OFF");
    await freshLink("blind", "blind_db", true);
    await sql(master, "INSERT INTO blind_db.t VALUES (3)");
    await waitFor("the row applied", async () => (await tableContents(replica, "blind_db", "t")).length === 3);
    const downSince = Date.now();
    await daemon.kill("SIGKILL");
    // The master goes on without a daemon watching: these are lost, and nobody but the master knows.
    await sql(master, "INSERT INTO blind_db.t VALUES (4); INSERT INTO blind_db.t VALUES (5)");
    try {
      const forced = runCli(["promote", "--source", "mysql://root@127.0.0.1:1", "--target", replica.url, "--force", "--json"]);
      assert.equal(forced.code, 0, forced.stderr);
      const result = JSON.parse(forced.stdout) as PromotionResult;
      assert.equal(result.mode, "forced");
      assert.ok(result.dataLoss, "a forced promotion always reports the loss");
      assert.equal(result.dataLoss.atLeastTransactions, 0, "the daemon saw nothing it had not applied");
      assert.ok(Date.parse(result.dataLoss.unknownSince ?? "") <= downSince, `unknown since ${result.dataLoss.unknownSince}, before the daemon went down`);
      assert.match(result.dataLoss.summary, /^at least 0 transactions; unknown since /);
    } finally {
      daemon = await DaemonProcess.start(daemon.stateDir);
      client = daemon.client();
    }
    await client.deleteLink("blind");
  });
});
