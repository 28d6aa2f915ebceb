/**
 * A `local` DrInstance's data directory, through the real dynamic-provider host: `deleteData`
 * deletes only a directory the provider created and refuses (keeping everything) one that existed
 * before; a server re-created over kept data starts with its stored generated password.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { OWNER_MARKER } from "../../src/pulumi/local-server";
import { pickFreePort } from "../../src/sandbox/sandbox";
import { portRefuses, sql, stopDaemonIn, tempStateDir } from "../support/daemon-process";
import { type DynamicProviderHost, type Registration, type Step, type TestEngine, type WireMap, stripSecrets } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type TestServer, describeEachBackend } from "../support/servers";

const PASSWORD = "local-Pa55";
const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

describeEachBackend("local DrInstance data directory through the dynamic-provider host", (getPair) => {
  let master: TestServer;
  let stateDir: string;
  const hosts: DynamicProviderHost[] = [];
  const engines: TestEngine[] = [];

  before(async () => {
    ({ master } = getPair());
    await sql(master, "CREATE USER 'dr'@'%' IDENTIFIED BY ?; GRANT ALL PRIVILEGES ON *.* TO 'dr'@'%'", [PASSWORD]);
    stateDir = tempStateDir("local-server");
  });
  after(async () => {
    for (const e of engines) if (e.resources().length) await e.destroy().catch(() => undefined);
    for (const h of hosts) await h.stop().catch(() => undefined);
    await stopDaemonIn(stateDir);
  });

  /** The quickstart's DrInstance alone, on its own port, with the data directory and deleteData given. */
  async function drInstance(dataDir: string, port: number, deleteData: boolean): Promise<Registration> {
    const [dr] = await captureExample("quickstart", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: "dr", drPort: String(port), dataDir }, { masterPassword: PASSWORD });
    return { ...dr, inputs: { ...dr.inputs, local: { ...(dr.inputs.local as WireMap), deleteData } } };
  }

  async function host(dir: string): Promise<TestEngine> {
    const started = await startHost(dir, { MYSQL_DR_STATE_DIR: stateDir });
    hosts.push(started.host);
    engines.push(started.engine);
    return started.engine;
  }

  it("deleteData refuses a data directory that existed before, and keeps it", async function () {
    this.timeout(300_000);
    const dir = programFolder("users-dir");
    const usersDir = path.join(dir, "my-data");
    fs.mkdirSync(usersDir);
    fs.writeFileSync(path.join(usersDir, "keep.txt"), "mine");
    const port = await pickFreePort();
    const engine = await host(dir);
    assert.deepEqual(ops(await engine.up([await drInstance(usersDir, port, true)])), { "orders-dr": "create" });

    await assert.rejects(engine.destroy(), /deleteData is true but the data directory .*my-data was not created by this DrInstance/);
    assert.equal(fs.readFileSync(path.join(usersDir, "keep.txt"), "utf8"), "mine", "nothing was deleted");
    assert.ok(!(await portRefuses(port)), "and the server still runs: the resource still exists");

    assert.deepEqual(ops(await engine.up([await drInstance(usersDir, port, false)])), { "orders-dr": "update" });
    await engine.destroy();
    assert.ok(await portRefuses(port));
    assert.ok(fs.existsSync(path.join(usersDir, "keep.txt")), "a directory the provider did not create is never deleted");
  });

  it("a directory the provider created: re-created over kept data with its stored password, deleted with deleteData", async function () {
    this.timeout(300_000);
    const dir = programFolder("own-dir");
    const port = await pickFreePort();
    const engine = await host(dir);
    const password = () => (stripSecrets(engine.resources()[0].outputs.connection) as { password: string }).password;
    await engine.up([await drInstance(".dr/own", port, false)]);
    const first = password();
    assert.ok(fs.existsSync(path.join(dir, ".dr", "own", OWNER_MARKER)), "the provider marks the directory it created");
    await engine.destroy();
    assert.ok(fs.existsSync(path.join(dir, ".dr", "own", "data")), "deleteData false keeps the data");

    assert.deepEqual(ops(await engine.up([await drInstance(".dr/own", port, false)])), { "orders-dr": "create" });
    assert.equal(password(), first, "the kept server's root password is the one generated for it");
    assert.deepEqual(ops(await engine.refresh()), { "orders-dr": "read" });
    assert.deepEqual(ops(await engine.up([await drInstance(".dr/own", port, true)])), { "orders-dr": "update" });
    await engine.destroy();
    assert.ok(!fs.existsSync(path.join(dir, ".dr", "own")), "deleteData deletes the directory the provider created");
  });
});
