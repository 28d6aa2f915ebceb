/**
 * Whether a drill's sandbox accepts an application's writes. root would write through read_only
 * (it holds SUPER / READ ONLY ADMIN), so the probe writes as a user of its own that holds only
 * INSERT on a table of its own, as an application's user would; it tries once before the
 * promotion, where it must be refused (else the check after it could not fail), and once after.
 */
import * as crypto from "node:crypto";
import type { ServerAddress } from "../core/connection-url";
import { type Connection, openConnection } from "../core/db";

const PROBE_DB = "mysql_dr_drill";
const PROBE_TABLE = `${PROBE_DB}.write_probe`;
const PROBE_USER = "mysql_dr_drill";
const PASSWORD_BYTES = 24;
/** ER_OPTION_PREVENTS_STATEMENT: "The MySQL server is running with the --read-only option". */
const ER_READ_ONLY = 1290;

export class WriteProbe {
  private constructor(private readonly address: ServerAddress) {}

  /** Creates the probe's table and user as `admin` (sandbox root), on a server not yet read-only. */
  static async create(admin: Connection, sandbox: ServerAddress): Promise<WriteProbe> {
    // Only the sandbox ever knows it; it dies with the sandbox.
    const password = crypto.randomBytes(PASSWORD_BYTES).toString("base64url");
    await admin.query(`CREATE DATABASE ${PROBE_DB} /* mysql-dr drill */`);
    await admin.query(`CREATE TABLE ${PROBE_TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, written_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB /* mysql-dr drill */`);
    await admin.query(`CREATE USER '${PROBE_USER}'@'${sandbox.host}' IDENTIFIED BY ? /* mysql-dr drill */`, [password]);
    await admin.query(`GRANT INSERT ON ${PROBE_TABLE} TO '${PROBE_USER}'@'${sandbox.host}' /* mysql-dr drill */`);
    return new WriteProbe({ host: sandbox.host, port: sandbox.port, user: PROBE_USER, password });
  }

  /** True when the probe's INSERT committed; false when read_only refused it; anything else throws. */
  async tryWrite(): Promise<boolean> {
    const conn = await openConnection(this.address, "sandbox");
    try {
      await conn.query(`INSERT INTO ${PROBE_TABLE} () VALUES () /* mysql-dr drill */`);
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === ER_READ_ONLY) return false;
      throw err;
    } finally {
      conn.destroy();
    }
  }
}
