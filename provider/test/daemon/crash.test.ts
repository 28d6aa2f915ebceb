/**
 * Exactly once under SIGKILL: a write workload runs on the master while the daemon is killed at
 * random moments and restarted, at least 20 times. Afterwards both sides must be identical,
 * including a table without a primary key (a replayed transaction would duplicate its rows) and
 * tables created and dropped by DDL along the way.
 */
import * as assert from "node:assert/strict";
import { DaemonProcess, connect, sleep, sql, tableContents, tempStateDir, waitCaughtUp } from "../support/daemon-process";
import { describeEachBackend } from "../support/servers";

const KILLS = 22;
const MIN_RUN_MS = 150;
const MAX_RUN_MS = 1_200;

describeEachBackend("exactly once under SIGKILL", (getPair) => {
  it(`leaves both sides identical after ${KILLS} kills during a write workload`, async function () {
    this.timeout(300_000);
    const { master, replica } = getPair();
    const schema = `CREATE DATABASE crash_db;
      CREATE TABLE crash_db.with_pk (id INT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40));
      CREATE TABLE crash_db.no_pk (a INT, b VARCHAR(20));
      CREATE TABLE crash_db.counter (id INT PRIMARY KEY, n BIGINT NOT NULL);
      INSERT INTO crash_db.counter VALUES (1, 0), (2, 0)`;
    await sql(master, schema);
    await sql(replica, schema);
    const stateDir = tempStateDir("crash");
    let daemon = await DaemonProcess.start(stateDir);
    await daemon.client().createLink({ name: "crash", source: master.url, target: replica.url, include: ["crash_db"], initial: "none" });

    let writing = true;
    let transactions = 0;
    const workload = (async () => {
      const conn = await connect(master);
      try {
        for (let i = 0; writing; i++) {
          const small = i % 7;
          await conn.query(`BEGIN;
            INSERT INTO crash_db.with_pk (v, note) VALUES (${i}, 'txn ${i}'), (${i}, NULL);
            INSERT INTO crash_db.no_pk VALUES (${small}, 'dup'), (${small}, 'dup');
            UPDATE crash_db.counter SET n = n + 1 WHERE id = ${1 + (i % 2)};
            ${i % 3 === 0 ? "DELETE FROM crash_db.no_pk WHERE a = " + small + " LIMIT 1;" : ""}
            ${i % 5 === 0 ? "DELETE FROM crash_db.with_pk WHERE v = " + (i - 5) + " LIMIT 1;" : ""}
            COMMIT`);
          if (i % 40 === 0) await conn.query(`CREATE TABLE crash_db.ddl_${i} (id INT PRIMARY KEY); INSERT INTO crash_db.ddl_${i} VALUES (${i})`);
          if (i % 40 === 20) await conn.query(`DROP TABLE crash_db.ddl_${i - 20}`);
          transactions++;
        }
      } finally {
        await conn.end();
      }
    })();

    try {
      for (let kill = 0; kill < KILLS; kill++) {
        await sleep(MIN_RUN_MS + Math.random() * (MAX_RUN_MS - MIN_RUN_MS));
        await daemon.kill("SIGKILL");
        daemon = await DaemonProcess.start(stateDir);
      }
    } finally {
      writing = false;
      await workload;
    }
    assert.ok(transactions > KILLS * 5, `the workload ran ${transactions} transactions`);
    const status = await waitCaughtUp(daemon.client(), "crash", master, 180_000);
    assert.equal(status.state, "running");
    try {
      const tables = await sql(master, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crash_db' ORDER BY 1");
      const replicaTables = await sql(replica, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'crash_db' ORDER BY 1");
      assert.deepEqual(replicaTables, tables);
      for (const { t } of tables) {
        assert.deepEqual(await tableContents(replica, "crash_db", String(t)), await tableContents(master, "crash_db", String(t)), `crash_db.${t} differs`);
      }
      const [noPk] = await sql(replica, "SELECT COUNT(*) AS n FROM crash_db.no_pk");
      assert.ok(Number(noPk.n) > 0);
    } finally {
      await daemon.stop();
    }
  });
});
