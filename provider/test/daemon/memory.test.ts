/**
 * Bounded memory: a single source transaction of one million rows replicates with the daemon's
 * peak resident memory under 512 MiB, a backlog of many small transactions is read no faster
 * than it is applied (the reader pauses when the applier's queue is full), and a backlog of wide
 * rows (256 KiB BLOBs) is queued by its size, not its row count.
 */
import * as assert from "node:assert/strict";
import { QUEUE_MAX_SHARE_ROWS } from "../../src/daemon/link-runner";
import { DaemonProcess, sql, tempStateDir, waitCaughtUp } from "../support/daemon-process";
import { type TestServer, describeEachBackend } from "../support/servers";

const BIG_TRANSACTION_ROWS = 1_000_000;
const BACKLOG_TRANSACTIONS = 100_000;
const RSS_LIMIT_MIB = 512;
const WIDE_ROWS = 1_200;
const WIDE_ROW_BYTES = 256 * 1024;
const WIDE_RSS_LIMIT_MIB = 320;

describeEachBackend("bounded memory", (getPair) => {
  let daemon: DaemonProcess;

  before(async () => {
    daemon = await DaemonProcess.start(tempStateDir("memory"));
  });
  after(async () => {
    await daemon?.stop();
  });

  it(`replicates one transaction of ${BIG_TRANSACTION_ROWS} rows with peak RSS under ${RSS_LIMIT_MIB} MiB`, async function () {
    this.timeout(600_000);
    const { master, replica } = getPair();
    const schema = "CREATE DATABASE big_db; CREATE TABLE big_db.t (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40) NOT NULL)";
    await sql(master, schema);
    await sql(replica, schema);
    const client = daemon.client();
    await client.createLink({ name: "big", source: master.url, target: replica.url, include: ["big_db"], initial: "none" });
    await sql(master, `${digitsTable()};
      INSERT INTO big_db.t SELECT a.n * 1000 + b.n, a.n, CONCAT('row ', a.n * 1000 + b.n, ' of a big transaction') FROM big_db.digits a CROSS JOIN big_db.digits b`);
    const committed = Date.now();
    await waitCaughtUp(client, "big", master, 540_000);
    const seconds = (Date.now() - committed) / 1000;
    const [count] = await sql(replica, "SELECT COUNT(*) AS n, SUM(a) AS s FROM big_db.t");
    const [expected] = await sql(master, "SELECT COUNT(*) AS n, SUM(a) AS s FROM big_db.t");
    assert.equal(Number(count.n), BIG_TRANSACTION_ROWS);
    assert.deepEqual(count, expected);
    const peak = daemon.peakRssMiB();
    assert.ok(peak < RSS_LIMIT_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
    console.log(`      measured: applied in ${seconds.toFixed(1)} s after the master's commit (${Math.round(BIG_TRANSACTION_ROWS / seconds)} rows/s), peak daemon RSS ${peak.toFixed(0)} MiB`);
    await client.deleteLink("big");
  });

  it(`reads a backlog of ${BACKLOG_TRANSACTIONS} small transactions no faster than it applies them`, async function () {
    this.timeout(600_000);
    const { master, replica } = getPair();
    const schema = "CREATE DATABASE backlog_db; CREATE TABLE backlog_db.t (id INT PRIMARY KEY, v INT NOT NULL)";
    await sql(master, schema);
    await sql(replica, schema);
    const client = daemon.client();
    await client.createLink({ name: "backlog", source: master.url, target: replica.url, include: ["backlog_db"], initial: "none" });
    await client.pauseLink("backlog");
    await writeSmallTransactions(master, BACKLOG_TRANSACTIONS);
    const resumed = Date.now();
    await client.resumeLink("backlog");
    let maxQueued = 0;
    let sawReaderPaused = false;
    const status = await waitCaughtUp(
      { getLink: async (name: string) => {
        const s = await client.getLink(name);
        maxQueued = Math.max(maxQueued, s.queuedRows);
        sawReaderPaused ||= s.readerPaused;
        return s;
      } } as never,
      "backlog", master, 540_000,
    );
    const seconds = (Date.now() - resumed) / 1000;
    console.log(`      measured: ${BACKLOG_TRANSACTIONS} transactions caught up in ${seconds.toFixed(1)} s (${Math.round(BACKLOG_TRANSACTIONS / seconds)} transactions/s), largest queue ${maxQueued} rows, peak daemon RSS ${daemon.peakRssMiB().toFixed(0)} MiB`);
    assert.equal(Number((await sql(replica, "SELECT COUNT(*) AS n FROM backlog_db.t"))[0].n), BACKLOG_TRANSACTIONS);
    assert.ok(sawReaderPaused, "the reader never paused: it was not held back by the applier");
    // The only link running holds the largest share of the daemon's queue budget.
    assert.ok(maxQueued <= 2 * QUEUE_MAX_SHARE_ROWS, `queue reached ${maxQueued} rows`);
    assert.ok(status.transactionsApplied >= BACKLOG_TRANSACTIONS);
    assert.ok(daemon.peakRssMiB() < RSS_LIMIT_MIB);
    await client.deleteLink("backlog");
  });
});

describeEachBackend("bounded memory with wide rows", (getPair) => {
  let daemon: DaemonProcess;

  before(async () => {
    // A daemon of its own: its peak RSS (VmHWM) is this test's alone.
    daemon = await DaemonProcess.start(tempStateDir("memory-wide"));
  });
  after(async () => {
    await daemon?.stop();
  });

  it(`applies a backlog of ${WIDE_ROWS} rows of ${WIDE_ROW_BYTES / 1024} KiB with peak RSS under ${WIDE_RSS_LIMIT_MIB} MiB`, async function () {
    this.timeout(600_000);
    const { master, replica } = getPair();
    const schema = "CREATE DATABASE wide_db; CREATE TABLE wide_db.t (id INT PRIMARY KEY, b LONGBLOB NOT NULL)";
    await sql(master, schema);
    await sql(replica, schema);
    const client = daemon.client();
    await client.createLink({ name: "wide", source: master.url, target: replica.url, include: ["wide_db"], initial: "none" });
    await client.pauseLink("wide");
    // Every row different (the id repeated through the value), ten rows per transaction.
    for (let first = 0; first < WIDE_ROWS; first += 10) {
      const rows = Array.from({ length: 10 }, (_, i) => `(${first + i}, REPEAT(CONCAT(LPAD(${first + i}, 8, '0'), 'x'), ${Math.floor(WIDE_ROW_BYTES / 9)}))`);
      await sql(master, `INSERT INTO wide_db.t VALUES ${rows.join(", ")}`);
    }
    await client.resumeLink("wide");
    await waitCaughtUp(client, "wide", master, 540_000);
    const checksum = "SELECT COUNT(*) AS n, SUM(CRC32(b)) AS c, SUM(LENGTH(b)) AS l FROM wide_db.t";
    assert.deepEqual(await sql(replica, checksum), await sql(master, checksum));
    const peak = daemon.peakRssMiB();
    console.log(`      measured: ${WIDE_ROWS} rows of ${WIDE_ROW_BYTES / 1024} KiB, peak daemon RSS ${peak.toFixed(0)} MiB`);
    assert.ok(peak < WIDE_RSS_LIMIT_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
    await client.deleteLink("wide");
  });
});

function digitsTable(): string {
  return `CREATE TABLE big_db.digits (n INT PRIMARY KEY);
    INSERT INTO big_db.digits SELECT a.d * 100 + b.d * 10 + c.d FROM
      (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
      (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
      (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c`;
}

/** One-row autocommit transactions from a server-side loop, without per-commit fsyncs to keep it quick. */
async function writeSmallTransactions(master: TestServer, count: number): Promise<void> {
  await sql(master, "SET GLOBAL sync_binlog = 0; SET GLOBAL innodb_flush_log_at_trx_commit = 2");
  try {
    await sql(master, `CREATE PROCEDURE backlog_db.fill(IN n INT)
      BEGIN DECLARE i INT DEFAULT 0; WHILE i < n DO INSERT INTO backlog_db.t VALUES (i, i); SET i = i + 1; END WHILE; END`);
    await sql(master, "CALL backlog_db.fill(?)", [count]);
  } finally {
    await sql(master, "SET GLOBAL sync_binlog = 1; SET GLOBAL innodb_flush_log_at_trx_commit = 1");
  }
}
