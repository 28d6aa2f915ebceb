/**
 * schema.json is the source of truth: the SDK's types and the README's reference are generated
 * from it and must not drift; `check` validates with ajv compiled from it, names the property and
 * never throws or touches the network.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { README_PATH, SDK_TYPES_PATH, generateSdkTypes, readmeWithReference } from "../../src/pulumi/codegen";
import * as drInstance from "../../src/pulumi/dr-instance";
import * as syncLink from "../../src/pulumi/sync-link";
import { packageSchema } from "../../src/pulumi/schema";

const master = { host: "10.0.0.5", port: 3306, user: "dr", password: "s3cret" };

describe("schema.json", () => {
  it("generates exactly the SDK types on disk (run `make generate` after editing schema.json)", () => {
    assert.equal(fs.readFileSync(SDK_TYPES_PATH, "utf8"), generateSdkTypes());
  });

  it("generates exactly the README's resource reference (run `make generate` after editing schema.json)", () => {
    const readme = fs.readFileSync(README_PATH, "utf8");
    assert.equal(readme, readmeWithReference(readme));
    assert.match(readme, /### DrInstance[\s\S]*\| `role` \|/);
  });

  it("marks every password and token secret and describes every property", () => {
    const schema = packageSchema();
    const all = [...Object.values(schema.types).map((t) => t.properties), ...Object.values(schema.resources).flatMap((r) => [r.inputProperties, r.properties])];
    for (const props of all) {
      for (const [name, p] of Object.entries(props)) {
        assert.ok(p.description && p.description.trim().length >= 5, `${name} needs a description`);
        if (/password|token/i.test(name)) assert.equal(p.secret, true, `${name} must be secret`);
      }
    }
  });
});

describe("check", () => {
  it("accepts the contract's program and fills defaults", async () => {
    const r = await drInstance.check({}, { master, local: { port: 3407, dataDir: ".dr/orders" } });
    assert.deepEqual(r.failures, []);
    assert.equal(r.inputs.role, "replica");
    assert.equal((r.inputs.local as { deleteData: boolean }).deleteData, false);
  });

  it("names the property path and says what is wrong, without throwing", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ local: { port: 3407, dataDir: "x" } }, "master", /master is required/],
      [{ master: { ...master, port: "3306" }, local: { port: 3407, dataDir: "x" } }, "master.port", /master\.port must be an integer/],
      [{ master, local: { port: 3407, dataDir: "x" }, role: "leader" }, "role", /role must be one of "replica", "primary"/],
      [{ master, local: { port: 3407 } }, "local.dataDir", /local\.dataDir is required/],
      [{ master, local: { port: 3407, dataDir: "x", colour: "red" } }, "local.colour", /local\.colour is not a known property/],
      [{ master }, "server", /exactly one of server .* and local/],
      [{ master, server: master, local: { port: 1, dataDir: "x" } }, "server", /exactly one/],
    ];
    for (const [news, property, reason] of cases) {
      const r = await drInstance.check({}, news);
      const failure = r.failures.find((f) => f.property === property);
      assert.ok(failure, `expected a failure on ${property} for ${JSON.stringify(news)}: ${JSON.stringify(r.failures)}`);
      assert.match(failure!.reason, reason);
      assert.ok(!JSON.stringify(r.failures).includes("s3cret"), "a failure must not show the password");
    }
  });

  it("validates SyncLink inputs the same way", async () => {
    const instance = { id: "x", master, connection: { host: "127.0.0.1", user: "root" } };
    assert.deepEqual((await syncLink.check({}, { instance, linkName: "orders-sync" })).failures, []);
    const r = await syncLink.check({}, { instance, linkName: "orders-sync", initialSync: "half", objects: { include: "shop" } });
    assert.deepEqual(r.failures.map((f) => f.property).sort(), ["initialSync", "objects.include"]);
  });
});
