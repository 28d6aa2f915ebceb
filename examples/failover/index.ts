// Promotion by a property change: set `role` to "primary" (pulumi config set role primary) and run
// `pulumi up`. With the master reachable this is a planned switchover with zero loss; when it is
// gone, set `allowDataLoss` to promote anyway.
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();

const dr = new mysqldr.DrInstance("payments-dr", {
  master: { host: cfg.get("masterHost") ?? "127.0.0.1", port: cfg.getNumber("masterPort") ?? 3306, user: cfg.get("masterUser") ?? "dr", password: cfg.requireSecret("masterPassword") },
  local: { port: cfg.getNumber("drPort") ?? 3408, dataDir: cfg.get("dataDir") ?? ".dr/payments" },
  role: cfg.get("role") === "primary" ? "primary" : "replica",
  promotion: {
    timeoutSeconds: cfg.getNumber("promotionTimeoutSeconds") ?? 30,
    allowDataLoss: cfg.getBoolean("allowDataLoss") ?? false,
    // Guardrails: `pulumi preview` names the one that would block the promotion, and `up` refuses it.
    maxLagSeconds: cfg.getNumber("maxLagSeconds") ?? 5,
    maxOpenTransactionSeconds: cfg.getNumber("maxOpenTransactionSeconds") ?? 30,
    // Off unless set: a verification without differences (mysql-dr verify --link payments-sync) within this many minutes.
    requireVerifiedWithinMinutes: cfg.getNumber("requireVerifiedWithinMinutes"),
  },
});

const link = new mysqldr.SyncLink("payments-sync", {
  instance: dr,
  objects: { include: ["payments"] },
  initialSync: "full",
});

export const role = dr.role;
export const promotedAt = dr.promotedAt;
export const promotedGtid = dr.promotedGtid;
export const unappliedGtid = dr.unappliedGtid;
export const linkState = link.state;
