/**
 * checkSource / checkTarget on plain ServerFacts: every refusal is a PRECONDITION with one
 * sentence saying what to change. Pure: the real-server side is in provider/test/daemon/prechecks.
 */
import * as assert from "node:assert/strict";
import type { ServerAddress } from "../../src/core/connection-url";
import { DrError } from "../../src/core/errors";
import { type ServerFacts, checkSource, checkTarget } from "../../src/core/server-inspector";

const SOURCE: ServerAddress = { host: "master.example", port: 3306, user: "repl", password: "pw" };
const TARGET: ServerAddress = { host: "dr.example", port: 3307, user: "repl", password: "pw" };

function mysqlFacts(over: Partial<ServerFacts> = {}): ServerFacts {
  return {
    flavor: "mysql",
    version: "8.0.40",
    serverId: 1,
    identity: "3e11fa47-71ca-11e1-9e33-c80aa9429562",
    logBin: true,
    binlogFormat: "ROW",
    binlogRowImage: "FULL",
    binlogRowMetadata: "FULL",
    gtidMode: "ON",
    readOnly: false,
    maxAllowedPacket: 64 * 1024 * 1024,
    ...over,
  };
}

function mariadbFacts(over: Partial<ServerFacts> = {}): ServerFacts {
  return mysqlFacts({ flavor: "mariadb", version: "10.11.6-MariaDB-log", identity: "db1:/var/lib/mysql/:1", ...over });
}

function refused(run: () => void): DrError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof DrError, `expected a DrError, got ${String(err)}`);
    assert.equal(err.code, "PRECONDITION");
    assert.equal(err.message.split("\n").length, 1, "one line");
    assert.match(err.message, /^[A-Z].*\.$/, "a sentence: capital first, full stop last");
    assert.ok(!err.message.includes("pw"), "no password");
    return err;
  }
  assert.fail("the server was accepted");
}

describe("server-inspector", () => {
  describe("checkSource", () => {
    it("accepts a MySQL 8.0 master with GTIDs, ROW, FULL images and FULL metadata", () => {
      assert.doesNotThrow(() => checkSource(mysqlFacts(), SOURCE));
    });

    it("accepts a MariaDB 10.11 master", () => {
      assert.doesNotThrow(() => checkSource(mariadbFacts(), SOURCE));
    });

    it("accepts a server without a binlog_row_metadata setting (MySQL 5.7)", () => {
      assert.doesNotThrow(() => checkSource(mysqlFacts({ version: "5.7.44-log", binlogRowMetadata: null }), SOURCE));
    });

    it("refuses gtid_mode OFF and says to set gtid_mode=ON", () => {
      const err = refused(() => checkSource(mysqlFacts({ gtidMode: "OFF" }), SOURCE));
      assert.match(err.message, /GTIDs are off on the source server at master\.example:3306 \(gtid_mode=OFF\); set gtid_mode=ON/);
    });

    it("refuses the transitional gtid_mode ON_PERMISSIVE", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ gtidMode: "ON_PERMISSIVE" }), SOURCE)).message, /gtid_mode=ON_PERMISSIVE/);
    });

    it("refuses a master with binary logging off and says how to turn it on", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ logBin: false }), SOURCE)).message, /Binary logging is off on the source server at master\.example:3306; .*log_bin/);
    });

    it("refuses MySQL older than 5.6", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ version: "5.5.62-log" }), SOURCE)).message, /runs 5\.5\.62-log; MySQL 5\.6\+ or MariaDB 10\.0\+ is required/);
    });

    it("refuses MariaDB older than 10.0", () => {
      assert.match(refused(() => checkSource(mariadbFacts({ version: "5.5.68-MariaDB" }), SOURCE)).message, /runs 5\.5\.68-MariaDB;/);
    });

    it("accepts the oldest supported versions, MySQL 5.6.0 and MariaDB 10.0.0", () => {
      assert.doesNotThrow(() => checkSource(mysqlFacts({ version: "5.6.0", binlogRowMetadata: null }), SOURCE));
      assert.doesNotThrow(() => checkSource(mariadbFacts({ version: "10.0.0-MariaDB", binlogRowMetadata: null }), SOURCE));
    });

    it("refuses binlog_format=MIXED and says to set ROW", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ binlogFormat: "MIXED" }), SOURCE)).message, /binlog_format=MIXED; set binlog_format=ROW/);
    });

    it("refuses binlog_format=STATEMENT", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ binlogFormat: "STATEMENT" }), SOURCE)).message, /binlog_format=STATEMENT/);
    });

    it("refuses binlog_row_image=MINIMAL and says to set FULL", () => {
      assert.match(refused(() => checkSource(mysqlFacts({ binlogRowImage: "MINIMAL" }), SOURCE)).message, /binlog_row_image=MINIMAL; set binlog_row_image=FULL/);
    });

    it("refuses binlog_row_metadata=MINIMAL and says to set FULL", () => {
      assert.match(refused(() => checkSource(mariadbFacts({ binlogRowMetadata: "MINIMAL" }), SOURCE)).message, /binlog_row_metadata=MINIMAL; set binlog_row_metadata=FULL/);
    });
  });

  describe("checkTarget", () => {
    it("accepts a distinct DR server with its binlog on", () => {
      assert.doesNotThrow(() => checkTarget(mysqlFacts({ identity: "other-uuid", serverId: 2 }), mysqlFacts(), TARGET));
    });

    it("refuses a target with the master's identity, whatever address reached it", () => {
      const err = refused(() => checkTarget(mysqlFacts(), mysqlFacts(), TARGET));
      assert.match(err.message, /The target URL points at the source server itself \(dr\.example:3307\)/);
    });

    it("refuses a target with binary logging off, saying a reverse link needs it", () => {
      const err = refused(() => checkTarget(mysqlFacts({ identity: "other", logBin: false }), mysqlFacts(), TARGET));
      assert.match(err.message, /Binary logging is off on the target server at dr\.example:3307; turn on log_bin/);
    });

    it("refuses a target whose max_allowed_packet is below what the applier's round trips need", () => {
      const err = refused(() => checkTarget(mysqlFacts({ identity: "other", maxAllowedPacket: 1048576 }), mysqlFacts({ maxAllowedPacket: 1048576 }), TARGET));
      assert.match(err.message, /has max_allowed_packet=1048576, below the 4194304 bytes the applier's round trips need/);
    });

    it("refuses a target whose max_allowed_packet is smaller than the source's: a value might not fit", () => {
      const err = refused(() => checkTarget(mysqlFacts({ identity: "other", maxAllowedPacket: 16777216 }), mysqlFacts(), TARGET));
      assert.match(err.message, /has max_allowed_packet=16777216, smaller than the source's 67108864: .* raise it to at least 67108864/);
    });
  });
});
