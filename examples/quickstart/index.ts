// A local DR copy of a master: the provider starts a local MariaDB/MySQL server (the embedded
// default), a local replication daemon, copies the selected databases and keeps them in sync.
import * as pulumi from "@pulumi/pulumi";
import * as mysqldr from "pulumi-mysql-dr";

const cfg = new pulumi.Config();
const master = {
  host: cfg.get("masterHost") ?? "127.0.0.1",
  port: cfg.getNumber("masterPort") ?? 3306,
  user: cfg.get("masterUser") ?? "dr",
  password: cfg.requireSecret("masterPassword"),
};

const dr = new mysqldr.DrInstance("orders-dr", {
  master,
  local: { port: cfg.getNumber("drPort") ?? 3407, dataDir: cfg.get("dataDir") ?? ".dr/orders" },
  role: "replica",
});

const link = new mysqldr.SyncLink("orders-sync", {
  instance: dr,
  objects: { include: cfg.getObject<string[]>("include") ?? ["shop"], exclude: cfg.getObject<string[]>("exclude") ?? [] },
  initialSync: "full",
});

export const drEndpoint = dr.endpoint;
export const linkState = link.state;
export const lagSeconds = link.lagSeconds;
