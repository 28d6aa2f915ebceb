/**
 * Consistent snapshots of the DR server while its link is held at a barrier. The GTID a snapshot
 * reflects is read inside it from the link's checkpoint row: the applier commits that row in the
 * same transaction as the rows it covers, so it is exact (no lock, no status variable). Each
 * snapshot must show the link exactly at the barrier, or the comparison would not be of one
 * instant, and the verification stops saying so.
 */
import type { ServerAddress } from "../core/connection-url";
import { formatHostPort } from "../core/connection-url";
import type { Connection } from "../core/db";
import { DrError } from "../core/errors";
import type { Flavor } from "../core/flavor";
import { gtidCovers } from "../core/gtid";
import { readCheckpoint } from "../dr-state/checkpoint-store";

/**
 * Starts a snapshot on each of `sessions` (connected by openSnapshotSessions) and checks that each
 * shows link `link`'s checkpoint at exactly `gtid`.
 */
export async function startDrSnapshots(sessions: Connection[], link: string, gtid: string, flavor: Flavor, address: ServerAddress): Promise<void> {
  await Promise.all(sessions.map(async (conn) => {
    await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY /* mysql-dr verify */");
    const checkpoint = await readCheckpoint(conn, link);
    const where = `the DR server at ${formatHostPort(address)}`;
    if (!checkpoint) throw new DrError("PRECONDITION", `No checkpoint of link ${link} is on ${where}; check the link's target.`);
    if (checkpoint.fenced) throw new DrError("PRECONDITION", `Link ${link} is fenced on ${where} (it was promoted): there is no DR copy to verify.`);
    if (checkpoint.pendingDdl) throw new DrError("CONFLICT", `Link ${link} has a DDL in flight on ${where} (${checkpoint.pendingDdl.gtid}), so the copy is not exactly at its checkpoint; run the verification again.`);
    const at = checkpoint.sourceGtid.replace(/\s+/g, "");
    if (!(gtidCovers(flavor, at, gtid) && gtidCovers(flavor, gtid, at))) {
      throw new DrError("INTERNAL", `The DR snapshot of link ${link} is at ${at}, not at the barrier ${gtid} the link was held at; the comparison would not be of one instant, so none was made.`);
    }
  }));
}
