/**
 * A stand-in for `pulumi preview/up/refresh/destroy` in tests, for dynamic providers, since the
 * Pulumi CLI cannot run here. Three pieces, each faithful to one part of the real flow:
 *
 * - `captureRegistrations` runs a real Pulumi program against the SDK's runtime mocks and records
 *   every RegisterResource request exactly as it goes over the wire to the engine: the inputs in
 *   their wire form (secrets kept as the secret sentinel object, `__provider` as the serialized
 *   provider string) plus the resource options the engine acts on.
 * - `DynamicProviderHost` starts the dynamic-provider host shipped in @pulumi/pulumi
 *   (cmd/dynamic-provider), the same process `pulumi up` starts for `pulumi-nodejs` resources, in
 *   the program's folder and in its own process group, and talks to it over its gRPC interface.
 * - `TestEngine` drives the host the way the engine's step generator does and keeps state between
 *   runs, including the engine's secret handling: the dynamic host answers Configure with
 *   `acceptSecrets: false`, so the engine strips secret markers before each call and marks as
 *   secret every output whose same-named input was secret (pkg/resource/plugin/provider_plugin.go,
 *   `annotateSecrets`). In a preview it answers for a resource it would create or update as the
 *   engine does for a provider without preview support (the dynamic host's Configure does not set
 *   `supportsPreview`): the outputs are the checked inputs, so every other output is unknown to
 *   the resources that depend on it, and a resource to be created has no id yet.
 *
 * Throughout, values are in wire JSON form: a secret is `{[SIG_KEY]: SECRET_SIG, value}`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as path from "node:path";
import * as readline from "node:readline";
import * as grpc from "@grpc/grpc-js";
import * as pulumi from "@pulumi/pulumi";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engproto from "@pulumi/pulumi/proto/engine_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

// ---------------------------------------------------------------------------------------------
// Wire values
// ---------------------------------------------------------------------------------------------

/** The key and value that mark a secret on the wire (@pulumi/pulumi/runtime/rpc.js). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** The wire value of an unknown (computed during preview) property. */
export const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const PROVIDER_KEY = "__provider";

export type WireValue = null | boolean | number | string | WireValue[] | { [key: string]: WireValue };
export type WireMap = Record<string, WireValue>;
export type WireSecret = {
  [SIG_KEY]: typeof SECRET_SIG;
  value: WireValue;
};

export function makeSecret(value: WireValue): WireSecret {
  return { [SIG_KEY]: SECRET_SIG, value };
}

export function isSecret(value: unknown): value is WireSecret {
  return typeof value === "object" && value !== null && !Array.isArray(value) && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function containsSecrets(value: unknown): boolean {
  if (isSecret(value)) return true;
  if (Array.isArray(value)) return value.some(containsSecrets);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsSecrets);
  return false;
}

/** Removes every secret marker (what the engine sends to a provider that does not accept secrets). */
export function stripSecrets<T extends WireValue>(value: T): T;
export function stripSecrets(value: WireValue): WireValue {
  if (isSecret(value)) return stripSecrets(value.value);
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripSecrets(v)]));
  }
  return value;
}

/**
 * Marks as secret each output whose same-named input contained a secret, recursing where both are
 * objects: the engine's `annotateSecrets`, applied after every call to a provider that does not
 * accept secrets.
 */
export function annotateSecrets(outs: WireMap, ins: WireMap): WireMap {
  const result: WireMap = { ...outs };
  for (const [key, inValue] of Object.entries(ins)) {
    if (!(key in result)) continue;
    const outValue = result[key];
    if (isPlainObject(outValue) && isPlainObject(inValue)) {
      result[key] = annotateSecrets(outValue as WireMap, inValue as WireMap);
    } else if (!isSecret(outValue) && containsSecrets(inValue)) {
      result[key] = makeSecret(outValue);
    }
  }
  return result;
}

function isPlainObject(value: unknown): value is Record<string, WireValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isSecret(value);
}

function toStruct(map: WireMap): Struct {
  return Struct.fromJavaScript(dropUndefined(map) as Record<string, never>);
}

function fromStruct(struct: Struct | undefined): WireMap {
  return struct ? (struct.toJavaScript() as WireMap) : {};
}

/** Struct.fromJavaScript rejects `undefined`; the engine never sends it either. */
function dropUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, dropUndefined(v)]));
  }
  return value;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// 1. Capturing a program's registrations
// ---------------------------------------------------------------------------------------------

export interface RegistrationOptions {
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  protect: boolean;
}

