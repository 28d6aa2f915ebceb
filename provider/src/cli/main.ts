/**
 * The `mysql-dr` command line (a contract: see DESIGN.md). Every command prints one JSON object
 * with --json, a table otherwise; errors are one sentence on stderr and a non-zero exit.
 */
import * as v8 from "node:v8";
import { Command, CommanderError, Option } from "commander";
import Table from "cli-table3";
import * as cliProgress from "cli-progress";
import { DrError, errorMessage } from "../core/errors";
import { resolveStateDir } from "../core/state-dir";
import { DAEMON_HEAP_GROWING_PERCENT, DEFAULT_LISTEN } from "../daemon/defaults";
import type { LinkStatus } from "../daemon/link-runner";
import { startSandbox, stopSandbox } from "../sandbox/sandbox";
import { DaemonClient, type DaemonLocation } from "./daemon-client";
import { EXIT_ERROR, EXIT_USAGE } from "./exit-codes";
import { URL_SOURCES_HELP, type ServerUrlOptions, serverFromOptions, serverUrlOptions } from "./server-urls";
import { validatePatterns } from "../core/object-filter";
import { type VerifyReport, verify } from "../verify/verifier";
import type { BarrierReport } from "../verify/barrier-verifier";
import type { DrillReport } from "../drill/drill";
import type { FailbackRequest } from "../daemon/request-schemas";

/** verify's and drill's own codes: a check failed (differences remain, not writable), or it could not run. */
const EXIT_CHECK_FAILED = 1;
const EXIT_CHECK_ERROR = 2;

