/**
 * The local daemon the provider starts inherits only what it needs from the provider's
 * environment: never the Pulumi access token, cloud credentials or anything else there; and it
 * starts with the daemon's heap flags.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { STATE_FILES } from "../../src/core/state-dir";
import { DAEMON_NODE_FLAGS } from "../../src/daemon/defaults";
import { daemonClient } from "../../src/pulumi/local-daemon";
import { stopDaemonIn, tempStateDir } from "../support/daemon-process";

const MARKER = "marker-secret-5f1c0e";
const SECRET_VARIABLES = ["PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_SECRET_ACCESS_KEY", "SOME_APP_SETTING"];

describe("the local daemon the provider starts", () => {
  it("gets a scrubbed environment (the state directory and the basics, no secrets) and the daemon's heap flags", async function () {
    this.timeout(60_000);
    const stateDir = tempStateDir("daemon-env");
    const saved = { ...process.env };
    Object.assign(process.env, { MYSQL_DR_STATE_DIR: stateDir, NODE_OPTIONS: "--max-old-space-size=64" }, Object.fromEntries(SECRET_VARIABLES.map((k) => [k, MARKER])));
    try {
      await daemonClient(undefined);
      const pid = Number(fs.readFileSync(path.join(stateDir, STATE_FILES.pid), "utf8"));
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
      assert.ok(!environ.some((e) => e.includes(MARKER)), `the daemon inherited a secret: ${environ.filter((e) => e.includes(MARKER)).map((e) => e.split("=")[0]).join(", ")}`);
      assert.ok(!environ.some((e) => e.startsWith("NODE_OPTIONS=")), "nor the provider's NODE_OPTIONS");
      assert.ok(environ.includes(`MYSQL_DR_STATE_DIR=${stateDir}`));
      assert.ok(environ.some((e) => e.startsWith("PATH=")));
      // Its heap sized as daemon/defaults.ts says (flags V8 reads only at start).
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      for (const flag of DAEMON_NODE_FLAGS) assert.ok(argv.includes(flag), `the daemon was started without ${flag}: ${argv.join(" ")}`);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await stopDaemonIn(stateDir);
    }
  });
});