export interface Registration {
  type: string;
  name: string;
  urn: string;
  /** The RegisterResource inputs as the engine receives them (wire form, secrets marked). */
  inputs: WireMap;
  options: RegistrationOptions;
  /**
   * Set for a ReadResource request (a `Resource.get(name, id)` in the program, or a resource
   * constructed with the `id` option): the id to read; `inputs` are then the properties sent.
   */
  readId?: string;
}

export interface CaptureOptions {
  project?: string;
  stack?: string;
  /** Keys as `project:key` (or a bare key, taken as the project's own). */
  config?: Record<string, string>;
  /** Same, but marked secret so `Config.requireSecret` returns a secret Output. */
  secretConfig?: Record<string, string>;
  preview?: boolean;
}

/** The parts of the SDK's internal settings module the capture relies on (runtime/settings.js). */
interface SdkSettings {
  _reset(): void;
  getMonitor(): {
    registerResource(req: RegisterRequest, cb: (err: Error | null, resp?: { getUrn(): string }) => void): void;
    readResource(req: ReadRequest, cb: (err: Error | null, resp?: { getUrn(): string }) => void): void;
  };
  waitForRPCs(): Promise<void>;
}

interface ReadRequest {
  getId(): string;
  getType(): string;
  getName(): string;
  getProperties(): Struct | undefined;
  getAdditionalsecretoutputsList(): string[];
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getObject(): Struct | undefined;
  getReplaceonchangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getProtect(): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdkSettings = require("@pulumi/pulumi/runtime/settings") as SdkSettings;

let captureQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `program` as `pulumi up` would run it, against the SDK's runtime mocks, and returns every
 * resource registration in order. The runtime state is reset first, so captures can follow one
 * another in one process; they are serialized because the SDK keeps its state in a global store.
 */
export function captureRegistrations(program: () => Promise<void> | void, opts: CaptureOptions = {}): Promise<Registration[]> {
  const run = captureQueue.then(() => captureOnce(program, opts));
  captureQueue = run.catch(() => undefined);
  return run;
}

async function captureOnce(program: () => Promise<void> | void, opts: CaptureOptions): Promise<Registration[]> {
  const project = opts.project ?? "project";
  const stack = opts.stack ?? "stack";
  const qualify = (key: string) => (key.includes(":") ? key : `${project}:${key}`);
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.config ?? {})) config[qualify(k)] = v;
  const secretKeys: string[] = [];
  for (const [k, v] of Object.entries(opts.secretConfig ?? {})) {
    config[qualify(k)] = v;
    secretKeys.push(qualify(k));
  }

  sdkSettings._reset();
  pulumi.runtime.setAllConfig(config, secretKeys);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    project,
    stack,
    opts.preview ?? false,
  );

  // Wrap the mock monitor's RegisterResource to see the request itself, not the mock's
  // deserialized copy: that is the exact payload the engine would get. Registrations are listed in
  // the order the requests arrive, as the engine sees them: a resource whose inputs take longer to
  // resolve (secrets, other resources' outputs) arrives after ones constructed later.
  const registrations: Registration[] = [];
  const monitor = sdkSettings.getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const registration: Registration = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      inputs: fromStruct(req.getObject()),
      options: {
        replaceOnChanges: req.getReplaceonchangesList(),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        deleteBeforeReplace: req.getDeletebeforereplace(),
        ignoreChanges: req.getIgnorechangesList(),
        protect: req.getProtect(),
      },
    };
    registrations.push(registration);
    register(req, (err, resp) => {
      if (resp) registration.urn = resp.getUrn();
      cb(err, resp);
    });
  };
  const read = monitor.readResource.bind(monitor);
  monitor.readResource = (req, cb) => {
    const registration: Registration = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      inputs: fromStruct(req.getProperties()),
      options: { replaceOnChanges: [], additionalSecretOutputs: req.getAdditionalsecretoutputsList(), deleteBeforeReplace: false, ignoreChanges: [], protect: false },
      readId: req.getId(),
    };
    registrations.push(registration);
    read(req, (err, resp) => {
      if (resp) registration.urn = resp.getUrn();
      cb(err, resp);
    });
  };

  const errors: unknown[] = [];
  const onRejection = (reason: unknown) => errors.push(reason);
  process.on("unhandledRejection", onRejection);
  try {
    await program();
    await sdkSettings.waitForRPCs();
  } finally {
    process.off("unhandledRejection", onRejection);
    sdkSettings._reset();
    pulumi.runtime.setAllConfig({}, []);
  }
  if (errors.length > 0) throw new Error(`the program failed: ${errors.map(String).join("; ")}`, { cause: errors[0] });
  return registrations;
}

