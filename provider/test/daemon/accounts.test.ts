/**
 * Accounts follow the master on a whole-instance link, against real servers: users, roles and
 * grants are copied when the link is created and replayed from the binlog (CREATE/ALTER/RENAME/
 * DROP USER, CREATE ROLE, GRANT, REVOKE, SET PASSWORD, SET DEFAULT ROLE), so after a promotion the
 * application's user logs in to the DR server with its password and writes; the DR login's own
 * user is left alone, and a statement that changes it together with another account stops the
 * link at its GTID.
 */
import * as assert from "node:assert/strict";
import * as mysql from "mysql2/promise";
import { DaemonClient } from "../../src/cli/daemon-client";
import { DaemonProcess, runCli, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

/** Odd characters on purpose: they go through CREATE USER, the binlog and SHOW CREATE USER. */
const APP_PASSWORD = "App'Pa55 \\ \"x\"";
const NEW_APP_PASSWORD = "n3w;Pa55@%";
/** The DR login is root on the test servers; root is left alone. */
const LEFT_ALONE = ["root", "mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema"];

/** Every account but those left alone, with its definition and grants, as the server shows them. */
async function accountsOf(server: TestServer): Promise<Record<string, string[]>> {
  const roleColumn = server.flavor === "mariadb" ? "is_role" : "'N'";
  const rows = await sql(server, `SELECT User AS user, Host AS host, ${roleColumn} AS isRole FROM mysql.user ORDER BY User, Host`);
  const out: Record<string, string[]> = {};
  for (const r of rows as { user: string; host: string; isRole: string }[]) {
    if (LEFT_ALONE.includes(r.user)) continue;
    const name = r.isRole === "Y" ? `\`${r.user}\`` : `\`${r.user}\`@\`${r.host}\``;
    const create = r.isRole === "Y" ? [] : (await sql(server, `SHOW CREATE USER ${name}`)).map((x) => String(Object.values(x)[0]));
    const grants = (await sql(server, `SHOW GRANTS FOR ${name}`)).map((x) => String(Object.values(x)[0])).sort();
    out[name] = [...create, ...grants];
  }
  return out;
}

async function logIn(server: TestServer, user: string, password: string): Promise<mysql.Connection> {
  return mysql.createConnection({ host: server.host, port: server.port, user, password, multipleStatements: true });
}

describeEachBackend("accounts follow the master on a whole-instance link", (getPair) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let replica: TestServer;

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("accounts"));
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
  });

  it("copies users, roles and grants, replays their changes, and the application's user logs in and writes after promotion", async function () {
    this.timeout(180_000);
    await sql(master, "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(20))");
    await sql(master, "CREATE USER 'app'@'%' IDENTIFIED BY ?; GRANT SELECT ON shop.* TO 'app'@'%'; CREATE USER 'gone'@'localhost'; CREATE ROLE writer; GRANT INSERT, UPDATE ON shop.* TO writer", [APP_PASSWORD]);
    await sql(master, "GRANT writer TO 'app'@'%'; SET DEFAULT ROLE writer FOR 'app'@'%'");
    // The DR server has an account of the same name that the copy replaces, and none of the others.
    await sql(replica, "CREATE USER 'app'@'%' IDENTIFIED BY 'stale'");

    await client.createLink({ name: "whole", source: master.url, target: replica.url, initial: "full" });
    await waitFor("the whole instance in sync", async () => {
      const s = await client.getLink("whole");
      return s.state === "running" && s.phase === "syncing";
    }, 120_000);
    const status = await client.getLink("whole");
    assert.match(status.accounts, /^follow the master .* except user 'root', the daemon's login on the DR server/);
    assert.deepEqual(await accountsOf(replica), await accountsOf(master), "the initial copy");
    (await logIn(replica, "app", APP_PASSWORD)).destroy();

    // Changes through the binlog, each a kind of account statement.
    await sql(master, `CREATE USER 'ops'@'localhost' IDENTIFIED BY 'ops-pw'; GRANT SELECT ON shop.orders TO 'ops'@'localhost';
      RENAME USER 'ops'@'localhost' TO 'ops2'@'localhost'; REVOKE SELECT ON shop.orders FROM 'ops2'@'localhost';
      DROP USER 'gone'@'localhost'; CREATE ROLE auditor; GRANT SELECT ON shop.* TO auditor; GRANT auditor TO 'ops2'@'localhost';
      ALTER USER 'app'@'%' IDENTIFIED BY ?; SET PASSWORD FOR 'ops2'@'localhost' = PASSWORD('ops2-pw')`, [NEW_APP_PASSWORD]);
    // Root is the DR login: its changes on the master stay there.
    await sql(master, "GRANT SELECT ON shop.* TO CURRENT_USER; ALTER USER 'root'@'localhost' WITH MAX_USER_CONNECTIONS 77");
    await waitCaughtUp(client, "whole", master);
    assert.deepEqual(await accountsOf(replica), await accountsOf(master), "after the binlog's account statements");
    const rootOnDr = (await sql(replica, "SHOW CREATE USER 'root'@'localhost'")).map((x) => String(Object.values(x)[0])).join();
    assert.doesNotMatch(rootOnDr, /MAX_USER_CONNECTIONS 77/, "the DR login's user was left alone");
    assert.ok((await client.getLink("whole")).accountStatementsSkipped >= 2, "the statements on root were counted");
    await assert.rejects(logIn(replica, "app", APP_PASSWORD), /Access denied/, "the old password no longer works on the DR server");

    const promoted = runCli(["promote", "--source", master.url, "--target", replica.url, "--json"]);
    assert.equal(promoted.code, 0, promoted.stderr);
    const app = await logIn(replica, "app", NEW_APP_PASSWORD);
    try {
      // INSERT comes from the role writer, granted and made default on the master.
      await app.query("INSERT INTO shop.orders VALUES (1, 'after promotion')");
    } finally {
      app.destroy();
    }
    assert.deepEqual(await tableContents(replica, "shop", "orders"), ['{"id":1,"note":"after promotion"}']);
    await client.deleteLink("whole");
  });

  it("stops at a statement that changes the DR login's user together with another account, naming the GTID and both", async function () {
    this.timeout(120_000);
    await sql(master, "SET GLOBAL read_only = OFF");
    await sql(replica, "CREATE DATABASE IF NOT EXISTS mixed");
    await client.createLink({ name: "mixed", source: master.url, target: replica.url, initial: "none", reusePromoted: true });
    await sql(master, "CREATE USER 'pair'@'%'");
    await sql(master, "GRANT SELECT ON shop.* TO 'root'@'localhost', 'pair'@'%'");
    const stopped = await waitFor("the link to stop", async () => {
      const s = await client.getLink("mixed");
      return s.state === "error" ? s : undefined;
    }, 60_000);
    assert.match(String(stopped.lastError), /The account statement at GTID \S+ \(GRANT SELECT ON shop\.\* TO \?@\?, \?@\?\) changes `root`@`localhost`, which the link leaves alone .* together with `pair`@`%`/);
    assert.equal(Number((await sql(replica, "SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'pair'"))[0].n), 1, "what came before the stop was applied");
    await client.deleteLink("mixed");
  });

  it("refuses a whole-instance link whose DR login cannot grant, before writing anything", async () => {
    await sql(replica, "CREATE USER 'limited'@'%' IDENTIFIED BY 'lim-pw'; GRANT ALL PRIVILEGES ON *.* TO 'limited'@'%'");
    const target = `mysql://limited:lim-pw@${replica.host}:${replica.port}`;
    await assert.rejects(client.createLink({ name: "limited", source: master.url, target, initial: "full", reusePromoted: true }), (err: Error) => {
      assert.match(err.message, /needs the DR login on the target server at \S+ to hold ALL PRIVILEGES ON \*\.\* WITH GRANT OPTION; grant that, or give the link an include list/);
      assert.doesNotMatch(err.message, /lim-pw/);
      return true;
    });
    assert.equal((await client.listLinks()).some((l) => l.name === "limited"), false);
  });
});
