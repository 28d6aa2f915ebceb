/**
 * Edge values of every column type the product must carry exactly, shared by the replication and
 * the copy tests: `all_types` (every type, binary and generated ones included) and `text_types`
 * (character sets, an unsigned BIGINT key at its maximum, zero dates).
 */
import type { TestServer } from "./servers";
import { sql } from "./daemon-process";

export function typeMatrixDdl(flavor: string, db: string): string {
  const json = flavor === "mysql" ? "JSON" : "LONGTEXT";
  return `SET SESSION sql_mode = ''; CREATE DATABASE ${db};
    CREATE TABLE ${db}.all_types (
      id INT PRIMARY KEY,
      ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
      i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
      d DECIMAL(65,30), f FLOAT, dbl DOUBLE, b64 BIT(64), b1 BIT(1), y YEAR,
      dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
      c CHAR(10), vc VARCHAR(255), tx TEXT, lt LONGTEXT,
      bin BINARY(16), vb VARBINARY(300), bl BLOB, lb LONGBLOB,
      e ENUM('a','b','c,d'), s SET('x','y','z'),
      j ${json},
      gv BIGINT AS (i + 1) VIRTUAL, gs VARCHAR(300) AS (CONCAT(vc, '!')) STORED
    ) CHARSET utf8mb4;
    CREATE TABLE ${db}.text_types (
      id BIGINT UNSIGNED PRIMARY KEY, n INT, d DECIMAL(65,30), y YEAR, dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
      c CHAR(10), vc VARCHAR(255), tx TEXT, latin VARCHAR(20) CHARACTER SET latin1, e ENUM('a','b','c,d'), s SET('x','y','z'), j ${json}
    ) CHARSET utf8mb4`;
}

const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const ALL_COLUMNS = "id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d, f, dbl, b64, b1, y, dt, tm, dtm, ts, c, vc, tx, lt, bin, vb, bl, lb, e, s, j";
const ALL_ROWS: unknown[][] = [
  [1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, "-9223372036854775808", "0",
    "-99999999999999999999999999999999999.999999999999999999999999999999", -3.40282e38, -1.7976931348623157e308, Buffer.alloc(8), Buffer.from([0]), 1901,
    "1000-01-01", "-838:59:59.000000", "1000-01-01 00:00:00.000000", "1970-01-01 09:00:01.000000", "", "", "", "", Buffer.alloc(16), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), "a", "", "{}"],
  [2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, "9223372036854775807", "18446744073709551615",
    "99999999999999999999999999999999999.999999999999999999999999999999", 3.40282e38, 1.7976931348623157e308, Buffer.alloc(8, 0xff), Buffer.from([1]), 2155,
    "9999-12-31", "838:59:59.000000", "9999-12-31 23:59:59.999999", "2038-01-19 12:14:07.999999", "ÿ😀é", "quote ' dq \" bs \\ nul \u0000 end", "🦄 4-byte 𝌆 text", "x".repeat(70_000),
    Buffer.from("0123456789abcdef"), everyByte, everyByte, Buffer.concat([everyByte, everyByte]), "c,d", "x,y,z", '{"a": [1, 2.5, "x"], "big": 18446744073709551615, "n": null, "s": "😀"}'],
  [3, ...Array(31).fill(null)],
  [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "0.000000000000000000000000000001", 1.17549e-38, 2.2250738585072014e-308, Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from([0]), 0,
    "0000-00-00", "00:00:00.000001", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000", "a", "trailing space ", "\r\n\t", "", Buffer.from([0]), Buffer.from([0]), Buffer.from([0xff]), Buffer.from([0]), "b", "y", "[]"],
];
const TEXT_COLUMNS = "id, n, d, y, dt, tm, dtm, ts, c, vc, tx, latin, e, s, j";
const TEXT_ROWS: unknown[][] = [
  ["18446744073709551615", -2147483648, "-99999999999999999999999999999999999.999999999999999999999999999999", 1901, "1000-01-01", "-838:59:59.000000", "1000-01-01 00:00:00.000000", "1970-01-01 09:00:01.000000", "", "quote ' dq \" bs \\ nul \u0000 end", "🦄 4-byte 𝌆 text", "Grüße", "c,d", "x,y,z", '{"a": [1, 2.5, "x"], "s": "😀"}'],
  [1, null, null, null, null, null, null, null, null, null, null, null, null, null, null],
  [0, 0, "0.000000000000000000000000000001", 0, "0000-00-00", "00:00:00.000001", "0000-00-00 00:00:00.000000", "0000-00-00 00:00:00.000000", "a", "trailing space ", "\r\n\t", "", "a", "", "[]"],
];

/** Inserts the edge rows on `server`, from a session in yet another time zone (TIMESTAMPs are stored in UTC). */
export async function insertTypeMatrix(server: TestServer, db: string): Promise<void> {
  const insert = (table: string, cols: string, rows: unknown[][]) => `INSERT INTO ${db}.${table} (${cols}) VALUES ${rows.map((r) => `(${r.map(() => "?").join(", ")})`).join(", ")}`;
  await sql(server, `SET SESSION sql_mode = ''; SET SESSION time_zone = '+09:00'; ${insert("all_types", ALL_COLUMNS, ALL_ROWS)}; ${insert("text_types", TEXT_COLUMNS, TEXT_ROWS)}`, [...ALL_ROWS.flat(), ...TEXT_ROWS.flat()]);
}