// ---------------------------------------------------------------------------------------------
// 2. The real dynamic-provider host, over gRPC
// ---------------------------------------------------------------------------------------------

export interface LogEntry {
  /** "engine" for Engine.Log calls, else the host's output stream (the engine shows plugin output too). */
  source: "engine" | "stdout" | "stderr";
  severity: "debug" | "info" | "warning" | "error";
  message: string;
}

/**
 * A minimal Engine gRPC service whose address is handed to the host as its first argument, as the
 * engine does. The Node dynamic-provider host does not call it today, but anything that logs
 * through it is recorded.
 */
class FakeEngine {
  private constructor(private readonly server: grpc.Server, readonly address: string) {}

  static async start(logs: LogEntry[]): Promise<FakeEngine> {
    const server = new grpc.Server();
    const severities = ["debug", "info", "warning", "error"] as const;
    const impl: grpc.UntypedServiceImplementation = {
      log: (call: grpc.ServerUnaryCall<engproto.LogRequest, Empty>, cb: grpc.sendUnaryData<Empty>) => {
        logs.push({ source: "engine", severity: severities[call.request.getSeverity()] ?? "info", message: call.request.getMessage() });
        cb(null, new Empty());
      },
      getRootResource: (_call: unknown, cb: grpc.sendUnaryData<engproto.GetRootResourceResponse>) => cb(null, new engproto.GetRootResourceResponse()),
      setRootResource: (_call: unknown, cb: grpc.sendUnaryData<engproto.SetRootResourceResponse>) => cb(null, new engproto.SetRootResourceResponse()),
    };
    server.addService(engrpc.EngineService, impl);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return new FakeEngine(server, `127.0.0.1:${port}`);
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

export class ProviderError extends Error {
  constructor(readonly method: string, readonly code: grpc.status, readonly details: string) {
    super(details);
    this.name = "ProviderError";
  }
}

export interface CheckFailure {
  property: string;
  reason: string;
}

export type DiffChanges = "unknown" | "none" | "some";

export interface DiffResult {
  changes: DiffChanges;
  replaces: string[];
  deleteBeforeReplace: boolean;
  diffs: string[];
}

export interface HostStartOptions {
  /** The program's folder: the host's working directory. */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** The host script; by default resolved from `cwd` like the `pulumi-resource-pulumi-nodejs` shim does. */
  script?: string;
}

const HOST_START_TIMEOUT_MS = 30_000;
const CHANGES: Record<number, DiffChanges> = {
  [provproto.DiffResponse.DiffChanges.DIFF_UNKNOWN]: "unknown",
  [provproto.DiffResponse.DiffChanges.DIFF_NONE]: "none",
  [provproto.DiffResponse.DiffChanges.DIFF_SOME]: "some",
};

/**
 * The dynamic-provider host process (`node .../@pulumi/pulumi/cmd/dynamic-provider <engine>`), run
 * as the engine runs a plugin: in the program's folder, its port read from the first stdout line,
 * its later output kept as log lines, in its own process group so it can be killed as a whole.
 */
export class DynamicProviderHost {
  readonly logs: LogEntry[] = [];
  private exitCode: number | null | undefined;

  private constructor(
    readonly child: ChildProcess,
    private readonly client: provrpc.ResourceProviderClient,
    private readonly engine: FakeEngine,
    logs: LogEntry[],
  ) {
    this.logs = logs;
    child.once("exit", (code, signal) => (this.exitCode = code ?? (signal ? -1 : null)));
  }

  static async start(opts: HostStartOptions): Promise<DynamicProviderHost> {
    const logs: LogEntry[] = [];
    const engine = await FakeEngine.start(logs);
    const script = opts.script ?? resolveHostScript(opts.cwd);
    const child = spawn(process.execPath, [script, engine.address], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let port: number | undefined;
    const portLine = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the dynamic-provider host did not print its port")), HOST_START_TIMEOUT_MS);
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        if (port === undefined && /^\d+$/.test(line.trim())) {
          port = Number(line.trim());
          clearTimeout(timer);
          resolve(port);
        } else {
          logs.push({ source: "stdout", severity: "info", message: line });
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the dynamic-provider host exited with ${code}: ${logs.map((l) => l.message).join("\n")}`));
      });
    });
    readline.createInterface({ input: child.stderr! }).on("line", (line) => logs.push({ source: "stderr", severity: "error", message: line }));
    try {
      const p = await portLine;
      const client = new provrpc.ResourceProviderClient(`127.0.0.1:${p}`, grpc.credentials.createInsecure());
      return new DynamicProviderHost(child, client, engine, logs);
    } catch (err) {
      killGroup(child);
      engine.stop();
      throw err;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** undefined while running. */
  get exited(): number | null | undefined {
    return this.exitCode;
  }

  /** Every log line and Engine.Log message so far, joined (for "no secret in the logs" checks). */
  logText(): string {
    return this.logs.map((l) => l.message).join("\n");
  }

  async getPluginInfo(): Promise<{ version: string }> {
    const info = await this.call<Empty, plugproto.PluginInfo>("getPluginInfo", new Empty());
    return { version: info.getVersion() };
  }

  /** Configure as the engine does for the default `pulumi-nodejs` provider; returns what the host accepts. */
  async configure(args: WireMap = {}): Promise<{ acceptSecrets: boolean; supportsPreview: boolean }> {
    const req = new provproto.ConfigureRequest();
    req.setArgs(toStruct(args));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    const resp = await this.call<provproto.ConfigureRequest, provproto.ConfigureResponse>("configure", req);
    return { acceptSecrets: resp.getAcceptsecrets(), supportsPreview: resp.getSupportspreview() };
  }

  async check(urn: string, olds: WireMap, news: WireMap): Promise<{ inputs: WireMap; failures: CheckFailure[] }> {
    const req = new provproto.CheckRequest();
    setUrn(req, urn);
    req.setOlds(toStruct(olds));
    req.setNews(toStruct(news));
    req.setRandomseed(crypto.randomBytes(32));
    const resp = await this.call<provproto.CheckRequest, provproto.CheckResponse>("check", req);
    return {
      inputs: fromStruct(resp.getInputs()),
      failures: resp.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(id: string, urn: string, olds: WireMap, news: WireMap, oldInputs?: WireMap): Promise<DiffResult> {
    const req = new provproto.DiffRequest();
    req.setId(id);
    setUrn(req, urn);
    req.setOlds(toStruct(olds));
    req.setNews(toStruct(news));
    if (oldInputs) req.setOldInputs(toStruct(oldInputs));
    const resp = await this.call<provproto.DiffRequest, provproto.DiffResponse>("diff", req);
    return {
      changes: CHANGES[resp.getChanges()] ?? "unknown",
      replaces: resp.getReplacesList(),
      deleteBeforeReplace: resp.getDeletebeforereplace(),
      diffs: resp.getDiffsList(),
    };
  }

  async create(urn: string, properties: WireMap, preview = false): Promise<{ id: string; properties: WireMap }> {
    const req = new provproto.CreateRequest();
    setUrn(req, urn);
    req.setProperties(toStruct(properties));
    req.setPreview(preview);
    const resp = await this.call<provproto.CreateRequest, provproto.CreateResponse>("create", req);
    return { id: resp.getId(), properties: fromStruct(resp.getProperties()) };
  }

  /** An empty `id` in the answer means the resource no longer exists. */
  async read(id: string, urn: string, props: WireMap, inputs?: WireMap): Promise<{ id: string; properties: WireMap; inputs?: WireMap }> {
    const req = new provproto.ReadRequest();
    req.setId(id);
    setUrn(req, urn);
    req.setProperties(toStruct(props));
    if (inputs) req.setInputs(toStruct(inputs));
    const resp = await this.call<provproto.ReadRequest, provproto.ReadResponse>("read", req);
    const respInputs = resp.getInputs();
    return { id: resp.getId(), properties: fromStruct(resp.getProperties()), inputs: respInputs ? fromStruct(respInputs) : undefined };
  }

  async update(id: string, urn: string, olds: WireMap, news: WireMap, preview = false, oldInputs?: WireMap): Promise<{ properties: WireMap }> {
    const req = new provproto.UpdateRequest();
    req.setId(id);
    setUrn(req, urn);
    req.setOlds(toStruct(olds));
    req.setNews(toStruct(news));
    req.setPreview(preview);
    if (oldInputs) req.setOldInputs(toStruct(oldInputs));
    const resp = await this.call<provproto.UpdateRequest, provproto.UpdateResponse>("update", req);
    return { properties: fromStruct(resp.getProperties()) };
  }

  async delete(id: string, urn: string, props: WireMap, oldInputs?: WireMap): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setId(id);
    setUrn(req, urn);
    req.setProperties(toStruct(props));
    if (oldInputs) req.setOldInputs(toStruct(oldInputs));
    await this.call<provproto.DeleteRequest, Empty>("delete", req);
  }

  /** Kills the host's whole process group with SIGKILL, as the engine kills plugins, and waits for the exit. */
  async stop(): Promise<void> {
    this.client.close();
    this.engine.stop();
    if (this.exitCode === undefined) {
      const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
      killGroup(this.child);
      await exited;
    }
  }

  private call<Req, Resp>(method: string, req: Req): Promise<Resp> {
    const fn = (this.client as unknown as Record<string, (req: Req, cb: (err: grpc.ServiceError | null, resp: Resp) => void) => void>)[method];
    return new Promise<Resp>((resolve, reject) =>
      fn.call(this.client, req, (err, resp) => (err ? reject(new ProviderError(method, err.code, err.details || err.message)) : resolve(resp))),
    );
  }
}

function setUrn(req: { setUrn(urn: string): unknown; setType(t: string): unknown; setName(n: string): unknown }, urn: string): void {
  req.setUrn(urn);
  const parts = urn.split("::");
  if (parts.length >= 4) {
    req.setType(parts[2].split("$").pop()!);
    req.setName(parts.slice(3).join("::"));
  }
}

/** Where the `pulumi-resource-pulumi-nodejs` shim finds the host: resolved from the program's folder. */
function resolveHostScript(cwd: string): string {
  try {
    return require.resolve("@pulumi/pulumi/cmd/dynamic-provider", { paths: [cwd] });
  } catch {
    return path.join(path.dirname(require.resolve("@pulumi/pulumi/package.json")), "cmd", "dynamic-provider", "index.js");
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// 3. The engine: preview / up / refresh / destroy with state between runs
// ---------------------------------------------------------------------------------------------

export const STEP_OPS = ["create", "update", "replace", "delete", "same", "read", "import"] as const;
export type StepOp = (typeof STEP_OPS)[number];

export interface Step {
  urn: string;
  op: StepOp;
  /**
   * Top-level input keys that changed (update/replace); for "read" (a refresh) of a provider that
   * reads inputs back, the input keys it read differently from the state (drift `up` puts back).
   */
  keys?: string[];
  /** For "read": whether the outputs changed. */
  changed?: boolean;
}

/** What a dependent resource sees of another: its id and outputs (in a preview, the planned ones). */
export interface ResourceView {
  id: string;
  outputs: WireMap;
}

export interface ResourceState {
  urn: string;
  type: string;
  id: string;
  /** Checked inputs, wire form, secrets marked. */
  inputs: WireMap;
  /** Outputs, wire form, secrets marked. */
  outputs: WireMap;
  options: RegistrationOptions;
}

/** A state file's secret: encrypted, like the passphrase secrets provider writes them. */
export interface StateSecret {
  [SIG_KEY]: typeof SECRET_SIG;
  ciphertext: string;
}

export interface StateSnapshot {
  resources: Array<{ urn: string; type: string; id: string; custom: true; inputs: unknown; outputs: unknown }>;
}

export class CheckFailedError extends Error {
  constructor(readonly urn: string, readonly failures: CheckFailure[]) {
    super(`${urn}: check failed: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    this.name = "CheckFailedError";
  }
}

interface Plan {
  reg: Registration;
  old?: ResourceState;
  inputs: WireMap;
  op: StepOp;
  keys: string[];
  deleteBeforeReplace: boolean;
}

export class TestEngine {
  private readonly resourcesByUrn = new Map<string, ResourceState>();
  private configured?: { acceptSecrets: boolean; supportsPreview: boolean };
  private readonly key = crypto.randomBytes(32);
  /** The steps of the last preview/up/refresh/destroy. */
  lastSteps: Step[] = [];
  /** During a preview: what each planned resource shows its dependents. */
  private previewViews?: Map<string, ResourceView>;

  /**
   * `resolve` stands in for the engine's output propagation: it rewrites a registration's inputs
   * from the current state of the resources it depends on, just before the registration is
   * checked (outputs of resources not created yet are unknown, as in a preview).
   */
  constructor(
    readonly host: DynamicProviderHost,
    private readonly providerConfig: WireMap = {},
    private readonly resolve: (reg: Registration, engine: TestEngine) => WireMap = (reg) => reg.inputs,
  ) {}

  /** Resources in state order, wire form with secrets as `{sig, value}` (use `state()` for the file form). */
  resources(): ResourceState[] {
    return [...this.resourcesByUrn.values()].map((r) => structuredClone(r));
  }

  /** Starts from recorded state, as a new `pulumi` run starts from the stack's state file. */
  load(resources: ResourceState[]): void {
    for (const r of resources) this.resourcesByUrn.set(r.urn, structuredClone(r));
  }

  resource(urn: string): ResourceState | undefined {
    const r = this.resourcesByUrn.get(urn);
    return r && structuredClone(r);
  }

  /**
   * The resource named `name` as the engine resolves it for a dependent right now: from state, or
   * during a preview as planned (created or updated: the checked inputs as outputs, the rest
   * unknown; created: no id yet). undefined when the resource is neither in state nor planned.
   */
  view(name: string): ResourceView | undefined {
    const matches = (urn: string) => urn.endsWith(`::${name}`);
    if (this.previewViews) {
      for (const [urn, v] of this.previewViews) if (matches(urn)) return structuredClone(v);
    }
    const r = this.resources().find((x) => matches(x.urn));
    return r && { id: r.id, outputs: r.outputs };
  }

  /** What a state file would hold: JSON-serializable, every secret encrypted, never in plain text. */
  state(): StateSnapshot {
    return {
      resources: this.resources().map((r) => ({
        urn: r.urn,
        type: r.type,
        id: r.id,
        custom: true,
        inputs: this.encryptSecrets(r.inputs),
        outputs: this.encryptSecrets(r.outputs),
      })),
    };
  }

  /** Reads a secret back out of `state()`. */
  decrypt(secret: StateSecret): WireValue {
    const raw = Buffer.from(secret.ciphertext, "base64");
    const decipher = crypto.createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")) as WireValue;
  }

  /** check + diff only, as `pulumi preview` does with a provider that does not support previews: nothing is created. */
  async preview(registered: Registration[]): Promise<Step[]> {
    const regs = withoutReads(registered);
    this.previewViews = new Map();
    try {
      const plans = await this.plan(regs);
      this.lastSteps = [...plans.map((p) => ({ urn: p.reg.urn, op: p.op, keys: p.keys })), ...this.deletions(regs)];
      return this.lastSteps;
    } finally {
      this.previewViews = undefined;
    }
  }

  async up(registered: Registration[]): Promise<Step[]> {
    const regs = withoutReads(registered);
    const steps: Step[] = [];
    this.lastSteps = steps;
    const next = new Map<string, ResourceState>();
    // Each registration is planned just before it runs, once the ones before it are in state.
    for (const registration of regs) {
      const [plan] = await this.plan([registration]);
      const { reg, old, inputs } = plan;
      if (plan.op === "create") {
        next.set(reg.urn, await this.create(reg, inputs));
      } else if (plan.op === "same") {
        next.set(reg.urn, { ...old!, inputs, options: reg.options });
      } else if (plan.op === "update") {
        const resp = await this.host.update(old!.id, reg.urn, this.send(old!.outputs), this.send(inputs), false, this.send(old!.inputs));
        next.set(reg.urn, { ...old!, inputs, outputs: this.receive(resp.properties, inputs, reg.options), options: reg.options });
      } else if (plan.op === "replace") {
        if (plan.deleteBeforeReplace) {
          await this.host.delete(old!.id, old!.urn, this.send(old!.outputs), this.send(old!.inputs));
          this.resourcesByUrn.delete(reg.urn);
          next.set(reg.urn, await this.create(reg, inputs));
        } else {
          const created = await this.create(reg, inputs);
          await this.host.delete(old!.id, old!.urn, this.send(old!.outputs), this.send(old!.inputs));
          next.set(reg.urn, created);
        }
      }
      // Record as we go, so a failure later in the run leaves what was done in state.
      this.resourcesByUrn.set(reg.urn, next.get(reg.urn)!);
      steps.push({ urn: reg.urn, op: plan.op, keys: plan.keys });
    }
    for (const step of this.deletions(regs)) {
      const old = this.resourcesByUrn.get(step.urn)!;
      await this.host.delete(old.id, old.urn, this.send(old.outputs), this.send(old.inputs));
      this.resourcesByUrn.delete(step.urn);
      steps.push(step);
    }
    this.reorder(regs.map((r) => r.urn));
    return steps;
  }

  async refresh(): Promise<Step[]> {
    await this.ensureConfigured();
    const steps: Step[] = [];
    this.lastSteps = steps;
    for (const r of this.resources()) {
      const resp = await this.host.read(r.id, r.urn, this.send(r.outputs), this.send(r.inputs));
      if (!resp.id) {
        this.resourcesByUrn.delete(r.urn);
        steps.push({ urn: r.urn, op: "delete" });
        continue;
      }
      const outputs = this.receive(resp.properties, r.outputs, r.options);
      const inputs = resp.inputs ? (this.configured!.acceptSecrets ? resp.inputs : annotateSecrets(resp.inputs, r.inputs)) : r.inputs;
      this.resourcesByUrn.set(r.urn, { ...r, id: resp.id, inputs, outputs });
      steps.push({ urn: r.urn, op: "read", changed: !deepEqual(outputs, r.outputs), ...(resp.inputs ? { keys: changedTopLevelKeys(r.inputs, inputs) } : {}) });
    }
    return steps;
  }

  async destroy(): Promise<Step[]> {
    await this.ensureConfigured();
    const steps: Step[] = [];
    this.lastSteps = steps;
    for (const r of this.resources().reverse()) {
      await this.host.delete(r.id, r.urn, this.send(r.outputs), this.send(r.inputs));
      this.resourcesByUrn.delete(r.urn);
      steps.push({ urn: r.urn, op: "delete" });
    }
    return steps;
  }

  /**
   * The `import` resource option (and `pulumi import`), as the engine's ImportStep runs it
   * (pkg/resource/deploy/step.go): Read with the id to import and nothing else (no inputs, no
   * state), then Check of the program's inputs against the inputs Read returned, and Diff of the
   * checked inputs against Read's outputs; any difference fails the import, and nothing is recorded.
   * On success the resource enters the state with the checked inputs and Read's outputs.
   */
  async import(reg: Registration, id: string): Promise<Step> {
    await this.ensureConfigured();
    const read = await this.host.read(id, reg.urn, {}, {});
    if (!read.id) throw new Error(`resource '${id}' does not exist`);
    if (!read.inputs) throw new Error("provider does not support importing resources; please try updating the 'pulumi-nodejs' plugin");
    const oldInputs = this.configured!.acceptSecrets ? read.inputs : annotateSecrets(read.inputs, reg.inputs);
    const outputs = this.receive(read.properties, oldInputs, reg.options);
    const news = this.resolve(reg, this);
    const checked = await this.host.check(reg.urn, this.send(oldInputs), this.send(news));
    if (checked.failures.length > 0) throw new CheckFailedError(reg.urn, checked.failures);
    const inputs = this.configured!.acceptSecrets ? checked.inputs : annotateSecrets(checked.inputs, news);
    const diff = await this.host.diff(read.id, reg.urn, this.send(outputs), this.send(inputs), this.send(oldInputs));
    const changedKeys = diff.diffs.length > 0 ? diff.diffs : changedTopLevelKeys(oldInputs, inputs);
    const changes = diff.changes === "unknown" ? changedKeys.length > 0 : diff.changes === "some";
    if (changes) throw new Error(`inputs to import do not match the existing resource: [${changedKeys.join(" ")}]`);
    this.resourcesByUrn.set(reg.urn, { urn: reg.urn, type: reg.type, id: read.id, inputs, outputs, options: reg.options });
    const step: Step = { urn: reg.urn, op: "import" };
    this.lastSteps = [step];
    return step;
  }

  /**
   * A ReadResource registration (`Resource.get(name, id)`), as the engine's ReadStep runs it: Read
   * with the id and the properties the program sent, as both inputs and state. The engine keeps the
   * result as an external resource (never updated or deleted); here it is returned, not recorded.
   */
  async readResource(reg: Registration): Promise<ResourceView> {
    if (reg.readId === undefined) throw new Error(`${reg.urn} is not a ReadResource registration`);
    await this.ensureConfigured();
    const props = this.send(reg.inputs);
    const read = await this.host.read(reg.readId, reg.urn, props, props);
    if (!read.id) throw new Error(`resource '${reg.readId}' does not exist`);
    return { id: read.id, outputs: this.receive(read.properties, reg.inputs, reg.options) };
  }

  private async ensureConfigured(): Promise<void> {
    this.configured ??= await this.host.configure(this.providerConfig);
  }

  /** Check every registration and decide its step, as the step generator does. */
  private async plan(regs: Registration[]): Promise<Plan[]> {
    await this.ensureConfigured();
    const plans: Plan[] = [];
    for (const reg of regs) {
      const old = this.resourcesByUrn.get(reg.urn);
      let news = this.resolve(reg, this);
      if (old && reg.options.ignoreChanges.length > 0) {
        news = { ...news };
        for (const key of reg.options.ignoreChanges) {
          if (key in old.inputs) news[key] = old.inputs[key];
          else delete news[key];
        }
      }
      const checked = await this.host.check(reg.urn, this.send(old?.inputs ?? {}), this.send(news));
      if (checked.failures.length > 0) throw new CheckFailedError(reg.urn, checked.failures);
      const inputs = this.configured!.acceptSecrets ? checked.inputs : annotateSecrets(checked.inputs, news);
      if (!old) {
        this.previewViews?.set(reg.urn, { id: UNKNOWN_VALUE, outputs: inputs });
        plans.push({ reg, inputs, op: "create", keys: [], deleteBeforeReplace: false });
        continue;
      }
      const diff = await this.host.diff(old.id, reg.urn, this.send(old.outputs), this.send(inputs), this.send(old.inputs));
      // Without a provider answer, the engine compares old and new inputs itself.
      const changedKeys = diff.diffs.length > 0 ? diff.diffs : changedTopLevelKeys(old.inputs, inputs);
      const changes = diff.changes === "unknown" ? (changedKeys.length > 0 ? "some" : "none") : diff.changes;
      const replaceKeys = [...diff.replaces, ...reg.options.replaceOnChanges.filter((k) => k === "*" ? changedKeys.length > 0 : changedKeys.includes(k))];
      const op: StepOp = changes === "none" ? "same" : replaceKeys.length > 0 ? "replace" : "update";
      // Create and Update with preview=true answer the inputs as outputs (provider_plugin.go).
      if (op === "same") this.previewViews?.set(reg.urn, { id: old.id, outputs: old.outputs });
      else this.previewViews?.set(reg.urn, { id: op === "replace" ? UNKNOWN_VALUE : old.id, outputs: inputs });
      plans.push({
        reg,
        old,
        inputs,
        op,
        keys: op === "replace" ? [...new Set(replaceKeys)] : op === "update" ? changedKeys : [],
        deleteBeforeReplace: diff.deleteBeforeReplace || reg.options.deleteBeforeReplace,
      });
    }
    return plans;
  }

  private deletions(regs: Registration[]): Step[] {
    const wanted = new Set(regs.map((r) => r.urn));
    return this.resources()
      .filter((r) => !wanted.has(r.urn))
      .reverse()
      .map((r) => ({ urn: r.urn, op: "delete" as const }));
  }

  private async create(reg: Registration, inputs: WireMap): Promise<ResourceState> {
    const resp = await this.host.create(reg.urn, this.send(inputs));
    return { urn: reg.urn, type: reg.type, id: resp.id, inputs, outputs: this.receive(resp.properties, inputs, reg.options), options: reg.options };
  }

  /** What the engine puts on the wire: secrets only if the provider said it accepts them. */
  private send(map: WireMap): WireMap {
    return this.configured!.acceptSecrets ? map : stripSecrets(map);
  }

  /** What the engine records from a provider's answer: secrets re-marked from the inputs, plus additionalSecretOutputs. */
  private receive(outputs: WireMap, secretsFrom: WireMap, options: RegistrationOptions): WireMap {
    const result = this.configured!.acceptSecrets ? { ...outputs } : annotateSecrets(outputs, secretsFrom);
    for (const key of options.additionalSecretOutputs) {
      if (key in result && !isSecret(result[key])) result[key] = makeSecret(result[key]);
    }
    return result;
  }

  private reorder(order: string[]): void {
    const rest = [...this.resourcesByUrn.entries()].filter(([urn]) => !order.includes(urn));
    const ordered = order.filter((urn) => this.resourcesByUrn.has(urn)).map((urn) => [urn, this.resourcesByUrn.get(urn)!] as const);
    this.resourcesByUrn.clear();
    for (const [urn, r] of [...ordered, ...rest]) this.resourcesByUrn.set(urn, r);
  }

  private encryptSecrets(value: WireValue): unknown {
    if (isSecret(value)) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv("aes-256-gcm", this.key, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value.value), "utf8"), cipher.final()]);
      const secret: StateSecret = { [SIG_KEY]: SECRET_SIG, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64") };
      return secret;
    }
    if (Array.isArray(value)) return value.map((v) => this.encryptSecrets(v));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.encryptSecrets(v)]));
    }
    return value;
  }
}

/** ReadResource registrations are read (readResource), never planned. */
function withoutReads(regs: Registration[]): Registration[] {
  return regs.filter((r) => r.readId === undefined);
}

function changedTopLevelKeys(olds: WireMap, news: WireMap): string[] {
  const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
  return [...keys].filter((k) => k !== PROVIDER_KEY && !deepEqual(stripSecrets(olds[k] ?? null), stripSecrets(news[k] ?? null)));
}
