// DR copy on a server you already run: the provider checks it, makes it read-only, and a local
// daemon keeps it in sync with the master.
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();

const dr = new mysqldr.DrInstance("billing-dr", {
  master: { host: cfg.require("masterHost"), port: cfg.requireNumber("masterPort"), user: cfg.require("masterUser"), password: cfg.requireSecret("masterPassword") },
  server: { host: cfg.require("drHost"), port: cfg.requireNumber("drPort"), user: cfg.require("drUser"), password: cfg.requireSecret("drPassword") },
});

const link = new mysqldr.SyncLink("billing-sync", {
  instance: dr,
  objects: { include: ["billing"], exclude: ["billing.tmp_*"] },
  initialSync: "full",
});

export const drVersion = dr.version;
export const readOnly = dr.readOnly;
export const lagSeconds = link.lagSeconds;
export const rowsApplied = link.rowsApplied;
