/**
 * Copies the master's users, roles and grants to the DR server when a whole-instance link is
 * created (the binlog carries their later changes): accounts first, each replacing one of the same
 * name, then every grant, since grants name roles and accounts that must exist by then.
 */
import { type AccountDefinition, type AccountPolicy, formatAccount, listAccounts } from "../catalog/accounts";
import type { Connection } from "../core/db";
import { DrError } from "../core/errors";

/** MySQL: CREATE USER ... DEFAULT ROLE naming a role not created yet. */
const ER_UNKNOWN_AUTHID = 3523;

/**
 * Granting needs the grantor to hold what it grants: replaying any account statement needs the
 * DR login to hold every privilege with GRANT OPTION, as the replica's own applier does.
 */
export async function checkCanReplayAccounts(target: Connection, where: string): Promise<void> {
  const [rows] = await target.query("SHOW GRANTS /* mysql-dr precheck */");
  const grants = (rows as Record<string, string>[]).map((r) => Object.values(r)[0]);
  if (!grants.some((g) => /^GRANT ALL PRIVILEGES ON \*\.\* TO .* WITH GRANT OPTION/i.test(g))) {
    throw new DrError("PRECONDITION", `A link over the whole instance replays the master's users and grants, which needs the DR login on ${where} to hold ALL PRIVILEGES ON *.* WITH GRANT OPTION; grant that, or give the link an include list (accounts are then not copied).`);
  }
}

/** Returns the accounts copied, as `user@host` names. */
export async function copyAccounts(source: Connection, target: Connection, policy: AccountPolicy): Promise<string[]> {
  const accounts = await listAccounts(source, policy);
  for (const a of accounts) await target.query(`DROP ${a.role ? "ROLE" : "USER"} IF EXISTS ${formatAccount(a.account)} /* mysql-dr copy */`);
  await createInDependencyOrder(target, accounts.filter((a) => !a.role));
  for (const a of accounts.filter((r) => r.role)) await createMariadbRole(target, a);
  for (const a of accounts) for (const grant of a.grants) await target.query(grant);
  return accounts.map((a) => formatAccount(a.account));
}

/** MySQL's DEFAULT ROLE names roles, which are accounts too: those wait for the rounds that create them. */
async function createInDependencyOrder(target: Connection, accounts: AccountDefinition[]): Promise<void> {
  let pending = accounts;
  while (pending.length) {
    const waiting: AccountDefinition[] = [];
    for (const a of pending) {
      try {
        await target.query(a.create!);
      } catch (err) {
        if ((err as { errno?: number }).errno !== ER_UNKNOWN_AUTHID) throw err;
        waiting.push(a);
      }
    }
    if (waiting.length === pending.length) {
      throw new DrError("PRECONDITION", `Account ${formatAccount(waiting[0].account)} on the master names a default role that is not among its accounts; fix the account on the master, or create the link with an include list (accounts are then not copied).`);
    }
    pending = waiting;
  }
}

/**
 * MariaDB makes the creator of a role its admin: the DR login must not become one, so the role is
 * created with one of the master's admins (or none, the grant removed again).
 */
async function createMariadbRole(target: Connection, role: AccountDefinition): Promise<void> {
  const name = formatAccount(role.account);
  const admin = role.admins.find((a) => a.user !== role.account.user);
  if (admin) {
    await target.query(`CREATE ROLE ${name} WITH ADMIN ${formatAccount(admin)}`);
    return;
  }
  await target.query(`CREATE ROLE ${name}`);
  await target.query(`REVOKE ${name} FROM CURRENT_USER`);
}
