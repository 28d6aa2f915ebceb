/** Prometheus metrics for /metrics, read from the links' status snapshots at scrape time. */
import * as client from "prom-client";
import { LINK_STATES, type LinkStatus } from "./link-runner";

export class Metrics {
  private readonly registry = new client.Registry();

  constructor(links: () => LinkStatus[]) {
    client.collectDefaultMetrics({ register: this.registry, prefix: "mysql_dr_daemon_" });
    const gauge = (name: string, help: string, value: (s: LinkStatus) => number | null, labels: string[] = ["link"]) =>
      new client.Gauge({
        name,
        help,
        labelNames: labels,
        registers: [this.registry],
        collect() {
          this.reset();
          for (const s of links()) {
            const v = value(s);
            if (v !== null) this.set({ link: s.name }, v);
          }
        },
      });
    gauge("mysql_dr_link_lag_seconds", "Seconds the DR copy is behind the master (heartbeat-based).", (s) => s.lagSeconds);
    gauge("mysql_dr_link_rows_applied", "Rows applied to the DR server since the link was created.", (s) => s.rowsApplied);
    gauge("mysql_dr_link_transactions_applied", "Source transactions applied since the link was created.", (s) => s.transactionsApplied);
    gauge("mysql_dr_link_missing_rows_skipped", "UPDATEs and DELETEs that found no row on the DR server and were skipped (onMissingRow skip-and-count).", (s) => s.missingRowsSkipped);
    new client.Gauge({
      name: "mysql_dr_link_state",
      help: "1 for the link's current state.",
      labelNames: ["link", "state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of links()) for (const st of LINK_STATES) this.set({ link: s.name, state: st }, s.state === st ? 1 : 0);
      },
    });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
