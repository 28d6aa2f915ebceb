/**
 * The `mysql-dr` command line as users script it (DESIGN.md, "Command line"), run as a child
 * process against a real daemon child process and real sandbox servers: output formats, exit
 * codes and error lines, daemon discovery and authentication, the state directory, restarts,
 * link control, sandboxes, /metrics, and that a password never shows anywhere.
 */
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { STATE_FILES } from "../../src/core/state-dir";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { stopSandbox } from "../../src/sandbox/sandbox";
import { CLI, type CliResult, DaemonProcess, portRefuses, runCli, sql, tempStateDir, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

/** A password with every URL metacharacter; it must never be shown. */
const PASSWORD = "s3cr:t@/%x";
const USER = "cli_user";
/** A second `mysql-dr daemon` that wrongly started would never exit: stop waiting after this. */
const REFUSAL_TIMEOUT_MS = 30_000;
const ENV_KEYS = ["MYSQL_DR_DAEMON", "MYSQL_DR_TOKEN", "MYSQL_DR_STATE_DIR"] as const;

describeEachBackend("cli", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let stateDir: string;
  let daemon: DaemonProcess;
  let source: string;
  let target: string;
  /** Every stdout and stderr the CLI printed in this file, checked for the password at the end. */
  const shown: string[] = [];
  const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};

  function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
    const r = runCli(args, env);
    shown.push(r.stdout, r.stderr);
    return r;
  }

  /** Runs against the file's daemon, found through its state directory. */
  function dr(...args: string[]): CliResult {
    return cli([...args, "--state-dir", stateDir]);
  }

  function ok(r: CliResult): CliResult {
    assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
    assert.equal(r.stderr, "");
    return r;
  }

  function json<T>(r: CliResult): T {
    ok(r);
    assert.ok(r.stdout.endsWith("\n"), "ends with a newline");
    assert.equal(r.stdout.trim().split("\n").length, 1, "one line of JSON");
    const value = JSON.parse(r.stdout) as T;
    assert.equal(typeof value, "object");
    assert.ok(value !== null && !Array.isArray(value), "one JSON object");
    return value;
  }

  /** The error contract: non-zero exit, nothing on stdout, one `mysql-dr: ` line on stderr. */
  function failed(r: CliResult, code: number): string {
    assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
    assert.equal(r.stdout, "", "nothing on stdout");
    assert.ok(r.stderr.endsWith("\n"), "stderr ends with a newline");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
    assert.match(lines[0], /^mysql-dr: \S/);
    return lines[0];
  }

  async function waitRunning(name: string): Promise<LinkStatus> {
    return waitFor(`link ${name} to run`, async () => {
      const s = await daemon.client().getLink(name);
      if (s.state === "error") throw new Error(`link ${name} stopped: ${s.lastError}`);
      return s.state === "running" ? s : undefined;
    });
  }

  async function waitRow(db: string, id: number): Promise<void> {
    await waitFor(`row ${id} in ${db}.t on the DR server`, async () => (await sql(replica, `SELECT id FROM \`${db}\`.t WHERE id = ?`, [id])).length === 1, 60_000);
  }

  before(async () => {
    for (const k of ENV_KEYS) {
      savedEnv[k] = process.env[k];
      delete process.env[k];
    }
    ({ master, replica } = getPair());
    for (const server of [master, replica]) {
      await sql(server, "CREATE USER ?@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO ?@'%'", [USER, PASSWORD, USER]);
      await sql(server, `CREATE DATABASE cli_db; CREATE TABLE cli_db.t (id INT PRIMARY KEY);
        CREATE DATABASE cli_h; CREATE TABLE cli_h.t (id INT PRIMARY KEY);
        CREATE DATABASE cli_p; CREATE TABLE cli_p.t (id INT PRIMARY KEY)`);
    }
    const withUser = (url: string) => url.replace(/\/\/[^@]*@/, `//${USER}:${encodeURIComponent(PASSWORD)}@`);
    source = withUser(master.url);
    target = withUser(replica.url);
    stateDir = tempStateDir("cli");
    daemon = await DaemonProcess.start(stateDir);
  });

  after(async () => {
    await daemon?.stop();
    for (const k of ENV_KEYS) if (savedEnv[k] !== undefined) process.env[k] = savedEnv[k];
  });

  describe("link create", () => {
    it("prints a status table naming the link", () => {
      const r = ok(dr("link", "create", "c-human", "--source", source, "--target", target, "--include", "cli_h"));
      assert.throws(() => JSON.parse(r.stdout), "human output is not JSON");
      for (const heading of ["link", "state", "lag (s)", "rows applied", "applied GTID", "source GTID", "last error"]) {
        assert.ok(r.stdout.includes(heading), `column ${heading}`);
      }
      assert.match(r.stdout, /c-human/);
    });

    it("with --json prints exactly one JSON object on stdout, with the URLs redacted", () => {
      const status = json<LinkStatus>(dr("link", "create", "c-json", "--source", source, "--target", target, "--include", "cli_db", "--json"));
      assert.equal(status.name, "c-json");
      assert.deepEqual(status.include, ["cli_db"]);
      assert.equal(status.source, `mysql://${USER}:***@${master.host}:${master.port}`);
      assert.equal(status.target, `mysql://${USER}:***@${replica.host}:${replica.port}`);
    });
  });

  describe("link status", () => {
    it("--json for one link has state, lagSeconds, appliedGtid, sourceGtid, rowsApplied and lastError", async () => {
      await waitRunning("c-json");
      await sql(master, "INSERT INTO cli_db.t VALUES (1)");
      await waitRow("cli_db", 1);
      const status = json<LinkStatus>(dr("link", "status", "c-json", "--json"));
      for (const field of ["state", "lagSeconds", "appliedGtid", "sourceGtid", "rowsApplied", "lastError"]) {
        assert.ok(field in status, `field ${field}`);
      }
      assert.equal(status.state, "running");
      assert.equal(typeof status.lagSeconds, "number");
      assert.equal(typeof status.appliedGtid, "string");
      assert.equal(typeof status.sourceGtid, "string");
      assert.ok(status.rowsApplied >= 1, `rowsApplied ${status.rowsApplied}`);
      assert.equal(status.lastError, null);
    });

    it("--json without a name is one object listing every link", () => {
      const all = json<{ links: LinkStatus[] }>(dr("link", "status", "--json"));
      assert.deepEqual(all.links.map((l) => l.name).sort(), ["c-human", "c-json"]);
    });

    it("without --json prints a table of every link", () => {
      const r = ok(dr("link", "status"));
      assert.match(r.stdout, /c-human/);
      assert.match(r.stdout, /c-json/);
    });
  });

  describe("errors", () => {
    it("an unknown link: exit 1, one 'mysql-dr: ' line on stderr, nothing on stdout", () => {
      const line = failed(dr("link", "status", "no-such-link"), 1);
      assert.match(line, /no link named no-such-link/);
    });

    it("a missing required option is a usage error: exit 2, one line naming the option", () => {
      const line = failed(dr("link", "create", "c-missing", "--source", source), 2);
      assert.match(line, /--target/);
    });

    it("an unknown command is a usage error: exit 2, one line", () => {
      assert.match(failed(cli(["link", "frobnicate"]), 2), /frobnicate/);
    });

    it("a refused create: exit 1, one line, and the link does not exist", () => {
      const line = failed(dr("link", "create", "c-bad", "--source", source, "--target", target, "--include", "a.b.c"), 1);
      assert.match(line, /--include pattern "a\.b\.c" is malformed/);
      failed(dr("link", "status", "c-bad"), 1);
    });
  });

  describe("finding the daemon", () => {
    it("through MYSQL_DR_DAEMON and MYSQL_DR_TOKEN, without a state directory", () => {
      const empty = tempStateDir("cli-empty");
      const token = fs.readFileSync(path.join(stateDir, STATE_FILES.token), "utf8").trim();
      const r = cli(["link", "status", "--json"], { MYSQL_DR_DAEMON: daemon.url, MYSQL_DR_TOKEN: token, MYSQL_DR_STATE_DIR: empty, HOME: empty });
      assert.ok(json<{ links: LinkStatus[] }>(r).links.some((l) => l.name === "c-json"));
    });

    it("through MYSQL_DR_STATE_DIR", () => {
      const r = cli(["link", "status", "c-json", "--json"], { MYSQL_DR_STATE_DIR: stateDir });
      assert.equal(json<LinkStatus>(r).name, "c-json");
    });

    it("says so when no daemon runs for the state directory", () => {
      const empty = tempStateDir("cli-none");
      const line = failed(cli(["link", "status", "--state-dir", empty]), 1);
      assert.match(line, /No daemon found/);
    });

    it("a wrong token is refused: exit 1, says a valid bearer token is required", () => {
      const line = failed(cli(["link", "status", "--daemon", daemon.url, "--token", "wrong-token"]), 1);
      assert.match(line, /a valid bearer token is required/);
    });

    it("a wrong MYSQL_DR_TOKEN is refused too", () => {
      const line = failed(cli(["link", "status"], { MYSQL_DR_DAEMON: daemon.url, MYSQL_DR_TOKEN: "wrong-token", MYSQL_DR_STATE_DIR: tempStateDir("cli-empty") }), 1);
      assert.match(line, /a valid bearer token is required/);
    });
  });

  describe("the daemon and its state directory", () => {
    it("keeps the token file readable by the owner only (0600)", () => {
      assert.equal(fs.statSync(path.join(stateDir, STATE_FILES.token)).mode & 0o777, 0o600);
    });

    it("has pid and address files naming the running daemon", () => {
      assert.equal(fs.readFileSync(path.join(stateDir, STATE_FILES.pid), "utf8").trim(), String(daemon.pid));
      assert.equal(fs.readFileSync(path.join(stateDir, STATE_FILES.address), "utf8").trim(), daemon.url);
    });

    it("a second `mysql-dr daemon` on the same state directory refuses to start, with a clear error", () => {
      const r = spawnSync(process.execPath, [CLI, "daemon", "--listen", "127.0.0.1:0", "--state-dir", stateDir], { encoding: "utf8", timeout: REFUSAL_TIMEOUT_MS, killSignal: "SIGKILL" });
      shown.push(r.stdout, r.stderr);
      assert.equal(r.signal, null, "the second daemon kept running until killed");
      const line = failed({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, 1);
      assert.match(line, /A daemon is already running for state directory/);
      assert.ok(line.includes(`pid ${daemon.pid}`), line);
      assert.equal(fs.readFileSync(path.join(stateDir, STATE_FILES.pid), "utf8").trim(), String(daemon.pid), "the pid file still names the first daemon");
    });
  });

  describe("link pause, resume and delete", () => {
    before(async () => {
      ok(dr("link", "create", "c-ctl", "--source", source, "--target", target, "--include", "cli_p"));
      await waitRunning("c-ctl");
    });

    it("pause stops the link and says so", () => {
      const status = json<LinkStatus>(dr("link", "pause", "c-ctl", "--json"));
      assert.equal(status.state, "paused");
      assert.equal(json<LinkStatus>(dr("link", "status", "c-ctl", "--json")).state, "paused");
    });

    it("resume runs it again and it applies what was written meanwhile", async () => {
      await sql(master, "INSERT INTO cli_p.t VALUES (10)");
      ok(dr("link", "resume", "c-ctl"));
      await waitRow("cli_p", 10);
      assert.equal((await waitRunning("c-ctl")).state, "running");
    });

    it("delete removes the link and keeps its checkpoint on the DR server", async () => {
      const r = ok(dr("link", "delete", "c-ctl"));
      assert.match(r.stdout, /link c-ctl deleted/);
      failed(dr("link", "status", "c-ctl"), 1);
      assert.equal((await sql(replica, "SELECT link FROM mysql_dr.checkpoint WHERE link = 'c-ctl'")).length, 1);
    });

    it("pause, resume and delete of an unknown link fail with exit 1", () => {
      for (const verb of ["pause", "resume", "delete"]) assert.match(failed(dr("link", verb, "nope"), 1), /no link named nope/);
    });
  });

  describe("restart", () => {
    it("stops on SIGTERM and removes its pid and address files", async () => {
      await daemon.stop();
      assert.equal(daemon.child.exitCode, 0);
      assert.equal(fs.existsSync(path.join(stateDir, STATE_FILES.pid)), false);
      assert.equal(fs.existsSync(path.join(stateDir, STATE_FILES.address)), false);
    });

    it("brings the link definitions back, and they replicate a new row", async () => {
      if (daemon.child.exitCode === null) await daemon.stop();
      daemon = await DaemonProcess.start(stateDir);
      const all = json<{ links: LinkStatus[] }>(dr("link", "status", "--json"));
      assert.deepEqual(all.links.map((l) => l.name).sort(), ["c-human", "c-json"]);
      await sql(master, "INSERT INTO cli_db.t VALUES (2)");
      await waitRow("cli_db", 2);
      assert.equal((await waitRunning("c-json")).include[0], "cli_db");
    });
  });

  describe("/metrics", () => {
    it("with the token returns Prometheus text with mysql_dr_link_lag_seconds per link", async () => {
      await waitRunning("c-json");
      const token = fs.readFileSync(path.join(stateDir, STATE_FILES.token), "utf8").trim();
      const res = await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
      const body = await res.text();
      shown.push(body);
      assert.match(body, /^# TYPE mysql_dr_link_lag_seconds gauge$/m);
      assert.match(body, /^mysql_dr_link_lag_seconds\{link="c-json"\} \d+(\.\d+)?$/m);
    });

    it("without the token answers 401", async () => {
      const res = await fetch(`${daemon.url}/metrics`);
      assert.equal(res.status, 401);
      const body = await res.text();
      shown.push(body);
      assert.doesNotMatch(body, /mysql_dr_link_lag_seconds/);
    });
  });

  describe("sandbox", () => {
    let sandboxState: string;
    const NAME = "cli-sbx";

    before(() => {
      sandboxState = tempStateDir("cli-sandbox");
    });
    after(async () => {
      await stopSandbox({ name: NAME, stateDir: sandboxState });
      fs.rmSync(sandboxState, { recursive: true, force: true });
    });

    it("start prints the URL of a server that answers", async () => {
      const r = ok(cli(["sandbox", "start", NAME, "--state-dir", sandboxState]));
      const url = r.stdout.trim();
      assert.match(url, /^mysql:\/\/root@127\.0\.0\.1:\d+$/);
      const port = Number(url.split(":").pop());
      const server: TestServer = { ...master, url, host: "127.0.0.1", port, user: "root", password: "" };
      assert.deepEqual(await sql(server, "SELECT 1 AS one"), [{ one: 1 }]);
    });

    it("stop stops it", async () => {
      const info = JSON.parse(fs.readFileSync(path.join(sandboxState, STATE_FILES.sandboxes, NAME, "sandbox.json"), "utf8")) as { port: number };
      const r = ok(cli(["sandbox", "stop", NAME, "--state-dir", sandboxState]));
      assert.equal(r.stdout.trim(), `sandbox ${NAME} stopped`);
      assert.equal(await portRefuses(info.port), true, `port ${info.port} still accepts connections`);
    });
  });

  describe("passwords", () => {
    const forms = [PASSWORD, encodeURIComponent(PASSWORD)];

    it("a create that fails on the password's server does not print it", () => {
      const wrong = source.replace(encodeURIComponent(PASSWORD), encodeURIComponent(`${PASSWORD}-wrong`));
      const line = failed(dr("link", "create", "c-wrong", "--source", wrong, "--target", target), 1);
      assert.match(line, new RegExp(`'${USER}'.*access denied`));
    });

    it("never appear in any CLI output of this file", () => {
      assert.ok(shown.length > 20, "outputs were collected");
      for (const text of shown) for (const p of forms) assert.ok(!text.includes(p), `shown: ${text.slice(0, 300)}`);
    });

    it("never appear in the daemon log", () => {
      const log = daemon.log();
      assert.ok(log.includes("link running"), "the log has content");
      for (const p of forms) assert.ok(!log.includes(p));
    });

    it("never appear in `ls -la` of the state directory", () => {
      const listing = execFileSync("ls", ["-la", stateDir], { encoding: "utf8" });
      assert.match(listing, /links\.json/);
      for (const p of forms) assert.ok(!listing.includes(p), listing);
    });

    it("never appear in /metrics", async () => {
      const token = fs.readFileSync(path.join(stateDir, STATE_FILES.token), "utf8").trim();
      const body = await (await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      assert.match(body, /mysql_dr_link_lag_seconds/);
      for (const p of forms) assert.ok(!body.includes(p));
    });
  });
});
