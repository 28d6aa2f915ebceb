/**
 * Account statements as the servers log them (seen with mariadb-binlog on 10.11; MySQL's forms
 * from its documentation): the accounts each changes, and CURRENT_USER / a MariaDB role's admin
 * resolved to the master's invoker. Pure: no server.
 */
import * as assert from "node:assert/strict";
import { parseAccountStatement, resolveInvoker } from "../../src/stream/account-statements";

const accounts = (sql: string) => parseAccountStatement(sql)?.accounts;

describe("account statements", () => {
  it("reads the accounts of CREATE/ALTER/DROP USER, with per-account authentication and the clauses after the list", () => {
    assert.deepEqual(accounts("CREATE USER 'app'@'%' IDENTIFIED BY 'S3cret!, TO x'"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("CREATE USER a1, a2@localhost IDENTIFIED BY 'p'"), [{ user: "a1" }, { user: "a2", host: "localhost" }]);
    assert.deepEqual(accounts("CREATE USER IF NOT EXISTS `we``ird`@`10.0.%` IDENTIFIED VIA ed25519 USING PASSWORD('x') OR unix_socket, \"b\"@'h' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 5 PASSWORD EXPIRE NEVER"), [{ user: "we`ird", host: "10.0.%" }, { user: "b", host: "h" }]);
    assert.deepEqual(accounts("ALTER USER 'app'@'%' IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("ALTER USER 'u'@'%' IDENTIFIED WITH 'caching_sha2_password' AS 0x2441243030352454 DEFAULT ROLE r1, r2"), [{ user: "u", host: "%" }]);
    assert.deepEqual(accounts("DROP USER IF EXISTS 'a'@'%', b"), [{ user: "a", host: "%" }, { user: "b" }]);
    assert.equal(parseAccountStatement("DROP USER IF EXISTS a")?.idempotent, true);
    assert.equal(parseAccountStatement("CREATE USER a")?.idempotent, false);
    assert.equal(parseAccountStatement("CREATE OR REPLACE USER a")?.idempotent, true);
  });

  it("reads RENAME USER's old and new names, and GRANT/REVOKE's grantees after TO/FROM (not column lists or PROXY ON)", () => {
    assert.deepEqual(accounts("RENAME USER 'app'@'%' TO 'app2'@'%', x TO y"), [{ user: "app", host: "%" }, { user: "app2", host: "%" }, { user: "x" }, { user: "y" }]);
    assert.deepEqual(accounts("GRANT SELECT (`to`, b), INSERT ON `shop`.* TO 'app'@'%', r1 WITH GRANT OPTION"), [{ user: "app", host: "%" }, { user: "r1" }]);
    assert.deepEqual(accounts("GRANT PROXY ON 'base'@'%' TO 'app'@'%'"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("GRANT r1, r2 TO 'app'@'%' WITH ADMIN OPTION"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'app'@'%'"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("GRANT USAGE ON *.* TO `app2`@`%` IDENTIFIED BY PASSWORD '*B69027D44F6E5EDC07F1AEAD1477967B16F28227'"), [{ user: "app2", host: "%" }]);
  });

  it("reads roles, SET PASSWORD FOR and SET DEFAULT ROLE (MariaDB writes FOR; MySQL writes TO)", () => {
    assert.deepEqual(parseAccountStatement("CREATE ROLE r1"), { verb: "create-role", accounts: [{ user: "r1" }], namesInvoker: false, implicitAdmin: true, idempotent: false });
    assert.equal(parseAccountStatement("CREATE ROLE r2 WITH ADMIN 'app2'@'%'")?.implicitAdmin, false);
    assert.deepEqual(accounts("DROP ROLE IF EXISTS r1, r2"), [{ user: "r1" }, { user: "r2" }]);
    assert.deepEqual(accounts("SET PASSWORD FOR 'app'@'%'='*B69027D44F6E5EDC07F1AEAD1477967B16F28227'"), [{ user: "app", host: "%" }]);
    assert.deepEqual(accounts("SET DEFAULT ROLE 'NONE' FOR 'app2'@'%'"), [{ user: "app2", host: "%" }]);
    assert.deepEqual(accounts("SET DEFAULT ROLE r1, r2 TO 'a'@'%', b"), [{ user: "a", host: "%" }, { user: "b" }]);
    assert.equal(parseAccountStatement("SET SESSION sql_mode = ''"), undefined);
    assert.equal(parseAccountStatement("CREATE TABLE user (id INT)"), undefined);
  });

  it("marks statements that name the invoker, and resolves them to the account the master logged", () => {
    const grant = parseAccountStatement("GRANT INSERT ON *.* TO CURRENT_USER")!;
    assert.deepEqual([grant.accounts, grant.namesInvoker], [[], true]);
    assert.equal(resolveInvoker("GRANT INSERT ON *.* TO CURRENT_USER", { user: "root", host: "127.0.0.1" }, grant), "GRANT INSERT ON *.* TO `root`@`127.0.0.1`");
    const alter = parseAccountStatement("ALTER USER CURRENT_USER() IDENTIFIED BY 'current_user'")!;
    assert.equal(alter.namesInvoker, true);
    assert.equal(resolveInvoker("ALTER USER CURRENT_USER() IDENTIFIED BY 'current_user'", { user: "adm", host: "%" }, alter), "ALTER USER `adm`@`%` IDENTIFIED BY 'current_user'", "words inside strings stay");
    assert.equal(parseAccountStatement("SET PASSWORD = PASSWORD('x')")?.namesInvoker, true);
    const role = parseAccountStatement("CREATE ROLE r1")!;
    assert.equal(resolveInvoker("CREATE ROLE r1", { user: "root", host: "localhost" }, role), "CREATE ROLE r1 WITH ADMIN `root`@`localhost`");
  });
});
