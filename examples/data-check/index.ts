// A DR copy of the shop database, verified at a GTID barrier by a DataCheck. The check runs when it
// is created and again whenever `checkRound` changes (pulumi config set checkRound 2 && pulumi up),
// for example from a nightly CI job; a difference fails the `up` and names the table, unless
// `repair` is set, which rewrites the differing rows from the master and checks again.
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();

const dr = new mysqldr.DrInstance("shop-dr", {
  master: { host: cfg.get("masterHost") ?? "127.0.0.1", port: cfg.getNumber("masterPort") ?? 3306, user: cfg.get("masterUser") ?? "dr", password: cfg.requireSecret("masterPassword") },
  local: { port: cfg.getNumber("drPort") ?? 3409, dataDir: cfg.get("dataDir") ?? ".dr/shop" },
  role: "replica",
});

const link = new mysqldr.SyncLink("shop-sync", {
  instance: dr,
  objects: { include: ["shop"] },
  initialSync: "full",
});

const check = new mysqldr.DataCheck("shop-check", {
  link,
  triggers: [cfg.get("checkRound") ?? "1"],
  repair: cfg.getBoolean("repair") ?? false,
  failOnDifference: true,
});

export const checkResult = check.result;
export const checkedAtGtid = check.gtid;
export const rowsChecked = check.rowsChecked;
export const differences = check.differences;
export const proofDigest = check.proofDigest;
