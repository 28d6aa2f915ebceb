/**
 * Self-test of the Pulumi engine harness: a toy dynamic provider (a file in a temp folder),
 * captured from a real program and driven through the real dynamic-provider host.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  CheckFailedError,
  DynamicProviderHost,
  PROVIDER_KEY,
  type Registration,
  type StateSecret,
  type Step,
  TestEngine,
  captureRegistrations,
  isSecret,
} from "../support/pulumi-engine";

const MAIN_NODE_MODULES = path.resolve(__dirname, "../../../../node_modules");
const MASTER_PASSWORD = "hunter2-master-pw";
const API_KEY = "k-123-toy-api-key";

interface ToyInputs {
  dir: string;
  fileName: string;
  content: string;
  password?: string;
  apiKey?: string;
}

/**
 * Runs inside the host process after `requireFromString`: only what it requires at call time is
 * available, resolved from the host's working directory.
 */
const toyProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: ToyInputs, news: ToyInputs) {
    const failures = typeof news.content === "string" ? [] : [{ property: "content", reason: "content must be a string" }];
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: ToyInputs, news: ToyInputs) {
    const replaces = olds.fileName !== news.fileName || olds.dir !== news.dir ? ["fileName"] : [];
    const changes = replaces.length > 0 || olds.content !== news.content || olds.password !== news.password || olds.apiKey !== news.apiKey;
    return { changes, replaces };
  },
  async create(inputs: ToyInputs) {
    const nodeFs = require("node:fs") as typeof import("node:fs");
    const nodePath = require("node:path") as typeof import("node:path");
    const nodeCrypto = require("node:crypto") as typeof import("node:crypto");
    const file = nodePath.join(inputs.dir, inputs.fileName);
    nodeFs.writeFileSync(file, inputs.content);
    // Packages by name, at call time: resolved from the host's working directory.
    const mysql2 = require("mysql2") as { createConnection: unknown };
    const marker = require("toy-cwd-marker") as { marker: string };
    console.log(`toy: created ${inputs.fileName}`);
    return {
      id: file,
      outs: {
        ...inputs,
        token: nodeCrypto.randomBytes(8).toString("hex"),
        mysql2Kind: typeof mysql2.createConnection,
        cwdMarker: marker.marker,
        cwd: process.cwd(),
      },
    };
  },
  async read(id: string, props: Record<string, unknown>) {
    const nodeFs = require("node:fs") as typeof import("node:fs");
    if (!nodeFs.existsSync(id)) return { id: "", props: {} };
    return { id, props: { ...props, content: nodeFs.readFileSync(id, "utf8") } };
  },
  async update(id: string, olds: Record<string, unknown>, news: ToyInputs) {
    const nodeFs = require("node:fs") as typeof import("node:fs");
    nodeFs.writeFileSync(id, news.content);
    console.log(`toy: updated ${news.fileName}`);
    return { outs: { ...olds, ...news } };
  },
  async delete(id: string) {
    const nodeFs = require("node:fs") as typeof import("node:fs");
    nodeFs.rmSync(id, { force: true });
    console.log(`toy: deleted ${id}`);
  },
};

/** The shape of the product's shim: every method requires the installed package at call time. */
const shimProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => require("toy-cwd-marker").provider.check(olds, news),
  diff: (id, olds, news) => require("toy-cwd-marker").provider.diff(id, olds, news),
  create: (inputs) => require("toy-cwd-marker").provider.create(inputs),
  read: (id, props) => require("toy-cwd-marker").provider.read(id, props),
  update: (id, olds, news) => require("toy-cwd-marker").provider.update(id, olds, news),
  delete: (id, props) => require("toy-cwd-marker").provider.delete(id, props),
};

/** `pulumi.dynamic.Resource` is abstract in the typings; programs subclass it. */
class ToyResource extends pulumi.dynamic.Resource {}

function program(dir: string, version: { content: unknown; fileName: string; extra: boolean }) {
  return () => {
    const cfg = new pulumi.Config();
    new ToyResource(
      toyProvider,
      "file",
      { dir, fileName: version.fileName, content: version.content, password: cfg.requireSecret("masterPassword"), apiKey: pulumi.secret(API_KEY) },
      { additionalSecretOutputs: ["token"] },
    );
    if (version.extra) new ToyResource(toyProvider, "extra", { dir, fileName: "extra.txt", content: "extra" });
  };
}

