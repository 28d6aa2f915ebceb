/**
 * The daemon's links: creates them after the prechecks, keeps their definitions on disk and a
 * runner for each in memory. The control API calls only this.
 */
import { formatHostPort } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";
import { DrError } from "../core/errors";
import { checkSource, checkTarget, currentGtidPosition, inspectServer } from "../core/server-inspector";
import { initCheckpoint, lockName } from "./checkpoint-store";
import { HEARTBEAT_TABLE } from "./heartbeat";
import { type LinkDefinition, type LinkRequest, parseLinkRequest, validateLinkName } from "./link-definition";
import { type LinkRunnerHooks, type LinkStatus, LinkRunner } from "./link-runner";
import type { LinkStore } from "./link-store";

export class LinkManager {
  private readonly runners = new Map<string, LinkRunner>();

  constructor(private readonly store: LinkStore, private readonly hooks: LinkRunnerHooks) {}

  /** Starts every persisted link that is not paused. */
  restore(): void {
    for (const def of this.store.load()) {
      const runner = new LinkRunner(def, this.hooks);
      this.runners.set(def.name, runner);
      if (def.paused) void runner.stop("paused");
      else runner.start();
    }
  }

  /** Snapshots without I/O, for metrics. */
  snapshot(): LinkStatus[] {
    return [...this.runners.values()].map((r) => r.status());
  }

  list(): Promise<LinkStatus[]> {
    return Promise.all([...this.runners.values()].map((r) => r.freshStatus()));
  }

  get(name: string): Promise<LinkStatus> {
    return this.runner(name).freshStatus();
  }

  /** Validates, checks both servers, records the starting position on the DR server, then starts. */
  async create(req: LinkRequest): Promise<LinkStatus> {
    const def = parseLinkRequest(req);
    if (this.runners.has(def.name)) {
      throw new DrError("CONFLICT", `Link ${def.name} exists already; delete it first or choose another name.`);
    }
    await prepareLink(def);
    const runner = new LinkRunner(def, this.hooks);
    this.runners.set(def.name, runner);
    this.persist();
    runner.start();
    return runner.status();
  }

  async pause(name: string): Promise<LinkStatus> {
    const runner = this.runner(name);
    runner.definition.paused = true;
    this.persist();
    await runner.stop("paused");
    return runner.status();
  }

  async resume(name: string): Promise<LinkStatus> {
    const runner = this.runner(name);
    runner.definition.paused = false;
    this.persist();
    await runner.stop("starting");
    runner.start();
    return runner.status();
  }

  /** Stops and forgets the link; the DR data and its checkpoint stay (a new link of the same name resumes from it). */
  async delete(name: string): Promise<void> {
    const runner = this.runner(name);
    await runner.stop("paused");
    this.runners.delete(name);
    this.persist();
    await removeHeartbeatRow(runner.definition).catch(() => undefined);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.stop("paused")));
  }

  private runner(name: string): LinkRunner {
    validateLinkName(name);
    const runner = this.runners.get(name);
    if (!runner) throw new DrError("NOT_FOUND", `There is no link named ${name}; list links with 'mysql-dr link status'.`);
    return runner;
  }

  private persist(): void {
    this.store.save([...this.runners.values()].map((r) => r.definition));
  }
}

/** "Save and verify": every check runs before the one write (the checkpoint row on the DR server). */
async function prepareLink(def: LinkDefinition): Promise<void> {
  const connections: Connection[] = [];
  try {
    const source = await openConnection(def.source, "source");
    connections.push(source);
    const target = await openConnection(def.target, "target");
    connections.push(target);
    const [sourceFacts, targetFacts] = await Promise.all([inspectServer(source), inspectServer(target)]);
    checkSource(sourceFacts, def.source);
    checkTarget(targetFacts, sourceFacts, def.target);
    const [held] = await target.query("SELECT IS_USED_LOCK(?) AS holder", [lockName(def.name)]);
    const holder = (held as { holder: number | null }[])[0].holder;
    if (holder !== null) {
      throw new DrError("CONFLICT", `Link ${def.name} is already being applied to the DR server at ${formatHostPort(def.target)} by another daemon (connection ${holder} holds lock ${lockName(def.name)}); delete it there or choose another name.`);
    }
    await initCheckpoint(target, def.name, await currentGtidPosition(source, sourceFacts.flavor));
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => undefined)));
  }
}

async function removeHeartbeatRow(def: LinkDefinition): Promise<void> {
  const source = await openConnection(def.source, "source");
  try {
    await source.query(`DELETE FROM ${HEARTBEAT_TABLE.db}.${HEARTBEAT_TABLE.table} WHERE link = ? /* mysql-dr heartbeat */`, [def.name]);
  } finally {
    await source.end().catch(() => undefined);
  }
}
