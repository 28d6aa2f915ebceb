/**
 * Catch-up on a TPC-C-like workload, the daemon against a native single-thread replica in the same
 * run: nine tables in a database `tpcc` (warehouse, district, customer with an index on the last
 * name, a keyless history table, new_order, orders with an index on the customer, order_line,
 * item, stock), foreign keys as in TPC-C, wide rows, and the new-order (45%) / payment (43%) /
 * order-status (4%) / delivery (4%) / stock-level (4%) mix from 4 client connections, every
 * transaction BEGIN..COMMIT (retried on a deadlock). New-order and payment update a few hot rows
 * (a district's next order id, the warehouse's and the district's year-to-date) over and over.
 *
 *   node dist/bench/tpcc.js [--warehouses 1] [--transactions 5000] [--runs 3] [--customers 300] [--items 10000] [--binlog-mib 0]
 *
 * `make bench` runs the same code through runTpcc (bench/run.ts) on its own servers.
 * Per run: the link is paused and the native replica stopped, a backlog of --transactions writing
 * transactions (new-order, payment, delivery; the read-only ones run too but reach no binlog and
 * are not counted) is written on the master, then the native replica and the daemon catch up one
 * at a time, in an order that alternates between runs, each after every server's dirty pages are
 * flushed and its purge has caught up. --binlog-mib N first writes N MiB of other transactions to
 * the master's binlog (a database `filler`, outside the link), as `make bench`'s earlier scenarios
 * leave it before this one: both contenders then start their dumps deep into one binlog file. CPU: utime+stime from /proc of the native replica's mysqld over its catch-up, and of the
 * daemon and the DR server's mysqld over the daemon's. Prints per run the seconds, transactions/s
 * and CPU seconds of each, then one JSON line with min/median/max, the ratio daemon/native and the
 * CPU ratio (daemon + DR server) / native replica; at the end, CHECKSUM TABLE of the nine tables on
 * the three servers says whether the DR server and the native replica hold the master's rows.
 */
import * as fs from "node:fs";
import * as mysql from "mysql2/promise";
import type { DaemonClient } from "../provider/src/cli/daemon-client";
import { type CatchUp, type Server, Lab, configureNativeReplica, cpuSeconds, log, nativeApplied, positionProbe, quiesce, rotated, startReplica, stats, stopReplica, timeCatchUp, timeUntilCovered } from "./lab";

const LINK = "bench-tpcc";
const CLIENTS = 4;
const DISTRICTS = 10;

/** The data set's size: warehouses, customers per district, items. */
export interface TpccShape {
  warehouses: number;
  customers: number;
  items: number;
}