export function buildProgram(): Command {
  const program = new Command("mysql-dr")
    .description("Disaster-recovery copies of MySQL and MariaDB databases, kept in sync from the master's binlog.")
    // Usage errors follow the same contract as every other error: one line on stderr.
    .configureOutput({ outputError: (text, write) => write(usageError(text)) })
    .exitOverride();

  program
    .command("daemon")
    .description("run the replication daemon (hosts many links; control API on --listen)")
    .option("--listen <host:port>", "control API address", DEFAULT_LISTEN)
    .option("--state-dir <dir>", "state directory (default: $MYSQL_DR_STATE_DIR or ~/.mysql-dr)")
    .option("--tls-cert <file>", "serve the control API over HTTPS with this PEM certificate (chain); needs --tls-key")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option("--insecure-http", "allow plain HTTP on a non-loopback --listen address (the token and link passwords cross the network in clear)")
    .action(async (o: { listen: string; stateDir?: string; tlsCert?: string; tlsKey?: string; insecureHttp?: boolean }) => {
      boundDaemonHeapGrowth();
      // Loaded for this command only: every other command starts faster without the daemon's modules.
      const { startDaemon } = await import("../daemon/daemon.js");
      const daemon = await startDaemon({ stateDir: resolveStateDir(o.stateDir), listen: o.listen, tlsCert: o.tlsCert, tlsKey: o.tlsKey, insecureHttp: o.insecureHttp === true });
      const shutdown = () => void daemon.stop().then(() => process.exit(0));
      process.once("SIGTERM", shutdown);
      process.once("SIGINT", shutdown);
      await new Promise(() => undefined);
    });

  const link = program.command("link").description("create, inspect and control replication links");
  const create = withDaemon(link.command("create <name>"))
    .description("check both servers and start replicating from --source to --target");
  serverUrlOptions(create, "source", "the master");
  serverUrlOptions(create, "target", "the DR server")
    .addHelpText("after", URL_SOURCES_HELP)
    .option("--include <pattern>", "replicate only db or db.table (* allowed); repeatable", collect, [])
    .option("--exclude <pattern>", "do not replicate db or db.table (* allowed); repeatable", collect, [])
    .addOption(new Option("--initial <mode>", "full: create and copy the selected tables first; none: start from the DR checkpoint or the master's current position").choices(["full", "none"]).default("none"))
    .option("--overwrite", "with --initial full: empty selected DR tables that already hold rows instead of refusing")
    .option("--parallel <n>", "with --initial full: connections copying in parallel", parsePositive)
    .option("--on-missing-row <mode>", "an UPDATE or DELETE finding no row on the DR server: error (stop the link, as native replication does) or skip-and-count", "error")
    .option("--reuse-promoted", "create the link even though the DR server was promoted (writes made on it as a primary may be overwritten)")
    .addOption(failbackOption())
    .option("--wait", "wait until the copy is done and the link is in sync, drawing a progress bar")
    .action(async (name: string, o: DaemonLocation & ServerUrlOptions & { include: string[]; exclude: string[]; initial: string; overwrite?: boolean; parallel?: number; onMissingRow: string; reusePromoted?: boolean; failback?: string; wait?: boolean; json?: boolean }) => {
      // Parsed here and sent as objects: the certificate files are on this machine, not the daemon's.
      const source = serverFromOptions(o, "source", true);
      const target = serverFromOptions(o, "target", true);
      const c = client(o);
      let status = await c.createLink({ name, source, target, include: o.include, exclude: o.exclude, initial: o.initial, overwrite: o.overwrite, parallel: o.parallel, onMissingRow: o.onMissingRow, reusePromoted: o.reusePromoted, failback: failbackRequest(o.failback) });
      if (o.wait) status = await waitInSync(c, name, !o.json);
      print(o, status, () => statusTable([status]));
    });
  withDaemon(link.command("update <name>"))
    .description("change a link's selection; tables that become selected are copied, then join the stream")
    .option("--include <pattern>", "the new include patterns (replace the current ones); repeatable", collect)
    .option("--exclude <pattern>", "the new exclude patterns (replace the current ones); repeatable", collect)
    .option("--overwrite", "empty newly selected DR tables that already hold rows instead of refusing")
    .option("--on-missing-row <mode>", "change what an UPDATE or DELETE finding no row does: error or skip-and-count")
    .addOption(failbackOption())
    .option("--wait", "wait until the new tables are copied and in sync, drawing a progress bar")
    .action(async (name: string, o: DaemonLocation & { include?: string[]; exclude?: string[]; overwrite?: boolean; onMissingRow?: string; failback?: string; wait?: boolean; json?: boolean }) => {
      const c = client(o);
      let status = await c.updateLink(name, { include: o.include, exclude: o.exclude, overwrite: o.overwrite, onMissingRow: o.onMissingRow, failback: failbackRequest(o.failback) });
      if (o.wait) status = await waitInSync(c, name, !o.json);
      print(o, status, () => statusTable([status]));
    });
  withDaemon(link.command("status [name]"))
    .description("show one link, or all links")
    .action(async (name: string | undefined, o: DaemonLocation & { json?: boolean }) => {
      if (name) {
        const status = await client(o).getLink(name);
        print(o, status, () => statusTable([status]));
      } else {
        const links = await client(o).listLinks();
        print(o, { links }, () => (links.length ? statusTable(links) : "no links"));
      }
    });
  for (const verb of ["pause", "resume", "delete"] as const) {
    withDaemon(link.command(`${verb} <name>`))
      .description(`${verb} a link`)
      .action(async (name: string, o: DaemonLocation & { json?: boolean }) => {
        const c = client(o);
        if (verb === "delete") {
          await c.deleteLink(name);
          print(o, { deleted: name }, () => `link ${name} deleted (the DR data and its checkpoint are kept)`);
          return;
        }
        const status = verb === "pause" ? await c.pauseLink(name) : await c.resumeLink(name);
        print(o, status, () => statusTable([status]));
      });
  }

  const verifyCommand = program
    .command("verify")
    .description("compare the selected tables of a master and its DR copy by chunk checksums; exit 0 identical, 1 different, 2 error");
  serverUrlOptions(verifyCommand, "source", "the master");
  serverUrlOptions(verifyCommand, "target", "the DR server")
    .addHelpText("after", URL_SOURCES_HELP)
    .option("--include <pattern>", "verify only db or db.table (* allowed); repeatable", collect, [])
    .option("--exclude <pattern>", "do not verify db or db.table (* allowed); repeatable", collect, [])
    .option("--link <name>", "verify a daemon's link instead (its servers and selection); the result shows in its status")
    .option("--at-barrier", "with --link: compare both servers at one GTID (the link is held there a moment) instead of live; no rechecks, and the result carries a proof")
    .option("--barrier-timeout <seconds>", "with --at-barrier: how long the link may take to reach the barrier (default 60)", parsePositive)
    .option("--repair", "rewrite the differing rows on the DR server from the master, then verify again")
    .option("--parallel <n>", "sessions per server: tables, or key ranges of a table, compared at once (default 4)", parsePositive)
    .option("--daemon <url>", "with --link: daemon control URL")
    .option("--daemon-ca <file>", "with --link: the CA that signed an HTTPS daemon's certificate (PEM)")
    .option("--token <token>", "with --link: daemon token")
    .option("--state-dir <dir>", "with --link: state directory")
    .option("--json", "print one JSON object")
    .action(async (o: DaemonLocation & ServerUrlOptions & { include: string[]; exclude: string[]; link?: string; atBarrier?: boolean; barrierTimeout?: number; repair?: boolean; parallel?: number; json?: boolean }) => {
      let report: VerifyReport | BarrierReport;
      try {
        if (o.atBarrier && !o.link) throw new DrError("BAD_INPUT", "--at-barrier needs --link NAME: the barrier is a position the daemon's link is held at.");
        if (o.link) {
          report = await client(o).verifyLink(o.link, { repair: o.repair === true, ...(o.atBarrier ? { atBarrier: true, barrierTimeoutSeconds: o.barrierTimeout } : {}) });
        } else {
          const source = serverFromOptions(o, "source", true);
          const target = serverFromOptions(o, "target", true);
          validatePatterns(o.include, "--include");
          validatePatterns(o.exclude, "--exclude");
          report = await verify({
            source,
            target,
            objects: { include: o.include, exclude: o.exclude },
            repair: o.repair === true,
            parallelism: o.parallel,
          });
        }
      } catch (err) {
        throw Object.assign(err as Error, { exitCode: EXIT_CHECK_ERROR });
      }
      print(o, report, () => verifyTable(report));
      if (!report.identical) throw Object.assign(new Error(""), { exitCode: EXIT_CHECK_FAILED, silent: true });
    });

  withDaemon(program.command("drill"))
    .description("rehearse a failover: copy a link's DR copy at one GTID into a throwaway local server, promote it, check it takes writes and holds the same data, measure RTO and RPO, remove it; exit 0 passed, 1 a check failed, 2 error")
    .requiredOption("--link <name>", "the link whose DR copy to drill (the daemon runs it; production servers are only read)")
    .option("--record", "keep the figures as the link's last drill, for link status and a DrInstance's lastDrill output (one row in mysql_dr.drill on the DR server)")
    .action(async (o: DaemonLocation & { link: string; record?: boolean; json?: boolean }) => {
      let report: DrillReport;
      try {
        report = await client(o).drillLink(o.link, o.record === true);
      } catch (err) {
        throw Object.assign(err as Error, { exitCode: EXIT_CHECK_ERROR });
      }
      print(o, report, () => drillTable(report, o.record === true));
      if (!report.identical || !report.writable) throw Object.assign(new Error(""), { exitCode: EXIT_CHECK_FAILED, silent: true });
    });

  const promoteCommand = program
    .command("promote")
    .description("make a DR server writable, fencing the links that apply to it; planned (zero loss) when --source answers, forced with --force otherwise");
  serverUrlOptions(promoteCommand, "target", "the DR server to promote (required)");
  serverUrlOptions(promoteCommand, "source", "the master: made read-only, and waited for until the DR copy applied all of it")
    .addHelpText("after", URL_SOURCES_HELP)
    .option("--force", "promote without the master (its unapplied transactions are lost; what is known of them is reported)")
    .option("--timeout <seconds>", "planned: how long to wait for the DR copy to catch up", parsePositive)
    .option("--json", "print one JSON object")
    .action(async (o: ServerUrlOptions & { force?: boolean; timeout?: number; json?: boolean }) => {
      const { promote } = await import("../promote/promoter.js");
      const result = await promote({
        target: serverFromOptions(o, "target", true),
        master: serverFromOptions(o, "source", false),
        allowDataLoss: o.force === true,
        timeoutSeconds: o.timeout,
      });
      print(o, result, () => `promoted (${result.mode}) at ${result.promotedAt}; applied master GTIDs ${result.promotedGtid || "-"}; fenced links: ${result.fencedLinks.join(", ") || "none"}${result.autoIncrementsRaised.length ? `; AUTO_INCREMENT raised to the master's on ${result.autoIncrementsRaised.map((r) => r.table).join(", ")}` : ""}${result.triggersCreated.length ? `; triggers created: ${result.triggersCreated.join(", ")}` : ""}${result.eventsEnabled.length ? `; events enabled: ${result.eventsEnabled.join(", ")}` : ""}${result.dataLoss ? `; data loss: ${result.dataLoss.summary}` : ""}`);
    });

  const sandbox = program.command("sandbox").description("local MySQL/MariaDB servers with binlog and GTIDs on, for demos and tests");
  sandbox
    .command("start <name>")
    .description("start (initializing on first use) a local server from the mariadbd or mysqld on PATH")
    .option("--port <n>", "TCP port (default: a free one)", parsePort)
    .option("--dir <dir>", "data directory (default: <state-dir>/sandboxes/<name>)")
    .option("--state-dir <dir>", "state directory")
    .option("--json", "print one JSON object")
    .action(async (name: string, o: { port?: number; dir?: string; stateDir?: string; json?: boolean }) => {
      const info = await startSandbox({ name, port: o.port, dir: o.dir, stateDir: o.stateDir });
      print(o, info, () => info.url);
    });
  sandbox
    .command("stop <name>")
    .description("stop a sandbox server (its data is kept)")
    .option("--dir <dir>", "data directory")
    .option("--state-dir <dir>", "state directory")
    .option("--json", "print one JSON object")
    .action(async (name: string, o: { dir?: string; stateDir?: string; json?: boolean }) => {
      await stopSandbox({ name, dir: o.dir, stateDir: o.stateDir });
      print(o, { stopped: name }, () => `sandbox ${name} stopped`);
    });
  return program;
}

function withDaemon(cmd: Command): Command {
  return cmd
    .option("--daemon <url>", "daemon control URL (default: $MYSQL_DR_DAEMON or the state directory)")
    .option("--daemon-ca <file>", "the CA that signed an HTTPS daemon's certificate, PEM (default: $MYSQL_DR_DAEMON_CA, else the system's CAs)")
    .option("--token <token>", "daemon token (default: $MYSQL_DR_TOKEN or the state directory)")
    .option("--state-dir <dir>", "state directory (default: $MYSQL_DR_STATE_DIR or ~/.mysql-dr)")
    .option("--json", "print one JSON object");
}

function client(o: DaemonLocation): DaemonClient {
  return new DaemonClient({ daemon: o.daemon, token: o.token, stateDir: o.stateDir, daemonCa: o.daemonCa });
}

function print(o: { json?: boolean }, value: unknown, human: () => string): void {
  process.stdout.write((o.json ? JSON.stringify(value) : human()) + "\n");
}

/** After a promotion: run back to the old master (refusing, or resyncing, over its own transactions), or not at all. */
const failbackOption = () => new Option("--failback <mode>", "after a promotion, run the link back to the old master: refuse (stop before transactions found only there; the default), resync (re-copy the tables they touched) or off").choices(["refuse", "resync", "off"]);

function failbackRequest(mode: string | undefined): FailbackRequest | undefined {
  if (mode === undefined) return undefined;
  return mode === "off" ? { enabled: false } : { enabled: true, onDivergence: mode };
}

export function statusTable(links: LinkStatus[]): string {
  const table = new Table({ head: ["link", "state", "lag (s)", "unapplied", "rows applied", "applied GTID", "source GTID", "promotion", "last error"], style: { head: [], border: [] }, wordWrap: true, colWidths: [null, null, null, null, null, 30, 30, 30, 40] as number[] });
  for (const s of links) {
    const promotion = s.promotionReady === null ? "-" : s.promotionReady ? "ready" : `blocked: ${s.promotionBlockers.join(" ")}`;
    table.push([s.name, s.state + (s.lagSource === "event-timestamps" ? " *" : ""), s.lagSeconds === null ? "-" : s.lagSeconds.toFixed(3), s.unappliedTransactions === null ? "-" : String(s.unappliedTransactions), String(s.rowsApplied), s.appliedGtid ?? "-", s.sourceGtid ?? "-", promotion, s.lastError ?? ""]);
  }
  const note = links.some((s) => s.lagSource === "event-timestamps") ? "\n* lag from binlog event timestamps (no right to write the heartbeat on the master)" : "";
  return table.toString() + note;
}

export function verifyTable(report: VerifyReport | BarrierReport): string {
  const table = new Table({ head: ["table", "rows compared", "chunks", "mismatched", "missing on DR", "extra on DR", "different", "repaired"], style: { head: [], border: [] } });
  const lines: string[] = [];
  for (const t of report.tables) {
    const count = (keys: unknown[][]) => keys.length;
    table.push([t.table + (t.keyless ? " (no key)" : ""), String(t.rowsCompared), String(t.chunks), String(t.chunksMismatched), String(count(t.missingOnDr)), String(count(t.extraOnDr)), String(count(t.different)), String(t.rowsRepaired)]);
    for (const [label, keys] of [["missing on DR", t.missingOnDr], ["extra on DR", t.extraOnDr], ["different", t.different]] as const) {
      for (const key of keys) lines.push(`  ${t.table} ${label}: ${JSON.stringify(key)}`);
    }
    if (t.moreDifferences) lines.push(`  ${t.table}: ${t.moreDifferences} more differences not listed`);
  }
  const verdict = report.identical ? "identical" : "DIFFERENT";
  const caveat = report.catchUpTimedOut ? " (the DR server did not catch up with the master during the check: differences may be lag)" : "";
  const proof = "proof" in report ? [`at GTID barrier ${report.proof.gtid} (${report.proof.at}); proof digest ${report.proof.digest}${report.repairGtid ? `; repaired at ${report.repairGtid}` : ""}`] : [];
  return [table.toString(), ...lines, ...proof, `${verdict}: ${report.rowsCompared} rows in ${(report.durationMs / 1000).toFixed(1)} s (${report.rowsPerSecond} rows/s)${caveat}`].join("\n");
}

export function drillTable(r: DrillReport, recorded = false): string {
  const table = new Table({ style: { head: [], border: [] }, wordWrap: true, colWidths: [null, 60] as number[] });
  table.push(
    ["link", r.link],
    ["DR copy at GTID", r.gtid || "-"],
    ["master at that moment", r.masterGtid ?? `unknown (${r.masterError})`],
    ["RPO (transactions)", r.rpoTransactions === null ? "unknown" : String(r.rpoTransactions)],
    ["RTO (promotion, ms)", String(r.rtoMs)],
    ["identical", `${r.identical ? "yes" : "NO"} (${r.tables.length} tables, ${r.rowsCopied} rows)`],
    ["writable", `${r.writable ? "yes" : "NO"}${r.readOnlyBeforePromotion ? "" : " (but it was writable before the promotion too)"}`],
  );
  const differing = r.tables.filter((t) => !t.identical).map((t) => `  differs from the DR copy: ${t.table}`);
  const verdict = r.identical && r.writable ? "drill passed" : "DRILL FAILED";
  return [table.toString(), ...differing, `${verdict} in ${(r.durationMs / 1000).toFixed(1)} s; sandbox removed${recorded ? "; recorded as the link's last drill" : ""}`].join("\n");
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const WAIT_POLL_MS = 500;

/** Polls the link until it is in sync (or stopped), drawing the copy's progress on a terminal. */
async function waitInSync(c: DaemonClient, name: string, draw: boolean): Promise<LinkStatus> {
  const bar = draw && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: "{phase} |{bar}| {percentage}% {value}/{total} rows, tables {tablesDone}/{tablesTotal}, ETA {eta_formatted}", stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(1, 0, { phase: "starting", tablesDone: 0, tablesTotal: 0 });
  try {
    for (;;) {
      const s = await c.getLink(name);
      if (s.state === "error") throw new DrError("APPLY_FAILED", `Link ${name} stopped: ${s.lastError}`);
      if (s.copy) {
        bar?.setTotal(Math.max(1, s.copy.rowsEstimated));
        bar?.update(s.copy.rowsCopied, { phase: s.phase, tablesDone: s.copy.tablesDone, tablesTotal: s.copy.tablesTotal });
      }
      if (s.state === "running" && s.phase === "syncing") {
        bar?.update(bar.getTotal(), { phase: "syncing" });
        return s;
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  } finally {
    bar?.stop();
  }
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new DrError("BAD_INPUT", `${JSON.stringify(value)} is not a positive whole number.`);
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DrError("BAD_INPUT", `--port ${JSON.stringify(value)} is not a TCP port (1-65535).`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed the usage error (or the help, which is not an error).
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const e = err as { exitCode?: number; silent?: boolean };
    if (!e.silent) process.stderr.write(`mysql-dr: ${oneSentence(errorMessage(err))}\n`);
    return e.exitCode ?? EXIT_ERROR;
  }
}

/** commander's "error: required option ... not specified" as one `mysql-dr: ...` line. */
function usageError(text: string): string {
  const what = oneSentence(text.trim()).replace(/^error:\s*/i, "").replace(/\.$/, "");
  return `mysql-dr: ${what}; run with --help for usage.\n`;
}

function oneSentence(message: string): string {
  return message.replace(/\s*\n\s*/g, " ");
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}

/**
 * A daemon started without DAEMON_NODE_FLAGS (daemon/defaults.ts: why) still gets the heap growth,
 * the one of them V8 takes after start; an operator's own setting is left alone.
 */
function boundDaemonHeapGrowth(): void {
  const set = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((flag) => flag.includes("heap-growing-percent"));
  if (!set) v8.setFlagsFromString(`--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`);
}