/** Steps by resource name. */
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

const capture = (dir: string, version: { content: unknown; fileName: string; extra: boolean }) =>
  captureRegistrationsFor(program(dir, version));

function captureRegistrationsFor(p: () => void): Promise<Registration[]> {
  return captureRegistrations(p, { project: "toy", stack: "dev", secretConfig: { masterPassword: MASTER_PASSWORD } });
}

describe("pulumi engine harness", function () {
  let root: string;
  let progDir: string;
  let dataDir: string;
  let host: DynamicProviderHost | undefined;

  before(function () {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mysql-dr-engine-harness-")));
    progDir = path.join(root, "program");
    dataDir = path.join(root, "data");
    fs.mkdirSync(dataDir, { recursive: true });
    // The program folder's node_modules: the SDK and mysql2 linked from the project, plus a
    // package that exists only here, so a successful require proves resolution from the cwd.
    const nm = path.join(progDir, "node_modules");
    fs.mkdirSync(path.join(nm, "toy-cwd-marker"), { recursive: true });
    fs.writeFileSync(path.join(nm, "toy-cwd-marker", "index.js"), `exports.marker = "from-cwd";\n`);
    fs.symlinkSync(path.join(MAIN_NODE_MODULES, "@pulumi"), path.join(nm, "@pulumi"));
    fs.symlinkSync(path.join(MAIN_NODE_MODULES, "mysql2"), path.join(nm, "mysql2"));
  });

  after(async function () {
    await host?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("captures dynamic registrations with __provider as a string and secrets marked", async function () {
    const regs = await capture(dataDir, { content: "v1", fileName: "a.txt", extra: true });
    // Listed in arrival order at the engine: "file" waits for its secret config, so "extra" may come first.
    assert.deepEqual(regs.map((r) => r.name).sort(), ["extra", "file"]);
    const file = regs.find((r) => r.name === "file")!;
    const extra = regs.find((r) => r.name === "extra")!;
    assert.equal(file.type, "pulumi-nodejs:dynamic:Resource");
    assert.equal(file.urn, "urn:pulumi:dev::toy::pulumi-nodejs:dynamic:Resource::file");
    assert.equal(typeof file.inputs[PROVIDER_KEY], "string");
    assert.ok(isSecret(file.inputs.password) && file.inputs.password.value === MASTER_PASSWORD);
    assert.ok(isSecret(file.inputs.apiKey) && file.inputs.apiKey.value === API_KEY);
    assert.equal(file.inputs.content, "v1");
    assert.deepEqual(file.options.additionalSecretOutputs, ["token"]);
    assert.equal(extra.name, "extra");
    assert.equal(file.inputs[PROVIDER_KEY], extra.inputs[PROVIDER_KEY], "one serialization per provider object");

    const shim = await captureRegistrationsFor(() => {
      new ToyResource(shimProvider, "shim", {});
    });
    const toySize = Buffer.byteLength(file.inputs[PROVIDER_KEY] as string);
    const shimSize = Buffer.byteLength(shim[0].inputs[PROVIDER_KEY] as string);
    console.log(`      serialized __provider: toy provider ${toySize} bytes, 6-method require shim ${shimSize} bytes`);
    assert.match(shim[0].inputs[PROVIDER_KEY] as string, /require\("toy-cwd-marker"\)/);
  });

  it("runs preview, up, update, replace, refresh, destroy through the real host", async function () {
    const v1 = await capture(dataDir, { content: "v1", fileName: "a.txt", extra: true });
    const v2 = await capture(dataDir, { content: "v2", fileName: "a.txt", extra: false });
    const v3 = await capture(dataDir, { content: "v2", fileName: "b.txt", extra: false });
    const bad = await capture(dataDir, { content: 42, fileName: "b.txt", extra: false });
    const fileA = path.join(dataDir, "a.txt");
    const fileB = path.join(dataDir, "b.txt");
    const extraFile = path.join(dataDir, "extra.txt");
    const urn = v1.find((r) => r.name === "file")!.urn;

    host = await DynamicProviderHost.start({ cwd: progDir });
    assert.equal((await host.getPluginInfo()).version, require("@pulumi/pulumi/package.json").version);
    const engine = new TestEngine(host);

    // preview: check + diff only
    const planned = await engine.preview(v1);
    assert.deepEqual(ops(planned), { file: "create", extra: "create" });
    assert.equal(fs.existsSync(fileA), false);
    assert.equal(engine.resources().length, 0);

    // up: creates
    assert.deepEqual(ops(await engine.up(v1)), { file: "create", extra: "create" });
    assert.equal(fs.readFileSync(fileA, "utf8"), "v1");
    assert.equal(fs.readFileSync(extraFile, "utf8"), "extra");
    const created = engine.resource(urn)!;
    assert.equal(created.id, fileA);
    assert.equal(created.outputs.mysql2Kind, "function", "require('mysql2') at call time");
    assert.equal(created.outputs.cwdMarker, "from-cwd", "resolved from the host's cwd node_modules");
    assert.equal(created.outputs.cwd, progDir);
    for (const key of ["password", "apiKey"]) {
      assert.ok(isSecret(created.inputs[key]), `input ${key} stays secret`);
      assert.ok(isSecret(created.outputs[key]), `output ${key} re-marked secret from its input`);
    }
    assert.ok(isSecret(created.outputs.token), "additionalSecretOutputs");
    const token = (created.outputs.token as { value: string }).value;

    // up again, nothing changed: no update
    assert.deepEqual(ops(await engine.up(v1)), { file: "same", extra: "same" });
    assert.equal(fs.readFileSync(fileA, "utf8"), "v1");

    // changed input: update; dropped resource: delete
    assert.deepEqual(ops(await engine.preview(v2)), { file: "update", extra: "delete" });
    assert.equal(fs.readFileSync(fileA, "utf8"), "v1", "preview changes nothing");
    const updated = await engine.up(v2);
    assert.deepEqual(ops(updated), { file: "update", extra: "delete" });
    assert.deepEqual(updated.find((s) => s.urn === urn)!.keys, ["content"]);
    assert.equal(fs.readFileSync(fileA, "utf8"), "v2");
    assert.equal(fs.existsSync(extraFile), false);
    assert.ok(isSecret(engine.resource(urn)!.outputs.password));

    // diff answers replaces: create the new one, then delete the old
    const replaced = await engine.up(v3);
    assert.deepEqual(replaced.map((s) => [s.op, s.keys]), [["replace", ["fileName"]]]);
    assert.equal(fs.existsSync(fileA), false);
    assert.equal(fs.readFileSync(fileB, "utf8"), "v2");
    assert.equal(engine.resource(urn)!.id, fileB);

    // refresh reads the real state back
    fs.writeFileSync(fileB, "changed outside pulumi");
    const refreshed = await engine.refresh();
    assert.deepEqual(refreshed, [{ urn, op: "read", changed: true }]);
    assert.equal(engine.resource(urn)!.outputs.content, "changed outside pulumi");
    assert.ok(isSecret(engine.resource(urn)!.outputs.apiKey), "refresh keeps secrets marked");

    // a check failure comes back as failures, and the engine stops
    await assert.rejects(engine.up(bad), (err: unknown) => err instanceof CheckFailedError && err.failures[0].property === "content");

    // secrets never in plain text in the state file form, and recoverable from it
    const stateJson = JSON.stringify(engine.state());
    for (const secret of [MASTER_PASSWORD, API_KEY, token]) assert.ok(!stateJson.includes(secret), `state leaks ${secret}`);
    const stateRes = engine.state().resources[0];
    assert.equal(engine.decrypt((stateRes.inputs as Record<string, StateSecret>).password), MASTER_PASSWORD);

    // destroy
    assert.deepEqual((await engine.destroy()).map((s) => s.op), ["delete"]);
    assert.equal(fs.existsSync(fileB), false);
    assert.deepEqual(engine.state(), { resources: [] });

    // the host's logs: the provider's own lines, and no secret
    const logs = host.logText();
    assert.match(logs, /toy: created a\.txt/);
    assert.match(logs, /toy: updated a\.txt/);
    for (const secret of [MASTER_PASSWORD, API_KEY, token]) assert.ok(!logs.includes(secret), `logs leak ${secret}`);

    // stop kills the whole process group
    const pid = host.pid;
    await host.stop();
    host = undefined;
    assert.throws(() => process.kill(-pid, 0), { code: "ESRCH" });
  });
});
