/**
 * Literals in wire text (one char per byte): escaping, the form of each value kind, large values
 * assembled in session variables. Pure: the servers' side runs in test/conformance (charsets,
 * enum_set, large_blob).
 */
import * as assert from "node:assert/strict";
import { PLAIN, SPILL_BYTES, ValueWriter, bytesLiteral, literal, needsRelaxedMode, wire, wireId } from "../../src/sql/literals";
import { insertStatements } from "../../src/sql/statements";

describe("literals", () => {
  it("escapes exactly the bytes the server's lexer treats specially, once, and keeps every other byte", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const text = bytesLiteral(all, "binary");
    assert.ok(text.startsWith("_binary'") && text.endsWith("'"));
    const body = text.slice("_binary'".length, -1);
    const unescaped = body.replace(/\\(.)/gs, (_, c: string) => ({ "0": "\0", n: "\n", r: "\r", Z: "\x1a" } as Record<string, string>)[c] ?? c);
    assert.deepEqual(Buffer.from(unescaped, "latin1"), all);
    assert.equal(body.length, 256 + 6, "NUL, newline, carriage return, ^Z, quote and backslash each gain one backslash");
  });

  it("writes text with its column's character set as introducer and its bytes as they are", () => {
    assert.equal(literal(Buffer.from([0x81, 0x27]), { kind: "text", charset: "latin1" }), "_latin1'\x81\\''");
    assert.equal(literal("é", PLAIN), "_utf8mb4'\xc3\xa9'");
    assert.equal(literal("2020-01-01 00:00:00.5", PLAIN), "'2020-01-01 00:00:00.5'");
  });

  it("writes ENUM and SET as numbers (ENUM's empty value as 0), JSON through CAST, NULL as NULL", () => {
    assert.equal(literal(0, { kind: "enum" }), "0");
    assert.equal(literal("18446744073709551615", { kind: "set" }), "'18446744073709551615'");
    assert.equal(literal('{"a":"ü"}', { kind: "json" }), "CAST(_utf8mb4'{\"a\":\"\xc3\xbc\"}' AS JSON)");
    assert.equal(literal(null, PLAIN), "NULL");
    assert.equal(needsRelaxedMode([1, 0], [PLAIN, { kind: "enum" }]), true);
    assert.equal(needsRelaxedMode([0, 1], [PLAIN, { kind: "enum" }]), false);
  });

  it("puts identifiers in wire form with backticks doubled", () => {
    assert.equal(wireId("tä`b"), "`t\xc3\xa4``b`");
    assert.equal(wire("plain"), "plain");
  });

  it("assembles a value larger than SPILL_BYTES in a session variable, chunk by chunk, so no statement grows past that", () => {
    const w = new ValueWriter();
    const big = Buffer.alloc(SPILL_BYTES * 2 + 10, 0x61);
    assert.equal(w.literal(big, { kind: "binary" }), "@mysql_dr_v0");
    assert.equal(w.literal(Buffer.from("small"), { kind: "binary" }), "_binary'small'");
    const preamble = w.takePreamble();
    assert.equal(preamble.length, 4);
    assert.match(preamble[0], /^SET @mysql_dr_v0 = _binary'a+'$/);
    assert.match(preamble[2], /^SET @mysql_dr_v0 = CONCAT\(@mysql_dr_v0, _binary'aaaaaaaaaa'\)$/);
    assert.match(preamble[3], new RegExp(`^SET SESSION sql_mode = IF\\(LENGTH\\(@mysql_dr_v0\\) <=> ${big.length}, @@session.sql_mode, 'mysql-dr: a value of ${big.length} bytes does not fit`), "a value cut short by max_allowed_packet is an error, not a NULL");
    assert.ok(preamble.every((s) => s.length < SPILL_BYTES + 100));
    assert.equal(w.literal(big, { kind: "json" }), "CAST(@mysql_dr_v1 AS JSON)");
    w.reset();
    assert.equal(w.literal(big, { kind: "binary" }), "@mysql_dr_v0");
  });

  it("splits rows into bounded INSERTs, a row with ENUM's empty value alone under the relaxed sql_mode", () => {
    const statements = [...insertStatements("INSERT INTO t (a, e) VALUES ", [PLAIN, { kind: "enum" }], [[1, 1], [2, 0], [3, 2]])];
    assert.equal(statements.length, 2);
    assert.match(statements[0], /^SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION'; INSERT INTO t \(a, e\) VALUES \(2, 0\) \/\* mysql-dr \*\/; SET SESSION sql_mode = 'STRICT_ALL_TABLES,/);
    assert.equal(statements[1], "INSERT INTO t (a, e) VALUES (1, 1), (3, 2) /* mysql-dr */");
  });
});
