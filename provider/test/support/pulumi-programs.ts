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

/**
 * The engine's output propagation for a SyncLink's `instance`: the DrInstance's id and `master`
 * output, and its `connection` output unless the SDK passed the DrInstance's own `server` input
 * there (then the captured value is the program's, kept as is). Resolved as the engine would now:
 * from state, or in a preview from the DrInstance's planned step (created or updated: its
 * computed outputs unknown; created: no id). The mocks answer outputs with the inputs, so a
 * captured `connection` is present only when it is the program's `server` input.
 */
export function resolveInstance(reg: Registration, engine: TestEngine): WireMap {
  const instance = reg.inputs.instance as WireMap | undefined;
  if (!instance || reg.readId !== undefined) return reg.inputs;
  // The mocks answered each registration with the id "<name>-id": find that resource.
  const dr = engine.view(String(instance.id).replace(/-id$/, ""));
  const output = (key: string) => (dr ? dr.outputs[key] ?? UNKNOWN_VALUE : UNKNOWN_VALUE);
  return {
    ...reg.inputs,
    // failback is the DrInstance's input as the program gave it (the SDK passes that, known in a preview).
    instance: { id: dr?.id ?? UNKNOWN_VALUE, master: output("master"), connection: instance.connection ?? output("connection"), ...(instance.failback === undefined ? {} : { failback: instance.failback }) },
  };
}

export async function startHost(cwd: string, env: NodeJS.ProcessEnv): Promise<{ host: DynamicProviderHost; engine: TestEngine }> {
  const host = await DynamicProviderHost.start({ cwd, env: { ...process.env, ...env } });
  return { host, engine: new TestEngine(host, {}, resolveInstance) };
}