const SCHEMA = [
  `CREATE TABLE warehouse (
    w_id INT NOT NULL, w_name VARCHAR(10), w_street_1 VARCHAR(20), w_street_2 VARCHAR(20), w_city VARCHAR(20),
    w_state CHAR(2), w_zip CHAR(9), w_tax DECIMAL(4,4), w_ytd DECIMAL(12,2),
    PRIMARY KEY (w_id)) ENGINE=InnoDB`,
  `CREATE TABLE district (
    d_id TINYINT NOT NULL, d_w_id INT NOT NULL, d_name VARCHAR(10), d_street_1 VARCHAR(20), d_street_2 VARCHAR(20),
    d_city VARCHAR(20), d_state CHAR(2), d_zip CHAR(9), d_tax DECIMAL(4,4), d_ytd DECIMAL(12,2), d_next_o_id INT,
    PRIMARY KEY (d_w_id, d_id),
    CONSTRAINT fk_district_warehouse FOREIGN KEY (d_w_id) REFERENCES warehouse (w_id)) ENGINE=InnoDB`,
  `CREATE TABLE customer (
    c_id INT NOT NULL, c_d_id TINYINT NOT NULL, c_w_id INT NOT NULL, c_first VARCHAR(16), c_middle CHAR(2), c_last VARCHAR(16),
    c_street_1 VARCHAR(20), c_street_2 VARCHAR(20), c_city VARCHAR(20), c_state CHAR(2), c_zip CHAR(9), c_phone CHAR(16),
    c_since DATETIME, c_credit CHAR(2), c_credit_lim DECIMAL(12,2), c_discount DECIMAL(4,4), c_balance DECIMAL(12,2),
    c_ytd_payment DECIMAL(12,2), c_payment_cnt INT, c_delivery_cnt INT, c_data VARCHAR(500),
    PRIMARY KEY (c_w_id, c_d_id, c_id),
    KEY idx_customer (c_w_id, c_d_id, c_last, c_first),
    CONSTRAINT fk_customer_district FOREIGN KEY (c_w_id, c_d_id) REFERENCES district (d_w_id, d_id)) ENGINE=InnoDB`,
  `CREATE TABLE history (
    h_c_id INT, h_c_d_id TINYINT, h_c_w_id INT, h_d_id TINYINT, h_w_id INT, h_date DATETIME, h_amount DECIMAL(6,2), h_data VARCHAR(24),
    CONSTRAINT fk_history_customer FOREIGN KEY (h_c_w_id, h_c_d_id, h_c_id) REFERENCES customer (c_w_id, c_d_id, c_id),
    CONSTRAINT fk_history_district FOREIGN KEY (h_w_id, h_d_id) REFERENCES district (d_w_id, d_id)) ENGINE=InnoDB`,
  `CREATE TABLE orders (
    o_id INT NOT NULL, o_d_id TINYINT NOT NULL, o_w_id INT NOT NULL, o_c_id INT, o_entry_d DATETIME, o_carrier_id TINYINT,
    o_ol_cnt TINYINT, o_all_local TINYINT,
    PRIMARY KEY (o_w_id, o_d_id, o_id),
    KEY idx_orders (o_w_id, o_d_id, o_c_id, o_id),
    CONSTRAINT fk_orders_customer FOREIGN KEY (o_w_id, o_d_id, o_c_id) REFERENCES customer (c_w_id, c_d_id, c_id)) ENGINE=InnoDB`,
  `CREATE TABLE new_order (
    no_o_id INT NOT NULL, no_d_id TINYINT NOT NULL, no_w_id INT NOT NULL,
    PRIMARY KEY (no_w_id, no_d_id, no_o_id),
    CONSTRAINT fk_new_order_orders FOREIGN KEY (no_w_id, no_d_id, no_o_id) REFERENCES orders (o_w_id, o_d_id, o_id)) ENGINE=InnoDB`,
  `CREATE TABLE item (
    i_id INT NOT NULL, i_im_id INT, i_name VARCHAR(24), i_price DECIMAL(5,2), i_data VARCHAR(50),
    PRIMARY KEY (i_id)) ENGINE=InnoDB`,
  `CREATE TABLE stock (
    s_i_id INT NOT NULL, s_w_id INT NOT NULL, s_quantity SMALLINT,
    s_dist_01 CHAR(24), s_dist_02 CHAR(24), s_dist_03 CHAR(24), s_dist_04 CHAR(24), s_dist_05 CHAR(24),
    s_dist_06 CHAR(24), s_dist_07 CHAR(24), s_dist_08 CHAR(24), s_dist_09 CHAR(24), s_dist_10 CHAR(24),
    s_ytd DECIMAL(8,0), s_order_cnt SMALLINT, s_remote_cnt SMALLINT, s_data VARCHAR(50),
    PRIMARY KEY (s_w_id, s_i_id),
    CONSTRAINT fk_stock_item FOREIGN KEY (s_i_id) REFERENCES item (i_id),
    CONSTRAINT fk_stock_warehouse FOREIGN KEY (s_w_id) REFERENCES warehouse (w_id)) ENGINE=InnoDB`,
  `CREATE TABLE order_line (
    ol_o_id INT NOT NULL, ol_d_id TINYINT NOT NULL, ol_w_id INT NOT NULL, ol_number TINYINT NOT NULL, ol_i_id INT,
    ol_supply_w_id INT, ol_delivery_d DATETIME, ol_quantity TINYINT, ol_amount DECIMAL(6,2), ol_dist_info CHAR(24),
    PRIMARY KEY (ol_w_id, ol_d_id, ol_o_id, ol_number),
    CONSTRAINT fk_order_line_orders FOREIGN KEY (ol_w_id, ol_d_id, ol_o_id) REFERENCES orders (o_w_id, o_d_id, o_id),
    CONSTRAINT fk_order_line_stock FOREIGN KEY (ol_supply_w_id, ol_i_id) REFERENCES stock (s_w_id, s_i_id)) ENGINE=InnoDB`,
];

