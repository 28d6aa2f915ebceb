/**
 * Users, roles and grants on a server, as the statements that recreate them elsewhere: what a
 * whole-instance link copies so the application's users log in to a promoted DR server. Which
 * accounts a link leaves alone is decided here too, once, for the copy and the stream. Only reads.
 */
import type { Connection } from "../core/db";
import type { Flavor } from "../core/flavor";
import type { ObjectSelection } from "../core/object-filter";

/** An account: `user`@`host`, or a MariaDB role (no host). */
export interface AccountName {
  user: string;
  host?: string;
}

/** `` `user`@`host` `` (or `` `role` ``): backticks name an account under any sql_mode. */
export function formatAccount(a: AccountName): string {
  const q = (s: string) => `\`${s.replace(/`/g, "``")}\``;
  return a.host === undefined ? q(a.user) : `${q(a.user)}@${q(a.host)}`;
}

export interface AccountPolicy {
  flavor: Flavor;
  /** Users whose accounts stay as they are on the DR server: the daemon's login there, the server's own. */
  protectedUsers: string[];
}

/** Accounts the servers create for themselves (MySQL's mysql.sys/session/infoschema, MariaDB's mariadb.sys). */
export const SYSTEM_ACCOUNT_USERS = ["mysql.sys", "mysql.session", "mysql.infoschema", "mariadb.sys"];

/**
 * A link over the whole instance (no include list) follows the master's accounts, except the
 * DR login's user (replaying ALTER/DROP USER of it would lock the daemon out) and the system ones.
 */
export function accountPolicy(objects: ObjectSelection, drUser: string, flavor: Flavor): AccountPolicy | undefined {
  return objects.include.length === 0 ? { flavor, protectedUsers: [drUser, ...SYSTEM_ACCOUNT_USERS] } : undefined;
}

/** What link status says about accounts. */
export function accountsSummary(policy: AccountPolicy | undefined): string {
  if (!policy) return "not copied: the link selects databases or tables, and accounts follow the master only for a link over the whole instance";
  return `follow the master (users, roles and grants), except user '${policy.protectedUsers[0]}', the daemon's login on the DR server, and the servers' system accounts`;
}

export interface AccountDefinition {
  account: AccountName;
  /** A MariaDB role: created with CREATE ROLE, shown by SHOW GRANTS only. */
  role: boolean;
  /** CREATE USER (or CREATE ROLE) with its authentication, limits and options; null for a MariaDB role. */
  create: string | null;
  /** SHOW GRANTS, one statement each: privileges, roles granted, MariaDB's SET DEFAULT ROLE. */
  grants: string[];
  /** For a MariaDB role: the accounts holding it WITH ADMIN OPTION (CREATE ROLE ... WITH ADMIN takes one). */
  admins: AccountName[];
}

/** The server's accounts other than the policy's protected users. */
export async function listAccounts(conn: Connection, policy: AccountPolicy): Promise<AccountDefinition[]> {
  const mariadb = policy.flavor === "mariadb";
  if (!mariadb) await conn.query("SET SESSION print_identified_with_as_hex = ON").catch(() => undefined); // MySQL 8.0.17+: binary hashes as 0x...
  const [rows] = await conn.query(`SELECT User AS user, Host AS host${mariadb ? ", is_role AS isRole" : ", 'N' AS isRole"} FROM mysql.user ORDER BY User, Host /* mysql-dr copy */`);
  const out: AccountDefinition[] = [];
  for (const r of rows as { user: string; host: string; isRole: string }[]) {
    if (policy.protectedUsers.includes(r.user)) continue;
    const role = r.isRole === "Y";
    const account: AccountName = role ? { user: r.user } : { user: r.user, host: r.host };
    const name = formatAccount(account);
    const create = role ? null : Object.values(((await conn.query(`SHOW CREATE USER ${name}`))[0] as Record<string, string>[])[0])[0];
    const grants = ((await conn.query(`SHOW GRANTS FOR ${name}`))[0] as Record<string, string>[]).map((g) => Object.values(g)[0]);
    const admins = role ? await roleAdmins(conn, r.user) : [];
    out.push({ account, role, create, grants, admins });
  }
  return out;
}

async function roleAdmins(conn: Connection, role: string): Promise<AccountName[]> {
  const [rows] = await conn.query("SELECT User AS user, Host AS host FROM mysql.roles_mapping WHERE Role = ? AND Admin_option = 'Y' ORDER BY User, Host", [role]);
  return (rows as { user: string; host: string }[]).map((r) => (r.host === "" ? { user: r.user } : { user: r.user, host: r.host }));
}
