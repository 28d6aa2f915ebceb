/**
 * DrInstance handlers: thin over the sandbox, the server inspector and the promoter. `server`
 * mode checks an existing server and makes it read-only; `local` mode starts a local server
 * through the sandbox code. Changing `role` to "primary" promotes it.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { openConnection } from "../core/db";
import { DrError } from "../core/errors";
import { checkSource, checkTarget, inspectServer } from "../core/server-inspector";
import { type DataLoss, promote, setReadOnly } from "../promote/promoter";
import { startSandbox, stopSandbox } from "../sandbox/sandbox";
import type { DrInstanceOutputs as GeneratedOutputs, LocalServer, PromotionOptions, ServerConnection } from "../../../sdk/types.generated";
import { toAddress } from "./connections";
import { diffInputs } from "./resource-diff";
import { type CheckFailure, validateInputs } from "./schema";

const RESOURCE = "DrInstance";
const LOCAL_USER = "root";
const LOCAL_HOST = "127.0.0.1";

/** The checked inputs (defaults filled), as plain values. */
export interface DrInstanceInputs {
  master: ServerConnection;
  server?: ServerConnection;
  local?: LocalServer;
  role: "replica" | "primary";
  promotion?: PromotionOptions;
}

/** schema.json's outputs, plus the inputs they carry (diff compares those). */
export type DrInstanceOutputs = GeneratedOutputs & DrInstanceInputs;

export async function check(_olds: unknown, news: Record<string, unknown>): Promise<{ inputs: Record<string, unknown>; failures: CheckFailure[] }> {
  const { inputs, failures } = validateInputs(RESOURCE, news);
  if (!failures.length && (inputs.server === undefined) === (inputs.local === undefined)) {
    failures.push({ property: "server", reason: "give exactly one of server (an existing server) and local (a local server the provider starts)" });
  }
  return { inputs, failures };
}

export async function diff(_id: string, olds: DrInstanceOutputs, news: DrInstanceInputs) {
  const result = diffInputs(RESOURCE, olds as never, news as never);
  // local.deleteData only matters at delete time: changing it is an update, not a new server.
  const sameServer = olds.local && news.local && olds.local.port === news.local.port && olds.local.dataDir === news.local.dataDir;
  if (sameServer) result.replaces = result.replaces.filter((k) => k !== "local");
  result.deleteBeforeReplace = result.replaces.length > 0;
  return result;
}

export async function create(inputs: DrInstanceInputs): Promise<{ id: string; outs: DrInstanceOutputs }> {
  if (inputs.role === "primary") throw new DrError("BAD_INPUT", "role must be \"replica\" when the instance is created; change it to \"primary\" later to promote.");
  const undo: (() => Promise<void>)[] = [];
  try {
    const connection = inputs.local ? await startLocal(inputs.local, undo) : inputs.server!;
    const outs = await describe(inputs, connection, true);
    return { id: crypto.randomUUID(), outs };
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw err;
  }
}

export async function read(id: string, props: DrInstanceOutputs): Promise<{ id: string; props: DrInstanceOutputs }> {
  const conn = await openConnection(toAddress(props.connection), "DR");
  try {
    const facts = await inspectServer(conn);
    return { id, props: { ...props, flavor: facts.flavor, version: facts.version, readOnly: facts.readOnly } };
  } finally {
    conn.destroy();
  }
}

export async function update(_id: string, olds: DrInstanceOutputs, news: DrInstanceInputs): Promise<{ outs: DrInstanceOutputs }> {
  if (olds.role === "primary" && news.role === "replica") {
    throw new DrError("BAD_INPUT", "role cannot go back from \"primary\" to \"replica\": resynchronizing the old master (failback) is not supported yet; create a new DrInstance instead.");
  }
  const outs: DrInstanceOutputs = { ...olds, ...news, connection: olds.connection };
  if (olds.role === "replica" && news.role === "primary") {
    const result = await promote({
      target: toAddress(olds.connection),
      master: toAddress(news.master),
      timeoutSeconds: news.promotion?.timeoutSeconds,
      allowDataLoss: news.promotion?.allowDataLoss,
    });
    return { outs: { ...outs, role: "primary", readOnly: false, promotedAt: result.promotedAt, promotedGtid: result.promotedGtid, ...(result.unappliedGtid ? { unappliedGtid: result.unappliedGtid } : {}), ...(result.dataLoss ? { dataLoss: lossOutput(result.dataLoss) } : {}) } };
  }
  return { outs };
}

/** The schema's form: absent, not null, when nothing was ever recorded. */
function lossOutput(loss: DataLoss): DrInstanceOutputs["dataLoss"] {
  return { atLeastTransactions: loss.atLeastTransactions, summary: loss.summary, ...(loss.unknownSince ? { unknownSince: loss.unknownSince } : {}) };
}

export async function remove(_id: string, props: DrInstanceOutputs): Promise<void> {
  if (!props.local) return;
  const dir = path.resolve(props.local.dataDir);
  await stopSandbox({ name: sandboxName(dir), dir });
  if (props.local.deleteData) fs.rmSync(dir, { recursive: true, force: true });
}

/** Starts the local server (recording how to undo it) and returns how to reach it. */
async function startLocal(local: LocalServer, undo: (() => Promise<void>)[]): Promise<ServerConnection> {
  const dir = path.resolve(local.dataDir);
  const existed = fs.existsSync(dir);
  undo.push(async () => {
    await stopSandbox({ name: sandboxName(dir), dir });
    if (!existed) fs.rmSync(dir, { recursive: true, force: true });
  });
  const info = await startSandbox({ name: sandboxName(dir), port: local.port, dir });
  return { host: LOCAL_HOST, port: info.port, user: LOCAL_USER, password: "" };
}

/** Checks master and DR server ("save and verify") and, for a replica, makes the DR server read-only. */
async function describe(inputs: DrInstanceInputs, connection: ServerConnection, makeReadOnly: boolean): Promise<DrInstanceOutputs> {
  const master = await openConnection(toAddress(inputs.master), "source");
  try {
    const dr = await openConnection(toAddress(connection), "DR");
    try {
      const [masterFacts, drFacts] = await Promise.all([inspectServer(master), inspectServer(dr)]);
      checkSource(masterFacts, toAddress(inputs.master));
      checkTarget(drFacts, masterFacts, toAddress(connection));
      if (makeReadOnly && !drFacts.readOnly) await setReadOnly(dr, drFacts.flavor, true);
      return {
        ...inputs,
        connection,
        flavor: drFacts.flavor,
        version: drFacts.version,
        endpoint: { host: connection.host, port: connection.port ?? 3306 },
        readOnly: true,
      };
    } finally {
      dr.destroy();
    }
  } finally {
    master.destroy();
  }
}

function sandboxName(dir: string): string {
  return `dr-${crypto.createHash("sha256").update(dir).digest("hex").slice(0, 12)}`;
}
