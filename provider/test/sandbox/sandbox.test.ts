import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as mysql from "mysql2/promise";
import { DrError } from "../../src/core/errors";
import { findServerBinary, pickFreePort, sandboxStatus, startSandbox, stopSandbox, type SandboxInfo } from "../../src/sandbox/sandbox";
import { portRefuses } from "../support/daemon-process";

const NAME = "sbx-test";

function serverBinaryMissing(): string | undefined {
  try {
    findServerBinary();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function query(port: number, sql: string): Promise<mysql.RowDataPacket[]> {
  const conn = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", password: "" });
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(sql);
    return rows;
  } finally {
    await conn.end();
  }
}

describe("sandbox ports", () => {
  it("picks free ports below the kernel's ephemeral range, where no outgoing connection takes them", async function () {
    const range = "/proc/sys/net/ipv4/ip_local_port_range";
    if (!fs.existsSync(range)) this.skip();
    const ephemeralFrom = Number(fs.readFileSync(range, "utf8").trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => pickFreePort()));
    for (const port of ports) assert.ok(port >= 20_000 && port < ephemeralFrom, `port ${port} (ephemeral ports from ${ephemeralFrom})`);
    assert.ok(new Set(ports).size > 1, "every pick gave the same port");
  });
});

describe("sandbox", function () {
  let stateDir: string;
  let info: SandboxInfo | undefined;

  before(function () {
    const missing = serverBinaryMissing();
    if (missing) {
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-sandbox-test-"));
  });

  after(async function () {
    if (stateDir === undefined) return;
    await stopSandbox({ name: NAME, stateDir });
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("starts a server under <stateDir>/sandboxes/<name> that accepts root connections", async function () {
    info = await startSandbox({ name: NAME, stateDir });
    assert.equal(info.name, NAME);
    assert.equal(info.dir, path.join(stateDir, "sandboxes", NAME));
    assert.equal(info.url, `mysql://root@127.0.0.1:${info.port}`);
    assert.ok(info.pid > 0);
    const rows = await query(info.port, "SELECT VERSION() AS v");
    assert.equal(rows[0].v, info.version);
    assert.equal(info.flavor, /mariadb/i.test(info.version) ? "mariadb" : "mysql");
    const record = JSON.parse(fs.readFileSync(path.join(info.dir, "sandbox.json"), "utf8"));
    assert.deepEqual(record, { name: NAME, port: info.port, flavor: info.flavor, version: info.version, dir: info.dir });
  });

  it("runs with a ROW binlog, full row images and metadata, and server_id = port", async function () {
    const s = info!;
    const [v] = await query(
      s.port,
      "SELECT @@log_bin AS log_bin, @@binlog_format AS format, @@binlog_row_image AS image, " +
        "@@binlog_row_metadata AS metadata, @@server_id AS server_id",
    );
    assert.equal(Number(v.log_bin), 1);
    assert.equal(v.format, "ROW");
    assert.equal(v.image, "FULL");
    assert.equal(v.metadata, "FULL");
    assert.equal(Number(v.server_id), s.port);
  });

  it("has GTIDs on", async function () {
    const s = info!;
    if (s.flavor === "mysql") {
      const [v] = await query(s.port, "SELECT @@gtid_mode AS mode");
      assert.equal(v.mode, "ON");
      return;
    }
    const [before] = await query(s.port, "SELECT @@gtid_binlog_pos AS pos");
    await query(s.port, "CREATE DATABASE keepme");
    await query(s.port, "CREATE TABLE keepme.t (id INT PRIMARY KEY)");
    await query(s.port, "INSERT INTO keepme.t VALUES (1)");
    const [after] = await query(s.port, "SELECT @@gtid_binlog_pos AS pos");
    assert.notEqual(after.pos, before.pos);
    assert.match(String(after.pos), new RegExp(`^0-${s.port}-\\d+$`));
  });

  it("returns the running server instead of starting a second one", async function () {
    const again = await startSandbox({ name: NAME, stateDir });
    assert.deepEqual(again, info);
    assert.deepEqual(await sandboxStatus({ name: NAME, stateDir }), info);
  });

  it("refuses another port while running", async function () {
    await assert.rejects(startSandbox({ name: NAME, stateDir, port: info!.port + 1 }), (err: DrError) => err.code === "CONFLICT");
  });

  it("stops, keeping the data, and restarts on the same port with it", async function () {
    const s = info!;
    if (s.flavor === "mysql") {
      await query(s.port, "CREATE DATABASE keepme");
      await query(s.port, "CREATE TABLE keepme.t (id INT PRIMARY KEY)");
      await query(s.port, "INSERT INTO keepme.t VALUES (1)");
    }
    await stopSandbox({ name: NAME, stateDir });
    assert.equal(await sandboxStatus({ name: NAME, stateDir }), undefined);
    assert.ok(await portRefuses(s.port), "the port still accepts connections after stop");
    await stopSandbox({ name: NAME, stateDir }); // not running: quiet

    const restarted = await startSandbox({ name: NAME, stateDir });
    assert.equal(restarted.port, s.port);
    assert.notEqual(restarted.pid, s.pid);
    const rows = await query(restarted.port, "SELECT id FROM keepme.t");
    assert.deepEqual(rows.map((r) => r.id), [1]);
    info = restarted;
  });

  it("rejects a bad name with BAD_INPUT", async function () {
    for (const name of ["", "../x", "a b", "x".repeat(65)]) {
      await assert.rejects(startSandbox({ name, stateDir }), (err: DrError) => err instanceof DrError && err.code === "BAD_INPUT");
    }
  });
});
