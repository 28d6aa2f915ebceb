/**
 * What happened outside Pulumi is adopted on refresh, through the real dynamic-provider host: a DR
 * server promoted with `mysql-dr promote`, or made writable by an operator, reads back as role
 * "primary" with its promoted position, and the program's role "replica" then plans an update of
 * the DrInstance, never a replacement and never a silent re-fence; that update switches back (or,
 * opened by hand with nothing fenced, closes the DR server again); a link deleted with the CLI
 * reads back as gone and is created again.
 */
import * as assert from "node:assert/strict";
import { DaemonClient } from "../../src/cli/daemon-client";
import { gtidCovers } from "../../src/core/gtid";
import type { PromotionResult } from "../../src/promote/promoter";
import { runCli, sql, stopDaemonIn, tableContents, tempStateDir, waitCaughtUp, waitFor } from "../support/daemon-process";
import type { DynamicProviderHost, Registration, Step, TestEngine, WireMap } from "../support/pulumi-engine";
import { captureExample, programFolder, startHost } from "../support/pulumi-programs";
import { type ServerPair, type TestServer, describeEachBackend } from "../support/servers";

const ops = (steps: Step[]) => Object.fromEntries(steps.map((s) => [s.urn.split("::").pop()!, s.op]));

/**
 * The existing-servers example against this backend's pair, with `invoices` rows on the master, a
 * dynamic-provider host of its own and its local daemon's state directory; torn down after.
 */
function existingServersStack(getPair: () => ServerPair, tag: string, invoices: number) {
  const stack = {} as { master: TestServer; replica: TestServer; stateDir: string; host: DynamicProviderHost; engine: TestEngine; program(): Promise<Registration[]> };
  before(async () => {
    ({ master: stack.master, replica: stack.replica } = getPair());
    const rows = Array.from({ length: invoices }, (_, i) => `(${i + 1})`).join(", ");
    await sql(stack.master, `CREATE DATABASE billing; CREATE TABLE billing.invoices (id INT PRIMARY KEY); INSERT INTO billing.invoices VALUES ${rows}`);
    stack.stateDir = tempStateDir(tag);
    ({ host: stack.host, engine: stack.engine } = await startHost(programFolder(tag), { MYSQL_DR_STATE_DIR: stack.stateDir }));
  });
  after(async () => {
    if (stack.engine?.resources().length) await stack.engine.destroy().catch(() => undefined);
    await stack.host?.stop().catch(() => undefined);
    await stopDaemonIn(stack.stateDir);
  });
  stack.program = () => {
    const { master, replica } = stack;
    return captureExample("existing-servers", { masterHost: "127.0.0.1", masterPort: String(master.port), masterUser: master.user, drHost: "127.0.0.1", drPort: String(replica.port), drUser: replica.user }, { masterPassword: master.password, drPassword: replica.password });
  };
  return stack;
}

for (const how of ["mysql-dr promote", "read_only turned off by an operator"] as const) {
  describeEachBackend(`out-of-band promotion (${how}) adopted on refresh`, (getPair) => {
    const stack = existingServersStack(getPair, "out-of-band", 2);
    const outputs = (name: string) => stack.engine.resources().find((r) => r.urn.endsWith(`::${name}`))!.outputs as WireMap;

    it("reads back as role primary with its promoted position; role replica in the program plans an update, which switches back", async function () {
      this.timeout(300_000);
      const { master, replica, stateDir, engine, program } = stack;
      assert.deepEqual(ops(await engine.up(await program())), { "billing-dr": "create", "billing-sync": "create" });
      await waitFor("the initial copy", async () => (await tableContents(replica, "billing", "invoices").catch((): string[] => [])).length === 2, 120_000);
      const applied = (await waitCaughtUp(new DaemonClient({ stateDir }), "billing-sync", master)).appliedGtid;

      // What the promotion reports as promoted: the CLI's result, or (unfenced, the link still
      // applies the master's heartbeats) at least what was applied before read_only went off.
      let promotedGtid: string | undefined;
      if (how === "mysql-dr promote") {
        const promoted = runCli(["promote", "--source", master.url, "--target", replica.url, "--json"]);
        assert.equal(promoted.code, 0, promoted.stderr);
        promotedGtid = (JSON.parse(promoted.stdout) as PromotionResult).promotedGtid;
      } else {
        await sql(replica, "SET GLOBAL read_only = OFF");
      }
      const before = Date.now();
      await engine.refresh();
      const dr = outputs("billing-dr");
      assert.equal(dr.role, "primary");
      assert.equal(dr.readOnly, false);
      if (promotedGtid !== undefined) assert.equal(dr.promotedGtid, promotedGtid, "the position the promotion fenced");
      else assert.ok(gtidCovers(master.flavor, String(dr.promotedGtid), applied!), `${dr.promotedGtid} covers ${applied}`);
      assert.ok(typeof dr.promotedAt === "string" && Date.parse(dr.promotedAt) <= Math.max(before, Date.now()), String(dr.promotedAt));

      const plan = ops(await engine.preview(await program()));
      assert.equal(plan["billing-dr"], "update", "role back to replica is an update (the switch back), not a replacement");
      assert.notEqual(plan["billing-sync"], "replace");
      if (how === "mysql-dr promote") {
        // The promotion fenced the link: it runs back to the old master, and `up` switches back through it.
        await waitFor("the link to run back", async () => {
          const s = await new DaemonClient({ stateDir }).getLink("billing-sync");
          return s.direction === "reverse" && s.state === "running" && s.phase === "syncing";
        }, 60_000);
      }
      // Opened by hand, nothing was fenced and the link still applies the master: `up` closes it again.
      assert.equal(ops(await engine.up(await program()))["billing-dr"], "update");
      assert.equal(outputs("billing-dr").role, "replica");
      assert.equal(Number((await sql(replica, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 1, "the DR server is a replica again");
      assert.equal(Number((await sql(master, "SELECT @@GLOBAL.read_only AS ro"))[0].ro), 0, "the master is writable");
      await waitFor("the link to run forward", async () => {
        const s = await new DaemonClient({ stateDir }).getLink("billing-sync");
        return s.direction === "forward" && s.state === "running";
      }, 60_000);
    });
  });
}

describeEachBackend("a link deleted outside Pulumi", (getPair) => {
  const stack = existingServersStack(getPair, "deleted-link", 1);

  it("reads back as gone on refresh, and the next up creates it again", async function () {
    this.timeout(300_000);
    const { replica, stateDir, engine, program } = stack;
    await engine.up(await program());
    await waitFor("the initial copy", async () => (await tableContents(replica, "billing", "invoices").catch((): string[] => [])).length === 1, 120_000);
    await new DaemonClient({ stateDir }).deleteLink("billing-sync");

    await engine.refresh();
    assert.ok(!engine.resources().some((r) => r.urn.endsWith("::billing-sync")), "the deleted link is gone from the state");
    const plan = ops(await engine.preview(await program()));
    assert.equal(plan["billing-sync"], "create");
    assert.equal(plan["billing-dr"], "same");
  });
});
