/**
 * Conformance: every case of cases.ts runs on a master that feeds both the daemon's DR copy and a
 * native replica (the reference), and passes when each ends the way the case says: identical to
 * the master, or stopped with the expected error. One link per case, selecting only the case's
 * database, so a refused case does not stop the others. Prints the table of outcomes.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { versionAtLeast } from "../../src/core/flavor";
import { gtidCovers } from "../../src/core/gtid";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, connect, masterPosition, sql, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { NativeReplica, type NativeOutcome, asReplicated, databaseSnapshot, snapshotDifferences } from "../support/native-replica";
import { type TestServer, describeEachBackend, startExtraSandbox } from "../support/servers";
import { CASES, type ConformanceCase } from "./cases";

/** Small enough that a BLOB sent as hex (twice its size) would not fit: see the large_blob case. */
const MAX_ALLOWED_PACKET = 16 * 1024 * 1024;

describeEachBackend("conformance", (getPair, factory) => {
  let daemon: DaemonProcess;
  let client: DaemonClient;
  let master: TestServer;
  let dr: TestServer;
  let native: NativeReplica | undefined;
  let masterVersion: string;
  const results: { name: string; native: string; daemon: string }[] = [];

  before(async function () {
    this.timeout(300_000);
    ({ master, replica: dr } = getPair());
    masterVersion = String((await sql(master, "SELECT VERSION() AS v"))[0].v);
    daemon = await DaemonProcess.start(tempStateDir("conformance"));
    client = daemon.client();
    // Native replication between two sandboxes on this machine; containers would need a network of their own.
    if (factory.backend === "sandbox") native = await NativeReplica.attach(await startExtraSandbox("conformance", "native"), master);
    for (const server of [master, dr, ...(native ? [native.server] : [])]) await sql(server, `SET GLOBAL max_allowed_packet = ${MAX_ALLOWED_PACKET}`);
  });

  after(async () => {
    await daemon?.stop();
    await native?.server.stop();
    if (results.length) {
      console.log(`\n    conformance (${factory.label}${native ? "" : ", no native reference on this backend"}):`);
      for (const r of results) console.log(`      ${r.name.padEnd(28)} native: ${r.native.padEnd(26)} daemon: ${r.daemon}`);
    }
  });

  for (const c of CASES) {
    it(`${c.name}: ${c.covers}`, async function () {
      if (c.flavors && !c.flavors.includes(master.flavor)) this.skip();
      if (c.mysqlSince && master.flavor === "mysql" && !versionAtLeast(masterVersion, ...c.mysqlSince)) this.skip();
      if (c.serverFiles && factory.backend !== "sandbox") this.skip();
      const logBefore = daemon.log().length;
      const outcome = await runCase(c);
      results.push({ name: c.name, native: outcome.native, daemon: outcome.daemonText });
      if (c.daemon === "identical") {
        assert.equal(outcome.daemonError, null, `the link stopped: ${outcome.daemonError}`);
        // Gathering falls back to the master's order when its statements fail; on servers alike, they never should.
        assert.doesNotMatch(daemon.log().slice(logBefore), /gathered statements failed/, "the applier had to fall back to the master's order");
        assert.deepEqual(outcome.daemonDifferences, [], "the DR copy differs from the master");
      } else {
        assert.match(outcome.daemonError ?? "(the link did not stop)", c.daemon);
      }
      if (native) assert.equal(outcome.native.replace(/ .*/, ""), c.native === "identical" ? "identical" : "stopped", `native replication: ${outcome.native}`);
    });
  }

  async function runCase(c: ConformanceCase): Promise<{ native: string; daemonText: string; daemonError: string | null; daemonDifferences: string[] }> {
    const db = `cf_${c.name}`;
    const link = db;
    const fill = (text: string) => text.replace(/\{db\}/g, db);
    /** Statements in a session of their own whose default database is the case's (created first on the master's setup). */
    const run = async (server: TestServer, statements: string, options: { charset?: string; create?: boolean } = {}) => {
      const conn = await connect(server, options.charset ? { charset: options.charset } : {});
      try {
        await conn.query(`${options.create ? `CREATE DATABASE \`${db}\`; ` : ""}USE \`${db}\``);
        await conn.query(fill(statements));
      } finally {
        await conn.end();
      }
    };
    await dropEverywhere(db);
    await client.createLink({ name: link, source: master.url, target: dr.url, include: [db], exclude: (c.exclude ?? []).map((p) => `${db}.${p}`), initial: "none" });
    try {
      await run(master, c.setup ?? "DO 0", { create: true });
      await waitCaughtUp(client, link, master);
      await native?.settle();
      if (c.replicas) for (const replica of [dr, ...(native ? [native.server] : [])]) await run(replica, c.replicas);
      if (c.lagging) await client.pauseLink(link);
      if (typeof c.script === "string") await run(master, c.script);
      else await c.script({ db, run: (s, o) => run(master, s, { charset: o?.charset }), serverFile: (name, content) => serverFile(db, name, content) });
      if (c.lagging) await client.resumeLink(link);
      const status = await settleLink(link);
      const nativeOutcome: NativeOutcome | undefined = await native?.settle();
      const expected = asReplicated(await databaseSnapshot(master, db));
      const daemonDifferences = status.state === "error" ? [] : snapshotDifferences(expected, await databaseSnapshot(dr, db));
      const nativeText = !native || !nativeOutcome ? "not run"
        : nativeOutcome.state === "stopped" ? `stopped (error ${nativeOutcome.errno})`
        : snapshotDifferences(expected, await databaseSnapshot(native.server, db)).length ? "differs" : "identical";
      const daemonText = status.state === "error" ? `stopped: ${status.lastError}` : daemonDifferences.length ? "differs" : "identical";
      return { native: nativeText, daemonText, daemonError: status.state === "error" ? status.lastError : null, daemonDifferences };
    } finally {
      await client.deleteLink(link).catch(() => undefined);
      await dropEverywhere(db);
      for (const dir of serverFiles.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Until the link applied everything the master has, or stopped on an error. */
  async function settleLink(link: string): Promise<LinkStatus> {
    const wanted = await masterPosition(master);
    return waitFor(`link ${link} to apply up to ${wanted} or stop`, async () => {
      const s = await client.getLink(link);
      return s.state === "error" || (s.appliedGtid !== null && gtidCovers(master.flavor, s.appliedGtid, wanted)) ? s : undefined;
    });
  }

  /** The case's databases gone from every server; a native replica stopped by the case goes on from the master's end. */
  async function dropEverywhere(db: string): Promise<void> {
    if (native && (await native.settle()).state === "stopped") await native.skipToMaster();
    await sql(master, `DROP DATABASE IF EXISTS \`${db}\`; DROP DATABASE IF EXISTS \`${db}_aux\``);
    await native?.settle();
    await sql(dr, `DROP DATABASE IF EXISTS \`${db}\`; DROP DATABASE IF EXISTS \`${db}_aux\``);
  }

  /** Files written for the master's server to read, removed after their case. */
  const serverFiles: string[] = [];

  function serverFile(db: string, name: string, content: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${db}-`));
    serverFiles.push(dir);
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  }
});
