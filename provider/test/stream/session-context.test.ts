/**
 * The session context of a Query event, from status variables laid out as the servers write
 * them, and TIME values from their stored bytes. Pure: the servers' side runs in
 * test/conformance (ddl_ansi_quotes, ddl_time_zone, ddl_latin1_client, ddl_default_now, temporal).
 */
import * as assert from "node:assert/strict";
import { classicTime, time2 } from "../../src/stream/binlog-reader";
import { contextStatements, parseStatusVars } from "../../src/stream/session-context";

/** Status variables as MariaDB 10.11 writes them for a DDL (codes in increasing order). */
function mariadbStatusVars(): Buffer {
  const parts: Buffer[] = [];
  const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const u64 = (n: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(n); return b; };
  parts.push(Buffer.from([0]), u32((1 << 26) | (1 << 14))); // Q_FLAGS2: foreign_key_checks=0, sql_auto_is_null=1
  parts.push(Buffer.from([1]), u64(1411383300n)); // Q_SQL_MODE
  parts.push(Buffer.from([6, 3]), Buffer.from("std")); // Q_CATALOG_NZ
  parts.push(Buffer.from([3]), u16(2), u16(1)); // Q_AUTO_INCREMENT
  parts.push(Buffer.from([4]), u16(8), u16(8), u16(45)); // Q_CHARSET: latin1 client and connection, utf8mb4 server
  parts.push(Buffer.from([5, 6]), Buffer.from("+05:00")); // Q_TIME_ZONE
  parts.push(Buffer.from([8]), u16(224)); // Q_CHARSET_DATABASE
  parts.push(Buffer.from([128]), Buffer.from([0x40, 0xe2, 0x01])); // Q_HRNOW: 123456 µs
  parts.push(Buffer.from([129]), u64(7n)); // Q_XID
  return Buffer.concat(parts);
}

describe("session context", () => {
  it("reads sql_mode, flags, character sets, time zone, database collation and microseconds", () => {
    const ctx = parseStatusVars(mariadbStatusVars(), 1700000000);
    assert.deepEqual(ctx, {
      timestamp: { seconds: 1700000000, micros: 123456 },
      sqlMode: "1411383300",
      foreignKeyChecks: false,
      uniqueChecks: true,
      autoIsNull: true,
      autoIncrement: { increment: 2, offset: 1 },
      charset: { client: 8, connection: 8, server: 45 },
      timeZone: "+05:00",
      collationDatabase: 224,
    });
    const [set] = contextStatements(ctx, "mariadb", (id) => ({ 8: "latin1", 45: "utf8mb4", 224: "utf8mb4" })[id]);
    assert.match(set, /@@session\.sql_mode = 1411383300/);
    // character_set_client by name: MariaDB takes only a default collation's id there (224 is refused).
    assert.match(set, /@@session\.character_set_client = latin1, @@session\.collation_connection = 8, @@session\.collation_server = 45/);
    assert.match(set, /@@session\.time_zone = '\+05:00'/);
    assert.match(set, /@@session\.timestamp = 1700000000\.123456/);
    assert.match(set, /@@session\.foreign_key_checks = 0/);
  });

  it("stops at a code it does not know (it has no length), keeping what came before", () => {
    const vars = Buffer.concat([Buffer.from([1]), Buffer.alloc(8, 0), Buffer.from([200, 1, 2, 3])]);
    assert.equal(parseStatusVars(vars, 1).sqlMode, "0");
  });

  it("decodes TIME2 values, negative ones with fractions included, and classic TIME", () => {
    assert.equal(time2(Buffer.from([0x7f, 0xff, 0xff]), 0), "-00:00:01");
    assert.equal(time2(Buffer.from([0x7f, 0x38, 0x80]), 0), "-12:30:00");
    assert.equal(time2(Buffer.from([0x7f, 0xff, 0xff, 0xce]), 1), "-00:00:00.500000");
    assert.equal(time2(Buffer.from([0x80, 0x00, 0x00, 0x00, 0x00, 0x01]), 6), "00:00:00.000001");
    assert.equal(classicTime(Buffer.from([0x88, 0x1f, 0xfe])), "-12:30:00");
  });
});
