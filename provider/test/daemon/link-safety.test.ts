/**
 * A link says what is wrong instead of hanging or pretending: a hung master or DR server is
 * reported unresponsive while status keeps answering; and it refuses what would make the copy
 * diverge or fight another writer: two creates of one name, a master that is not its own, two
 * daemons whose binlog dumps would kick each other, a copied daemon identity. Errors never carry
 * row values.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DaemonClient } from "../../src/cli/daemon-client";
import { DrError } from "../../src/core/errors";
import { STATE_FILES } from "../../src/core/state-dir";
import type { LinkStatus } from "../../src/daemon/link-runner";
import { DaemonProcess, sleep, sql, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import { type TestServer, describeEachBackend, startExtraSandbox } from "../support/servers";

/** Longer than the 5 s of silence after which a server counts as unresponsive. */
const HANG_MS = 12_000;
/** A status request that takes longer than this counts as hung. */
const STATUS_ANSWER_MS = 4_000;

describeEachBackend("link safety: hung servers, foreign masters, competing writers", (getPair) => {
  let master: TestServer;
  let replica: TestServer;
  let daemon: DaemonProcess;
  let client: DaemonClient;
  const extras: DaemonProcess[] = [];

  before(async () => {
    ({ master, replica } = getPair());
    daemon = await DaemonProcess.start(tempStateDir("safety"));
    client = daemon.client();
  });
  after(async () => {
    await daemon?.stop();
    for (const d of extras) await d.stop();
  });

  async function createLink(name: string, db: string, source = master, target = replica, via = client): Promise<void> {
    await sql(source, `CREATE DATABASE IF NOT EXISTS ${db}; CREATE TABLE IF NOT EXISTS ${db}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
    await sql(target, `CREATE DATABASE IF NOT EXISTS ${db}; CREATE TABLE IF NOT EXISTS ${db}.t (id INT PRIMARY KEY, v VARCHAR(40))`);
    await via.createLink({ name, source: source.url, target: target.url, include: [db], initial: "none" });
    await waitFor(`${name} running`, async () => (await via.getLink(name)).state === "running");
  }

  /** Status while `server` hangs: every request must answer; returns what it said, with seconds since the hang began. */
  async function watchWhileHung(server: TestServer, link: string): Promise<(LinkStatus & { at: number })[]> {
    const seen: (LinkStatus & { at: number })[] = [];
    const start = Date.now();
    server.signal!("SIGSTOP");
    try {
      while (Date.now() - start < HANG_MS) {
        const answered = await Promise.race([client.getLink(link), sleep(STATUS_ANSWER_MS).then(() => undefined)]);
        assert.ok(answered, `GET /v1/links/${link} did not answer within ${STATUS_ANSWER_MS / 1000} s while the server hung`);
        seen.push({ ...answered, at: (Date.now() - start) / 1000 });
        await sleep(500);
      }
    } finally {
      server.signal!("SIGCONT");
    }
    console.log(`      while hung: ${seen.map((s) => `${s.at.toFixed(1)}s ${s.state} lag ${s.lagSeconds}`).join(" | ")}`);
    return seen;
  }

  for (const side of ["source", "target"] as const) {
    it(`a hung ${side === "source" ? "master" : "DR server"} (SIGSTOP): status keeps answering, says '${side} unresponsive' and lets the lag grow; the link recovers by itself`, async function () {
      const server = side === "source" ? master : replica;
      if (!server.signal) this.skip();
      const link = `hung-${side}`;
      const db = `hung_${side}_db`;
      await createLink(link, db);
      await sql(master, `INSERT INTO ${db}.t VALUES (1, 'before')`);
      await waitCaughtUp(client, link, master);

      const seen = await watchWhileHung(server, link);
      const reported = seen.find((s) => new RegExp(`^${side} unresponsive: `, "i").test(s.lastError ?? ""));
      assert.ok(reported, `never reported unresponsive: ${seen.map((s) => s.lastError).join(" / ")}`);
      assert.equal(reported.state, "retrying");
      const lags = seen.filter((s) => s.at >= reported.at).map((s) => s.lagSeconds ?? 0);
      assert.ok(lags[lags.length - 1] > lags[0] + 3, `the lag did not grow while nothing arrived: ${lags.join(", ")}`);
      assert.ok(lags.every((lag, i) => i === 0 || lag >= lags[i - 1]), `the lag went down while the server hung: ${lags.join(", ")}`);

      await sql(master, `INSERT INTO ${db}.t VALUES (2, 'after')`);
      const status = await waitCaughtUp(client, link, master);
      assert.equal(status.state, "running");
      assert.equal(status.lastError, null);
      assert.deepEqual(await tableContents(replica, db, "t"), await tableContents(master, db, "t"));
      await client.deleteLink(link);
    });
  }

  it("concurrent creates of one name leave one link and no orphan runner holding its lock", async () => {
    await sql(master, "CREATE DATABASE twin_db; CREATE TABLE twin_db.t (id INT PRIMARY KEY)");
    await sql(replica, "CREATE DATABASE twin_db; CREATE TABLE twin_db.t (id INT PRIMARY KEY)");
    const request = { name: "twin", source: master.url, target: replica.url, include: ["twin_db"], initial: "none" };
    const results = await Promise.allSettled([1, 2, 3].map(() => client.createLink(request)));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, "exactly one create succeeds");
    for (const r of results) {
      if (r.status === "rejected") assert.equal((r.reason as DrError).code, "CONFLICT", String(r.reason));
    }
    assert.deepEqual((await client.listLinks()).filter((l) => l.name === "twin").length, 1);
    await waitFor("twin running", async () => (await client.getLink("twin")).state === "running");

    await client.deleteLink("twin");
    await waitFor("nobody to hold the link's lock on the DR server after delete", async () => {
      const [row] = await sql(replica, "SELECT IS_USED_LOCK('mysql_dr.link.twin') AS holder");
      return row.holder === null;
    }, 10_000);
  });

  it("refuses to resume against a master that is not the one the link was created for (other identity, other history)", async () => {
    await createLink("moved", "moved_db");
    await sql(master, "INSERT INTO moved_db.t VALUES (1, 'a'), (2, 'b')");
    await waitCaughtUp(client, "moved", master);
    await client.deleteLink("moved");
    const before = await tableContents(replica, "moved_db", "t");

    // The same link name, its checkpoint still on the DR server, now pointed at another server.
    const other = await startExtraSandbox("safety-foreign", "other-master");
    try {
      await sql(other, "CREATE DATABASE moved_db; CREATE TABLE moved_db.t (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO moved_db.t VALUES (9, 'foreign')");
      await client.createLink({ name: "moved", source: other.url, target: replica.url, include: ["moved_db"], initial: "none" });
      const stopped = await waitFor("the link to stop", async () => {
        const s = await client.getLink("moved");
        return s.state === "error" ? s : undefined;
      });
      assert.match(stopped.lastError ?? "", /^The master at [\d.:]+ is not the server link moved was created for \(server identity .*\) and its binlog history lacks transactions the link applied .*delete the link and create it anew/);
      assert.deepEqual(await tableContents(replica, "moved_db", "t"), before, "nothing from the foreign master was applied");
      await client.deleteLink("moved");
    } finally {
      await other.stop();
    }
  });

  it("two daemons running a link of the same name from one master to two DR servers do not kick each other's binlog dump", async () => {
    const second = await startExtraSandbox("safety-second-dr", "second-dr");
    const otherDaemon = await DaemonProcess.start(tempStateDir("safety-second"));
    extras.push(otherDaemon);
    const otherClient = otherDaemon.client();
    try {
      await createLink("same-name", "same_db");
      await createLink("same-name", "same_db", master, second, otherClient);
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        await sql(master, `INSERT INTO same_db.t VALUES (${i}, 'row ${i}')`);
        for (const s of [await client.getLink("same-name"), await otherClient.getLink("same-name")]) {
          if (s.state !== "running") seen.push(`${s.state}: ${s.lastError}`);
        }
        await sleep(200);
      }
      assert.deepEqual(seen, [], "neither link stopped running while both streamed");
      await waitCaughtUp(client, "same-name", master);
      await waitCaughtUp(otherClient, "same-name", master);
      assert.deepEqual(await tableContents(replica, "same_db", "t"), await tableContents(master, "same_db", "t"));
      assert.deepEqual(await tableContents(second, "same_db", "t"), await tableContents(master, "same_db", "t"));
      await otherClient.deleteLink("same-name");

      // A daemon started from a copy of another's state directory shares its identity: caught, not run.
      const copyDir = tempStateDir("safety-copy");
      fs.copyFileSync(path.join(daemon.stateDir, STATE_FILES.daemonId), path.join(copyDir, STATE_FILES.daemonId));
      const copy = await DaemonProcess.start(copyDir);
      extras.push(copy);
      await copy.client().createLink({ name: "same-name", source: master.url, target: second.url, include: ["same_db"], initial: "none" });
      const refused = await waitFor("the copy's link to stop", async () => {
        const s = await copy.client().getLink("same-name");
        return s.state === "error" ? s : undefined;
      });
      assert.match(refused.lastError ?? "", /^Another daemon \(host .*\) is writing this daemon's heartbeat row on this master, so it has this daemon's identity; .*own state directory/);
      assert.equal((await client.getLink("same-name")).state, "running", "the original daemon's link was not disturbed");
      await copy.client().deleteLink("same-name");
      await client.deleteLink("same-name");
    } finally {
      await second.stop();
    }
  });

  it("a stopped link's lastError names the GTID and table, never the row values of the statement", async () => {
    await createLink("values", "values_db");
    const secret = "s3cret-card-4111111111111111";
    // A statement-logged change cannot be applied exactly: the link stops and says why.
    await sql(master, `SET SESSION binlog_format = 'STATEMENT'; INSERT INTO values_db.t VALUES (7, '${secret}')`);
    const stopped = await waitFor("the link to stop", async () => {
      const s = await client.getLink("values");
      return s.state === "error" ? s : undefined;
    });
    assert.match(stopped.lastError ?? "", /logged a statement instead of rows \(INSERT INTO values_db\.t VALUES \(\?, \?\)\)/);
    assert.ok(!(stopped.lastError ?? "").includes(secret), stopped.lastError ?? "");
    assert.ok(!(stopped.lastError ?? "").includes("4111"), stopped.lastError ?? "");
    assert.ok(!daemon.log().includes(secret), "the daemon log does not carry the value either");
    await client.deleteLink("values");
  });
});
