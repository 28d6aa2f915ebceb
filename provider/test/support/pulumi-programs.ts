/**
 * Runs this repository's example programs the way `pulumi up` would: captured through the SDK's
 * runtime mocks, replayed through the real dynamic-provider host from a program folder where the
 * package is installed (linked), with the engine's output propagation between resources.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DynamicProviderHost, type Registration, TestEngine, UNKNOWN_VALUE, type WireMap, captureRegistrations } from "./pulumi-engine";

const REPO = path.resolve(__dirname, "../../../..");

/** The package resolvable by name from the repository itself, as `npm link` would make it. */
export function linkPackageIntoRepo(): void {
  const link = path.join(REPO, "node_modules", "pulumi-mysql-dr");
  if (!fs.existsSync(link)) fs.symlinkSync("..", link, "dir");
}

/** A program folder with the package and @pulumi/pulumi installed, as a user's would be. */
export function programFolder(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mysql-dr-program-${tag}-`));
  fs.mkdirSync(path.join(dir, "node_modules"));
  fs.symlinkSync(REPO, path.join(dir, "node_modules", "pulumi-mysql-dr"), "dir");
  fs.symlinkSync(path.join(REPO, "node_modules", "@pulumi"), path.join(dir, "node_modules", "@pulumi"), "dir");
  return dir;
}

/** Captures an example's registrations (its compiled index.js) with the given config. */
export function captureExample(example: string, config: Record<string, string>, secretConfig: Record<string, string>): Promise<Registration[]> {
  linkPackageIntoRepo();
  const entry = path.join(REPO, "dist", "examples", example, "index.js");
  return captureRegistrations(() => {
    delete require.cache[require.resolve(entry)];
    require(entry);
  }, { project: example, stack: "test", config, secretConfig });
}

/** A SyncLink's `instance` is the DrInstance's outputs: filled from state, unknown before it exists. */
export function resolveInstance(reg: Registration, engine: TestEngine): WireMap {
  const instance = reg.inputs.instance as WireMap | undefined;
  if (!instance) return reg.inputs;
  // The mocks answered each registration with the id "<name>-id": find that resource in state.
  const drName = String(instance.id).replace(/-id$/, "");
  const dr = engine.resources().find((r) => r.urn.endsWith(`::${drName}`));
  return {
    ...reg.inputs,
    instance: dr ? { id: dr.id, master: dr.outputs.master, connection: dr.outputs.connection, failback: dr.outputs.failback } : { id: UNKNOWN_VALUE, master: instance.master, connection: UNKNOWN_VALUE, failback: UNKNOWN_VALUE },
  };
}

export async function startHost(cwd: string, env: NodeJS.ProcessEnv): Promise<{ host: DynamicProviderHost; engine: TestEngine }> {
  const host = await DynamicProviderHost.start({ cwd, env: { ...process.env, ...env } });
  return { host, engine: new TestEngine(host, {}, resolveInstance) };
}