// --- random data, after TPC-C's generators (uniform where the spec has NURand, except the last names) ---

function rand(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function astring(lo: number, hi: number): string {
  const n = rand(lo, hi);
  let s = "";
  for (let i = 0; i < n; i++) s += ALNUM[rand(0, ALNUM.length - 1)];
  return s;
}

function nstring(lo: number, hi: number): string {
  const n = rand(lo, hi);
  let s = "";
  for (let i = 0; i < n; i++) s += String(rand(0, 9));
  return s;
}

/** i_data / s_data: 10% carry "ORIGINAL" somewhere. */
function dataString(): string {
  const s = astring(26, 50);
  if (Math.random() >= 0.1) return s;
  const at = rand(0, s.length - 8);
  return s.slice(0, at) + "ORIGINAL" + s.slice(at + 8);
}

const SYLLABLES = ["BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"];

function lastName(n: number): string {
  return SYLLABLES[Math.floor(n / 100) % 10] + SYLLABLES[Math.floor(n / 10) % 10] + SYLLABLES[n % 10];
}

function address(): string[] {
  return [astring(10, 20), astring(10, 20), astring(10, 20), astring(2, 2).toUpperCase(), nstring(4, 4) + "11111"];
}

// --- loading, multi-row INSERTs ---

async function insertRows(conn: mysql.Connection, table: string, rows: unknown[][], batch = 500): Promise<void> {
  for (let i = 0; i < rows.length; i += batch) await conn.query(`INSERT INTO ${table} VALUES ?`, [rows.slice(i, i + batch)]);
}

async function load(master: Server, shape: TpccShape): Promise<void> {
  const conn = await connect(master);
  try {
    const now = new Date();
    await insertRows(conn, "item", Array.from({ length: shape.items }, (_, i) => [i + 1, rand(1, 10_000), astring(14, 24), rand(100, 10_000) / 100, dataString()]), 1000);
    for (let w = 1; w <= shape.warehouses; w++) {
      await insertRows(conn, "warehouse", [[w, astring(6, 10), ...address(), rand(0, 2000) / 10_000, 300_000]]);
      await insertRows(conn, "district", Array.from({ length: DISTRICTS }, (_, d) => [d + 1, w, astring(6, 10), ...address(), rand(0, 2000) / 10_000, 30_000, shape.customers + 1]));
      await insertRows(conn, "stock", Array.from({ length: shape.items }, (_, i) => [i + 1, w, rand(10, 100), ...Array.from({ length: 10 }, () => astring(24, 24)), 0, 0, 0, dataString()]));
      for (let d = 1; d <= DISTRICTS; d++) {
        const customers: unknown[][] = [];
        const history: unknown[][] = [];
        for (let c = 1; c <= shape.customers; c++) {
          customers.push([c, d, w, astring(8, 16), "OE", lastName(c <= 1000 ? c - 1 : rand(0, 999)), ...address(), nstring(16, 16), now, Math.random() < 0.1 ? "BC" : "GC", 50_000, rand(0, 5000) / 10_000, -10, 10, 1, 0, astring(300, 500)]);
          history.push([c, d, w, d, w, now, 10, astring(12, 24)]);
        }
        await insertRows(conn, "customer", customers);
        await insertRows(conn, "history", history);
        // One order per customer (a permutation); the last 30% are undelivered (in new_order).
        const perm = Array.from({ length: shape.customers }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
        const undelivered = Math.floor(shape.customers * 0.7);
        const orders: unknown[][] = [];
        const newOrders: unknown[][] = [];
        const lines: unknown[][] = [];
        for (let o = 1; o <= shape.customers; o++) {
          const count = rand(5, 15);
          const delivered = o <= undelivered;
          orders.push([o, d, w, perm[o - 1], now, delivered ? rand(1, 10) : null, count, 1]);
          if (!delivered) newOrders.push([o, d, w]);
          for (let n = 1; n <= count; n++) lines.push([o, d, w, n, rand(1, shape.items), w, delivered ? now : null, 5, delivered ? 0 : rand(1, 999_999) / 100, astring(24, 24)]);
        }
        await insertRows(conn, "orders", orders);
        await insertRows(conn, "new_order", newOrders);
        await insertRows(conn, "order_line", lines, 1000);
      }
    }
  } finally {
    await conn.end();
  }
}

function connect(server: Server): Promise<mysql.Connection> {
  return mysql.createConnection({ host: "127.0.0.1", port: server.port, user: "root", database: "tpcc", supportBigNumbers: true, bigNumberStrings: true });
}

// --- the transaction mix ---

type Row = Record<string, unknown>;

async function rows(conn: mysql.Connection, sql: string, params: unknown[]): Promise<Row[]> {
  const [r] = await conn.query(sql, params);
  return r as Row[];
}

async function newOrder(conn: mysql.Connection, shape: TpccShape): Promise<void> {
  const w = rand(1, shape.warehouses);
  const d = rand(1, DISTRICTS);
  const c = rand(1, shape.customers);
  const count = rand(5, 15);
  const items = new Set<number>();
  while (items.size < count) items.add(rand(1, shape.items));
  await rows(conn, "SELECT w_tax FROM warehouse WHERE w_id = ?", [w]);
  const [district] = await rows(conn, "SELECT d_tax, d_next_o_id FROM district WHERE d_w_id = ? AND d_id = ? FOR UPDATE", [w, d]);
  const o = Number(district.d_next_o_id);
  await conn.query("UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = ? AND d_id = ?", [w, d]);
  await rows(conn, "SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?", [w, d, c]);
  await conn.query("INSERT INTO orders VALUES (?, ?, ?, ?, NOW(), NULL, ?, 1)", [o, d, w, c, count]);
  await conn.query("INSERT INTO new_order VALUES (?, ?, ?)", [o, d, w]);
  let n = 0;
  for (const i of items) {
    n++;
    const quantity = rand(1, 10);
    const [item] = await rows(conn, "SELECT i_price, i_name, i_data FROM item WHERE i_id = ?", [i]);
    const distCol = `s_dist_${String(d).padStart(2, "0")}`;
    const [stock] = await rows(conn, `SELECT s_quantity, ${distCol} AS dist, s_data FROM stock WHERE s_w_id = ? AND s_i_id = ? FOR UPDATE`, [w, i]);
    const left = Number(stock.s_quantity) - quantity;
    await conn.query("UPDATE stock SET s_quantity = ?, s_ytd = s_ytd + ?, s_order_cnt = s_order_cnt + 1 WHERE s_w_id = ? AND s_i_id = ?", [left >= 10 ? left : left + 91, quantity, w, i]);
    await conn.query("INSERT INTO order_line VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)", [o, d, w, n, i, w, quantity, (quantity * Number(item.i_price)).toFixed(2), stock.dist]);
  }
}

async function payment(conn: mysql.Connection, shape: TpccShape): Promise<void> {
  const w = rand(1, shape.warehouses);
  const d = rand(1, DISTRICTS);
  const amount = (rand(100, 500_000) / 100).toFixed(2);
  await conn.query("UPDATE warehouse SET w_ytd = w_ytd + ? WHERE w_id = ?", [amount, w]);
  const [warehouse] = await rows(conn, "SELECT w_name FROM warehouse WHERE w_id = ?", [w]);
  await conn.query("UPDATE district SET d_ytd = d_ytd + ? WHERE d_w_id = ? AND d_id = ?", [amount, w, d]);
  const [district] = await rows(conn, "SELECT d_name FROM district WHERE d_w_id = ? AND d_id = ?", [w, d]);
  let c = rand(1, shape.customers);
  if (Math.random() < 0.6) {
    // By last name: the middle one of those with that name, ordered by first name.
    const found = await rows(conn, "SELECT c_id FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_last = ? ORDER BY c_first", [w, d, lastName(rand(0, Math.min(shape.customers, 1000) - 1))]);
    if (found.length) c = Number(found[Math.floor((found.length - 1) / 2)].c_id);
  }
  const [customer] = await rows(conn, "SELECT c_credit, c_data FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ? FOR UPDATE", [w, d, c]);
  if (customer.c_credit === "BC") {
    const data = `${c} ${d} ${w} ${d} ${w} ${amount} | ${String(customer.c_data)}`.slice(0, 500);
    await conn.query("UPDATE customer SET c_balance = c_balance - ?, c_ytd_payment = c_ytd_payment + ?, c_payment_cnt = c_payment_cnt + 1, c_data = ? WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?", [amount, amount, data, w, d, c]);
  } else {
    await conn.query("UPDATE customer SET c_balance = c_balance - ?, c_ytd_payment = c_ytd_payment + ?, c_payment_cnt = c_payment_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?", [amount, amount, w, d, c]);
  }
  await conn.query("INSERT INTO history VALUES (?, ?, ?, ?, ?, NOW(), ?, ?)", [c, d, w, d, w, amount, `${String(warehouse.w_name)}    ${String(district.d_name)}`.slice(0, 24)]);
}

async function orderStatus(conn: mysql.Connection, shape: TpccShape): Promise<void> {
  const w = rand(1, shape.warehouses);
  const d = rand(1, DISTRICTS);
  const c = rand(1, shape.customers);
  await rows(conn, "SELECT c_balance, c_first, c_middle, c_last FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?", [w, d, c]);
  const [order] = await rows(conn, "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = ? AND o_d_id = ? AND o_c_id = ? ORDER BY o_id DESC LIMIT 1", [w, d, c]);
  if (order) await rows(conn, "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?", [w, d, order.o_id]);
}

/** Returns whether it wrote anything (with no undelivered order left, it writes nothing and reaches no binlog). */
async function delivery(conn: mysql.Connection, shape: TpccShape): Promise<boolean> {
  const w = rand(1, shape.warehouses);
  const carrier = rand(1, 10);
  let wrote = false;
  for (let d = 1; d <= DISTRICTS; d++) {
    const [no] = await rows(conn, "SELECT no_o_id FROM new_order WHERE no_w_id = ? AND no_d_id = ? ORDER BY no_o_id LIMIT 1 FOR UPDATE", [w, d]);
    if (!no) continue;
    const o = no.no_o_id;
    await conn.query("DELETE FROM new_order WHERE no_w_id = ? AND no_d_id = ? AND no_o_id = ?", [w, d, o]);
    const [order] = await rows(conn, "SELECT o_c_id FROM orders WHERE o_w_id = ? AND o_d_id = ? AND o_id = ?", [w, d, o]);
    await conn.query("UPDATE orders SET o_carrier_id = ? WHERE o_w_id = ? AND o_d_id = ? AND o_id = ?", [carrier, w, d, o]);
    await conn.query("UPDATE order_line SET ol_delivery_d = NOW() WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?", [w, d, o]);
    const [sum] = await rows(conn, "SELECT COALESCE(SUM(ol_amount), 0) AS total FROM order_line WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?", [w, d, o]);
    await conn.query("UPDATE customer SET c_balance = c_balance + ?, c_delivery_cnt = c_delivery_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?", [sum.total, w, d, order.o_c_id]);
    wrote = true;
  }
  return wrote;
}

async function stockLevel(conn: mysql.Connection, shape: TpccShape): Promise<void> {
  const w = rand(1, shape.warehouses);
  const d = rand(1, DISTRICTS);
  const [district] = await rows(conn, "SELECT d_next_o_id FROM district WHERE d_w_id = ? AND d_id = ?", [w, d]);
  const next = Number(district.d_next_o_id);
  await rows(conn, `SELECT COUNT(DISTINCT s_i_id) AS low FROM order_line JOIN stock ON s_w_id = ol_w_id AND s_i_id = ol_i_id
    WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id BETWEEN ? AND ? AND s_quantity < ?`, [w, d, next - 20, next - 1, rand(10, 20)]);
}

const DEADLOCK = new Set(["ER_LOCK_DEADLOCK", "ER_LOCK_WAIT_TIMEOUT"]);

/** One transaction BEGIN..COMMIT, retried from the start on a deadlock; returns whether it wrote. */
async function transaction(conn: mysql.Connection, body: () => Promise<boolean>, retries: { count: number }): Promise<boolean> {
  for (;;) {
    await conn.query("BEGIN");
    try {
      const wrote = await body();
      await conn.query("COMMIT");
      return wrote;
    } catch (err) {
      await conn.query("ROLLBACK").catch(() => undefined);
      if (!DEADLOCK.has((err as { code?: string }).code ?? "")) throw err;
      retries.count++;
    }
  }
}

/** Runs the mix from CLIENTS connections until `writes` writing transactions have committed. */
async function workload(master: Server, shape: TpccShape, writes: number): Promise<{ seconds: number; committed: Record<string, number>; retries: number }> {
  const committed: Record<string, number> = { newOrder: 0, payment: 0, delivery: 0, orderStatus: 0, stockLevel: 0 };
  const retries = { count: 0 };
  let claimed = 0;
  const started = Date.now();
  const client = async (): Promise<void> => {
    const conn = await connect(master);
    try {
      for (;;) {
        const p = Math.random() * 100;
        if (p < 8) {
          const reads = p < 4;
          await transaction(conn, async () => {
            await (reads ? orderStatus(conn, shape) : stockLevel(conn, shape));
            return false;
          }, retries);
          committed[reads ? "orderStatus" : "stockLevel"]++;
          continue;
        }
        if (claimed >= writes) return;
        claimed++;
        const kind = p < 53 ? "newOrder" : p < 96 ? "payment" : "delivery";
        const body = kind === "newOrder" ? async () => (await newOrder(conn, shape), true) : kind === "payment" ? async () => (await payment(conn, shape), true) : () => delivery(conn, shape);
        if (await transaction(conn, body, retries)) committed[kind]++;
        else claimed--; // nothing to deliver: no binlog transaction, try another
      }
    } finally {
      await conn.end();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return { seconds: (Date.now() - started) / 1000, committed, retries: retries.count };
}

// --- the measurement ---

/** The servers the scenario runs on: `native` is a single-thread native replica of `master`; the daemon replicates `master` to `dr`. */
export interface TpccServers {
  master: Server;
  dr: Server;
  native: Server;
  daemon: DaemonClient;
  daemonPid: number;
  /**
   * The servers flushed and purged before each contender starts (as the catch-up scenario does):
   * master, DR server and native replica when omitted; run.ts adds every other server of its lab.
   */
  settle?: Server[];
}

export interface TpccOptions extends TpccShape {
  /** Writing transactions in each run's backlog. */
  transactions: number;
  runs: number;
}

/** One run: who went first, each contender's catch-up, and the CPU seconds each process spent on it. */
export interface TpccRun {
  order: ("native" | "daemon")[];
  generated: { seconds: number; committed: Record<string, number>; retries: number };
  native: CatchUp;
  daemon: CatchUp;
  cpuSeconds: { daemon: number; drServer: number; nativeReplica: number };
  /** Seconds spent flushing dirty pages and purging before each contender started. */
  quiesceSeconds: { native: number; daemon: number };
}

export interface TpccResult {
  options: TpccOptions;
  runs: TpccRun[];
  daemonTxPerSec: ReturnType<typeof stats>;
  nativeTxPerSec: ReturnType<typeof stats>;
  /** Per run, native seconds over the daemon's (higher is better for the daemon). */
  daemonVsNative: ReturnType<typeof stats>;
  /** Per run, (daemon + DR server CPU) over the native replica's, for the same transactions. */
  cpuDaemonPlusDrVsNative: ReturnType<typeof stats>;
  cpuMsPerTransaction: { daemonPlusDr: ReturnType<typeof stats>; nativeReplica: ReturnType<typeof stats> };
  /** Whether the DR server and the native replica hold the master's rows afterwards (CHECKSUM TABLE of the nine tables). */
  sameData: { dr: boolean; native: boolean };
}

const TABLES = ["warehouse", "district", "customer", "history", "new_order", "orders", "order_line", "item", "stock"];

/**
 * The TPC-C-like catch-up scenario on running servers: creates the schema and the link, loads the
 * data, measures `runs` backlogs, checks the data, and deletes the link. The native replica ends
 * running and caught up.
 */
export async function runTpcc(s: TpccServers, options: TpccOptions): Promise<TpccResult> {
  // The schema on the master (the native replica gets it from the binlog) and on the DR server, then the link from there.
  const ddl = `CREATE DATABASE tpcc; USE tpcc; ${SCHEMA.join(";\n")}`;
  await s.master.sql(ddl);
  await s.dr.sql(ddl);
  await s.daemon.createLink({ name: LINK, source: s.master.url, target: s.dr.url, include: ["tpcc"], initial: "none" });
  log(`TPC-C loading: ${options.warehouses} warehouse(s) x ${DISTRICTS} districts x ${options.customers} customers, ${options.items} items`);
  const loadStarted = Date.now();
  await load(s.master, options);
  const loaded = await s.master.position();
  log(`TPC-C loaded in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s; waiting for the link and the native replica`);
  await timeUntilCovered(async () => (await s.daemon.getLink(LINK)).appliedGtid, loaded);
  await timeUntilCovered(() => nativeApplied(s.native), loaded);

  const runs: TpccRun[] = [];
  const probe = await positionProbe(s.native);
  const daemonProbe = await positionProbe(s.dr, LINK);
  try {
    for (let run = 0; run < options.runs; run++) {
      await Promise.all([s.daemon.pauseLink(LINK), stopReplica(s.native)]);
      log(`TPC-C run ${run + 1}: a backlog of ${options.transactions} writing transactions on the master`);
      const generated = await workload(s.master, options, options.transactions);
      const target = await s.master.position();
      log(`  generated in ${generated.seconds.toFixed(1)} s (${(options.transactions / generated.seconds).toFixed(0)} tx/s), ${JSON.stringify(generated.committed)}, ${generated.retries} deadlock retries`);
      const order = rotated<"native" | "daemon">(["native", "daemon"], run);
      const result: Partial<TpccRun> = { order, generated, cpuSeconds: { daemon: 0, drServer: 0, nativeReplica: 0 }, quiesceSeconds: { native: 0, daemon: 0 } };
      for (const who of order) {
        // Each contender starts on servers whose dirty pages are flushed and whose purge has caught
        // up: otherwise the second one shares the two cores with the background work of the
        // generation and of the first one's apply (and, in run.ts, of the copy scenario).
        result.quiesceSeconds![who] = await quiesce(s.settle ?? [s.master, s.dr, s.native]);
        if (who === "native") {
          const before = cpuSeconds(s.native.info.pid);
          result.native = await timeCatchUp(() => startReplica(s.native), probe.applied, target);
          result.cpuSeconds!.nativeReplica = cpuSeconds(s.native.info.pid) - before;
          await stopReplica(s.native);
        } else {
          const daemonBefore = cpuSeconds(s.daemonPid);
          const drBefore = cpuSeconds(s.dr.info.pid);
          result.daemon = await timeCatchUp(async () => void (await s.daemon.resumeLink(LINK)), daemonProbe.applied, target);
          result.cpuSeconds!.daemon = cpuSeconds(s.daemonPid) - daemonBefore;
          result.cpuSeconds!.drServer = cpuSeconds(s.dr.info.pid) - drBefore;
        }
      }
      const r = result as TpccRun;
      runs.push(r);
      const tps = (c: CatchUp) => (options.transactions / c.seconds).toFixed(0);
      log(`  ${order.join(" first, then ")}: native single-thread ${r.native.seconds.toFixed(2)} s (${tps(r.native)} tx/s, mysqld ${r.cpuSeconds.nativeReplica.toFixed(2)} s CPU); daemon ${r.daemon.seconds.toFixed(2)} s (${tps(r.daemon)} tx/s, first applied after ${r.daemon.firstApplySeconds.toFixed(2)} s, daemon ${r.cpuSeconds.daemon.toFixed(2)} s + DR mysqld ${r.cpuSeconds.drServer.toFixed(2)} s CPU); ratio ${(r.native.seconds / r.daemon.seconds).toFixed(2)}x; flushed for ${r.quiesceSeconds.native.toFixed(1)} / ${r.quiesceSeconds.daemon.toFixed(1)} s before native / daemon`);
    }
    await startReplica(s.native);
  } finally {
    await Promise.all([probe.close(), daemonProbe.close()]);
  }
  // The measurement counts only if both applied the same rows as the master (CHECKSUM TABLE sums per-row checksums: keyless history too).
  const checksums = await Promise.all([s.master, s.dr, s.native].map(async (server) => JSON.stringify(await server.sql(`CHECKSUM TABLE ${TABLES.map((t) => `tpcc.${t}`).join(", ")}`))));
  const sameData = { dr: checksums[1] === checksums[0], native: checksums[2] === checksums[0] };
  log(`TPC-C: same data as the master (CHECKSUM TABLE of the nine tables): DR server ${sameData.dr}, native replica ${sameData.native}`);
  await s.daemon.deleteLink(LINK);
  const msPerTx = (cpu: number) => (cpu * 1000) / options.transactions;
  return {
    options,
    runs,
    daemonTxPerSec: stats(runs.map((r) => options.transactions / r.daemon.seconds)),
    nativeTxPerSec: stats(runs.map((r) => options.transactions / r.native.seconds)),
    daemonVsNative: stats(runs.map((r) => r.native.seconds / r.daemon.seconds)),
    cpuDaemonPlusDrVsNative: stats(runs.map((r) => (r.cpuSeconds.daemon + r.cpuSeconds.drServer) / r.cpuSeconds.nativeReplica)),
    cpuMsPerTransaction: {
      daemonPlusDr: stats(runs.map((r) => msPerTx(r.cpuSeconds.daemon + r.cpuSeconds.drServer))),
      nativeReplica: stats(runs.map((r) => msPerTx(r.cpuSeconds.nativeReplica))),
    },
    sameData,
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Writes about `mib` MiB of binlog on the master: transactions of 100 rows of 2 KB in `filler`. */
async function fillBinlog(master: Server, mib: number): Promise<void> {
  if (mib <= 0) return;
  const started = Date.now();
  await master.sql("CREATE DATABASE filler; CREATE TABLE filler.t (id INT AUTO_INCREMENT PRIMARY KEY, b VARBINARY(2048))");
  const rows = Array.from({ length: 100 }, () => "(REPEAT('x', 2000))").join(", ");
  for (let done = 0; done < mib * 1024 * 1024; done += 100 * 2048) await master.sql(`INSERT INTO filler.t (b) VALUES ${rows}`);
  log(`binlog filled with ${mib} MiB of other transactions in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  const lab = new Lab();
  try {
    const [master, dr, native] = await Promise.all([lab.server("master"), lab.server("dr"), lab.server("native")]);
    for (const s of [dr, native]) log(`${s.info.name}: pid ${s.info.pid} (${fs.readFileSync(`/proc/${s.info.pid}/comm`, "utf8").trim()})`);
    await configureNativeReplica(native, master, 0);
    await startReplica(native);
    const daemon = await lab.startDaemon();
    await fillBinlog(master, arg("--binlog-mib", 0));
    const result = await runTpcc(
      { master, dr, native, daemon, daemonPid: lab.daemonPid },
      { warehouses: arg("--warehouses", 1), customers: arg("--customers", 300), items: arg("--items", 10_000), transactions: arg("--transactions", 5_000), runs: arg("--runs", 3) },
    );
    process.stdout.write(`${JSON.stringify({ ...result, daemonPeakRssMiB: lab.daemonPeakRssMiB() })}\n`);
  } finally {
    await lab.close();
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
