// For CI: `pulumi up` runs in a short-lived job, so the link runs on a daemon that lives
// elsewhere (a systemd service, a container, a Kubernetes pod) and the program only talks to it.
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();

const dr = new mysqldr.DrInstance("app-dr", {
  master: { host: cfg.require("masterHost"), port: cfg.requireNumber("masterPort"), user: cfg.require("masterUser"), password: cfg.requireSecret("masterPassword") },
  server: { host: cfg.require("drHost"), port: cfg.requireNumber("drPort"), user: cfg.require("drUser"), password: cfg.requireSecret("drPassword") },
});

const link = new mysqldr.SyncLink("app-sync", {
  instance: dr,
  initialSync: "none",
  daemon: { url: cfg.require("daemonUrl"), token: cfg.requireSecret("daemonToken") },
});

// Plain values (never secrets), so `pulumi stack output --json | ./dr-gate.sh` can fail the job.
export const state = link.state;
export const lagSeconds = link.lagSeconds;
export const unappliedTransactions = link.unappliedTransactions;
