// The whole DR cycle by one property. `role: "primary"` promotes the DR server; the SyncLink then
// runs back to the old master as soon as it answers (read-only, catching up with the writes made on
// the new primary). `role: "replica"` again switches back: a planned switchover to the old master,
// after which the link runs forward again. `pulumi refresh` shows where the pair stands
// (cyclePhase) and whether the switch back is ready (failbackReady).
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();

const dr = new mysqldr.DrInstance("orders-dr", {
  master: { host: cfg.get("masterHost") ?? "127.0.0.1", port: cfg.getNumber("masterPort") ?? 3306, user: cfg.get("masterUser") ?? "dr", password: cfg.requireSecret("masterPassword") },
  local: { port: cfg.getNumber("drPort") ?? 3409, dataDir: cfg.get("dataDir") ?? ".dr/orders" },
  role: cfg.get("role") === "primary" ? "primary" : "replica",
  promotion: {
    timeoutSeconds: cfg.getNumber("promotionTimeoutSeconds") ?? 30,
    // When the master is gone: promote anyway. What it kept for itself is found when it comes back.
    allowDataLoss: cfg.getBoolean("allowDataLoss") ?? false,
    maxLagSeconds: cfg.getNumber("maxLagSeconds") ?? 5,
  },
  failback: {
    enabled: true,
    // "refuse" (the default) stops before the old master's own transactions and reports them;
    // "resync" replaces the tables they touched with the new primary's.
    onDivergence: cfg.get("onDivergence") === "resync" ? "resync" : "refuse",
  },
});

const link = new mysqldr.SyncLink("orders-sync", {
  instance: dr,
  objects: { include: ["orders"] },
  initialSync: "full",
});

export const role = dr.role;
export const cyclePhase = dr.cyclePhase;
export const failbackReady = dr.failbackReady;
export const divergence = dr.divergence;
export const lastSwitchBack = dr.lastSwitchBack;
export const direction = link.direction;
export const linkState = link.state;
