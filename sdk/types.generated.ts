// Generated from schema.json by `make generate`; do not edit.
import type * as pulumi from "@pulumi/pulumi";

/** How to reach a MySQL or MariaDB server. */
export interface ServerConnectionInput {
  /** Host name or IP address of the server. */
  host: pulumi.Input<string>;
  /** TCP port of the server. */
  port?: pulumi.Input<number>;
  /** User to connect as. On the master it needs REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+) and SELECT; on the DR server, write and DDL privileges. */
  user: pulumi.Input<string>;
  /** Password of the user. Kept secret in state and outputs, never logged. */
  password?: pulumi.Input<string>;
  /** TLS to the server, as the mysql client's --ssl-mode, --ssl-ca, --ssl-cert and --ssl-key. Omitted: ssl-mode PREFERRED. */
  tls?: pulumi.Input<TlsSettingsInput>;
}

/** How to reach a MySQL or MariaDB server. */
export interface ServerConnection {
  /** Host name or IP address of the server. */
  host: string;
  /** TCP port of the server. */
  port?: number;
  /** User to connect as. On the master it needs REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR on MariaDB 10.5+) and SELECT; on the DR server, write and DDL privileges. */
  user: string;
  /** Password of the user. Kept secret in state and outputs, never logged. */
  password?: string;
  /** TLS to the server, as the mysql client's --ssl-mode, --ssl-ca, --ssl-cert and --ssl-key. Omitted: ssl-mode PREFERRED. */
  tls?: TlsSettings;
}

/** TLS to a MySQL or MariaDB server. Certificates and the key are PEM text (read them with fs.readFileSync), so a daemon running elsewhere receives them. */
export interface TlsSettingsInput {
  /** DISABLED: plain. PREFERRED: TLS when the server offers it, without verification, else plain. REQUIRED: TLS or fail, without verification. VERIFY_CA: also verify the server's certificate chain against ca (the system's CAs without ca), not the host name. VERIFY_IDENTITY: also the host name (or IP address) against the certificate. Default: VERIFY_CA when ca is given, PREFERRED otherwise. */
  mode?: pulumi.Input<"DISABLED" | "PREFERRED" | "REQUIRED" | "VERIFY_CA" | "VERIFY_IDENTITY">;
  /** PEM text of the CA certificate(s) that signed the server's certificate (the mysql client's --ssl-ca file contents). */
  ca?: pulumi.Input<string>;
  /** PEM text of a client certificate, for users created with REQUIRE X509, SUBJECT or ISSUER (--ssl-cert). Needs key. */
  cert?: pulumi.Input<string>;
  /** PEM text of the client certificate's private key (--ssl-key). Kept secret in state and outputs, never logged. */
  key?: pulumi.Input<string>;
}

/** TLS to a MySQL or MariaDB server. Certificates and the key are PEM text (read them with fs.readFileSync), so a daemon running elsewhere receives them. */
export interface TlsSettings {
  /** DISABLED: plain. PREFERRED: TLS when the server offers it, without verification, else plain. REQUIRED: TLS or fail, without verification. VERIFY_CA: also verify the server's certificate chain against ca (the system's CAs without ca), not the host name. VERIFY_IDENTITY: also the host name (or IP address) against the certificate. Default: VERIFY_CA when ca is given, PREFERRED otherwise. */
  mode?: "DISABLED" | "PREFERRED" | "REQUIRED" | "VERIFY_CA" | "VERIFY_IDENTITY";
  /** PEM text of the CA certificate(s) that signed the server's certificate (the mysql client's --ssl-ca file contents). */
  ca?: string;
  /** PEM text of a client certificate, for users created with REQUIRE X509, SUBJECT or ISSUER (--ssl-cert). Needs key. */
  cert?: string;
  /** PEM text of the client certificate's private key (--ssl-key). Kept secret in state and outputs, never logged. */
  key?: string;
}

/** The embedded default: a local mariadbd or mysqld (from PATH) that the provider starts with its own data directory, binlog and GTIDs on. */
export interface LocalServerInput {
  /** TCP port on 127.0.0.1 for the local server. */
  port: pulumi.Input<number>;
  /** Data directory, relative to the Pulumi program's folder or absolute. Kept when the resource is deleted unless deleteData is true. */
  dataDir: pulumi.Input<string>;
  /** Delete the data directory when the resource is deleted. */
  deleteData?: pulumi.Input<boolean>;
}

/** The embedded default: a local mariadbd or mysqld (from PATH) that the provider starts with its own data directory, binlog and GTIDs on. */
export interface LocalServer {
  /** TCP port on 127.0.0.1 for the local server. */
  port: number;
  /** Data directory, relative to the Pulumi program's folder or absolute. Kept when the resource is deleted unless deleteData is true. */
  dataDir: string;
  /** Delete the data directory when the resource is deleted. */
  deleteData?: boolean;
}

/** Which databases and tables replicate. Patterns are `db` or `db.table` with `*` as a wildcard. A table replicates when it matches an include (or there is none) and no exclude. */
export interface ObjectSelectionInput {
  /** Patterns to replicate; omit for the whole instance. */
  include?: pulumi.Input<pulumi.Input<string>[]>;
  /** Patterns not to replicate. */
  exclude?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Which databases and tables replicate. Patterns are `db` or `db.table` with `*` as a wildcard. A table replicates when it matches an include (or there is none) and no exclude. */
export interface ObjectSelection {
  /** Patterns to replicate; omit for the whole instance. */
  include?: string[];
  /** Patterns not to replicate. */
  exclude?: string[];
}

/** A replication daemon running elsewhere (systemd, a container, Kubernetes), for example in CI. */
export interface DaemonConnectionInput {
  /** The daemon's control URL, for example http://dr-daemon:7766. */
  url: pulumi.Input<string>;
  /** The daemon's bearer token (the `token` file in its state directory). */
  token: pulumi.Input<string>;
  /** For an https:// url: the CA certificate (PEM text) that signed the daemon's certificate (`mysql-dr daemon --tls-cert`). Default: the system's CAs. */
  caCert?: pulumi.Input<string>;
}

/** A replication daemon running elsewhere (systemd, a container, Kubernetes), for example in CI. */
export interface DaemonConnection {
  /** The daemon's control URL, for example http://dr-daemon:7766. */
  url: string;
  /** The daemon's bearer token (the `token` file in its state directory). */
  token: string;
  /** For an https:// url: the CA certificate (PEM text) that signed the daemon's certificate (`mysql-dr daemon --tls-cert`). Default: the system's CAs. */
  caCert?: string;
}

/** How a promotion (role changed to primary) behaves. */
export interface PromotionOptionsInput {
  /** Planned switchover: how long to wait for the DR copy to apply every master transaction after the master was made read-only. On timeout everything is restored as it was (the master writable again only if it was before, the DR read-only, the links unfenced) and the promotion fails, saying what it waited for. */
  timeoutSeconds?: pulumi.Input<number>;
  /** When the master is unreachable, promote anyway (forced): transactions the DR copy had not applied are lost, and the outputs report what is known of them. The guardrails that need the master are then skipped. */
  allowDataLoss?: pulumi.Input<boolean>;
  /** Guardrail: a planned promotion is refused (and the preview shows why) while the link's lag, an upper bound read from the servers, is above this. The write freeze of a switchover lasts about as long as the lag. */
  maxLagSeconds?: pulumi.Input<number>;
  /** Guardrail: a planned promotion is refused while a write transaction on the master has been open longer than this (it would fail when the master turns read-only). */
  maxOpenTransactionSeconds?: pulumi.Input<number>;
  /** Guardrail, off when absent: a planned promotion is refused unless a verification of the link (`mysql-dr verify --link`) found no differences within this many minutes. */
  requireVerifiedWithinMinutes?: pulumi.Input<number>;
}

/** How a promotion (role changed to primary) behaves. */
export interface PromotionOptions {
  /** Planned switchover: how long to wait for the DR copy to apply every master transaction after the master was made read-only. On timeout everything is restored as it was (the master writable again only if it was before, the DR read-only, the links unfenced) and the promotion fails, saying what it waited for. */
  timeoutSeconds?: number;
  /** When the master is unreachable, promote anyway (forced): transactions the DR copy had not applied are lost, and the outputs report what is known of them. The guardrails that need the master are then skipped. */
  allowDataLoss?: boolean;
  /** Guardrail: a planned promotion is refused (and the preview shows why) while the link's lag, an upper bound read from the servers, is above this. The write freeze of a switchover lasts about as long as the lag. */
  maxLagSeconds?: number;
  /** Guardrail: a planned promotion is refused while a write transaction on the master has been open longer than this (it would fail when the master turns read-only). */
  maxOpenTransactionSeconds?: number;
  /** Guardrail, off when absent: a planned promotion is refused unless a verification of the link (`mysql-dr verify --link`) found no differences within this many minutes. */
  requireVerifiedWithinMinutes?: number;
}

/** The last verification of a link (`mysql-dr verify --link`), kept by the daemon across restarts. */
export interface LastVerificationInput {
  /** When it finished (ISO 8601). */
  at: pulumi.Input<string>;
  /** mode "barrier": the GTID both servers were compared at; "live": the master GTIDs the link had applied when it finished. */
  gtid?: pulumi.Input<string>;
  /** "identical", "different" or "repaired" (differences were found and rewritten, and a second comparison found none). */
  result: pulumi.Input<string>;
  /** Tables compared. */
  tablesChecked: pulumi.Input<number>;
  /** Rows missing, extra or different on the DR server. */
  differences: pulumi.Input<number>;
  /** "barrier": both servers compared in snapshots at one GTID (`verify --at-barrier`, DataCheck); "live": compared while the link ran, differences rechecked until they settled. Absent in records of earlier versions (live). */
  mode?: pulumi.Input<"barrier" | "live">;
  /** Rows compared; absent in records of earlier versions. */
  rowsChecked?: pulumi.Input<number>;
  /** mode "barrier": SHA-256 (hex) over the master's chunk checksums at gtid, in table and chunk order (recomputable from a copy of the master restored at that GTID). */
  proofDigest?: pulumi.Input<string>;
  /** mode "barrier": the chunks compared per table, in the digest's order. */
  proofChunks?: pulumi.Input<pulumi.Input<TableChunksInput>[]>;
}

/** The last verification of a link (`mysql-dr verify --link`), kept by the daemon across restarts. */
export interface LastVerification {
  /** When it finished (ISO 8601). */
  at: string;
  /** mode "barrier": the GTID both servers were compared at; "live": the master GTIDs the link had applied when it finished. */
  gtid?: string;
  /** "identical", "different" or "repaired" (differences were found and rewritten, and a second comparison found none). */
  result: string;
  /** Tables compared. */
  tablesChecked: number;
  /** Rows missing, extra or different on the DR server. */
  differences: number;
  /** "barrier": both servers compared in snapshots at one GTID (`verify --at-barrier`, DataCheck); "live": compared while the link ran, differences rechecked until they settled. Absent in records of earlier versions (live). */
  mode?: "barrier" | "live";
  /** Rows compared; absent in records of earlier versions. */
  rowsChecked?: number;
  /** mode "barrier": SHA-256 (hex) over the master's chunk checksums at gtid, in table and chunk order (recomputable from a copy of the master restored at that GTID). */
  proofDigest?: string;
  /** mode "barrier": the chunks compared per table, in the digest's order. */
  proofChunks?: TableChunks[];
}

/** How many chunks of a table a verification at a barrier compared (a table without a unique key is one chunk). */
export interface TableChunksInput {
  /** db.table */
  table: pulumi.Input<string>;
  /** Chunks compared. */
  chunks: pulumi.Input<number>;
}

/** How many chunks of a table a verification at a barrier compared (a table without a unique key is one chunk). */
export interface TableChunks {
  /** db.table */
  table: string;
  /** Chunks compared. */
  chunks: number;
}

/** The SyncLink a DataCheck verifies, as the SDK passes it: the link's name and the daemon that runs it. */
export interface LinkReferenceInput {
  /** The link's name (the SyncLink's linkName). */
  name: pulumi.Input<string>;
  /** The daemon the SyncLink was given; absent for the default local daemon. */
  daemon?: pulumi.Input<DaemonConnectionInput>;
}

/** The SyncLink a DataCheck verifies, as the SDK passes it: the link's name and the daemon that runs it. */
export interface LinkReference {
  /** The link's name (the SyncLink's linkName). */
  name: string;
  /** The daemon the SyncLink was given; absent for the default local daemon. */
  daemon?: DaemonConnection;
}

/** What a verification found in one table, counted: no key and no row value is recorded in the state. */
export interface TableDifferencesInput {
  /** db.table */
  table: pulumi.Input<string>;
  /** Rows the master has and the DR server lacks. */
  missingOnDr: pulumi.Input<number>;
  /** Rows the DR server has and the master does not. */
  extraOnDr: pulumi.Input<number>;
  /** Rows whose key both have, with different values. */
  different: pulumi.Input<number>;
  /** Rows rewritten from the master (repair: true). */
  rowsRepaired: pulumi.Input<number>;
}

/** What a verification found in one table, counted: no key and no row value is recorded in the state. */
export interface TableDifferences {
  /** db.table */
  table: string;
  /** Rows the master has and the DR server lacks. */
  missingOnDr: number;
  /** Rows the DR server has and the master does not. */
  extraOnDr: number;
  /** Rows whose key both have, with different values. */
  different: number;
  /** Rows rewritten from the master (repair: true). */
  rowsRepaired: number;
}

/** The last recorded failover rehearsal of a link (`mysql-dr drill --link NAME --record`): its DR copy at one GTID copied into a throwaway server and promoted there. */
export interface LastDrillInput {
  /** When the drill finished (ISO 8601). */
  at: pulumi.Input<string>;
  /** The master GTIDs the drilled copy held. */
  gtid: pulumi.Input<string>;
  /** How long the promotion of the copy took, in milliseconds (RTO). */
  rtoMs: pulumi.Input<number>;
  /** Master transactions the copy lacked at that moment (RPO); absent when the master did not answer. */
  rpoTransactions?: pulumi.Input<number>;
  /** The promoted copy held exactly the DR copy's rows. */
  identical: pulumi.Input<boolean>;
  /** The promoted copy accepted an application user's write. */
  writable: pulumi.Input<boolean>;
}

/** The last recorded failover rehearsal of a link (`mysql-dr drill --link NAME --record`): its DR copy at one GTID copied into a throwaway server and promoted there. */
export interface LastDrill {
  /** When the drill finished (ISO 8601). */
  at: string;
  /** The master GTIDs the drilled copy held. */
  gtid: string;
  /** How long the promotion of the copy took, in milliseconds (RTO). */
  rtoMs: number;
  /** Master transactions the copy lacked at that moment (RPO); absent when the master did not answer. */
  rpoTransactions?: number;
  /** The promoted copy held exactly the DR copy's rows. */
  identical: boolean;
  /** The promoted copy accepted an application user's write. */
  writable: boolean;
}

/** What a forced promotion may have lost. Without the master it can only be bounded from below: the transactions the daemon saw the master commit that the DR copy had not applied, and whatever the master committed after the daemon's last record, which nobody can know. */
export interface DataLossInput {
  /** Master transactions seen by the daemon and not applied on the DR copy (a lower bound). */
  atLeastTransactions: pulumi.Input<number>;
  /** The daemon's last record of the master's position (ISO 8601): what the master committed after it is unknown. */
  unknownSince?: pulumi.Input<string>;
  /** Both in one sentence, e.g. "at least 3 transactions (...); unknown since 2026-11-30T12:00:00Z ...". */
  summary: pulumi.Input<string>;
}

/** What a forced promotion may have lost. Without the master it can only be bounded from below: the transactions the daemon saw the master commit that the DR copy had not applied, and whatever the master committed after the daemon's last record, which nobody can know. */
export interface DataLoss {
  /** Master transactions seen by the daemon and not applied on the DR copy (a lower bound). */
  atLeastTransactions: number;
  /** The daemon's last record of the master's position (ISO 8601): what the master committed after it is unknown. */
  unknownSince?: string;
  /** Both in one sentence, e.g. "at least 3 transactions (...); unknown since 2026-11-30T12:00:00Z ...". */
  summary: string;
}

/** What happens after a promotion: the link runs back from the promoted DR server to the old master (made a read-only replica) as soon as it answers, so that setting `role` back to "replica" switches back with nothing lost. */
export interface FailbackOptionsInput {
  /** Run the link back to the old master after a promotion. Without it the old master stays as the promotion left it. */
  enabled?: pulumi.Input<boolean>;
  /** Transactions the old master committed that the DR server never applied (the loss of a forced promotion): "refuse" reports them (`divergence`, `errantGtids`) and does not run back over them; "resync" replaces the tables they touched on the old master with the new primary's (the whole selection when they cannot be told), then runs back. Nothing on the old master is overwritten without "resync". */
  onDivergence?: pulumi.Input<"refuse" | "resync">;
}

/** What happens after a promotion: the link runs back from the promoted DR server to the old master (made a read-only replica) as soon as it answers, so that setting `role` back to "replica" switches back with nothing lost. */
export interface FailbackOptions {
  /** Run the link back to the old master after a promotion. Without it the old master stays as the promotion left it. */
  enabled?: boolean;
  /** Transactions the old master committed that the DR server never applied (the loss of a forced promotion): "refuse" reports them (`divergence`, `errantGtids`) and does not run back over them; "resync" replaces the tables they touched on the old master with the new primary's (the whole selection when they cannot be told), then runs back. Nothing on the old master is overwritten without "resync". */
  onDivergence?: "refuse" | "resync";
}

/** What the old master committed that the promoted DR server never applied, found by reading its binlog before the link runs back to it. */
export interface DivergenceInput {
  /** The transactions' GTIDs on the old master, in binlog order (those touching the link's selection). */
  gtids: pulumi.Input<pulumi.Input<string>[]>;
  /** Rows they changed per table (`db.table`); a DDL counts its table with 0 rows. */
  tables: pulumi.Input<Record<string, number>>;
  /** When the old master was examined (ISO 8601). */
  checkedAt: pulumi.Input<string>;
  /** Why the transactions could not be read (purged binlogs): then any table may differ. */
  unknown?: pulumi.Input<string>;
}

/** What the old master committed that the promoted DR server never applied, found by reading its binlog before the link runs back to it. */
export interface Divergence {
  /** The transactions' GTIDs on the old master, in binlog order (those touching the link's selection). */
  gtids: string[];
  /** Rows they changed per table (`db.table`); a DDL counts its table with 0 rows. */
  tables: Record<string, number>;
  /** When the old master was examined (ISO 8601). */
  checkedAt: string;
  /** Why the transactions could not be read (purged binlogs): then any table may differ. */
  unknown?: string;
}

/** The last switch back (role from "primary" to "replica"). */
export interface SwitchBackInput {
  /** When the old master opened again (ISO 8601). */
  at: pulumi.Input<string>;
  /** How long writes were refused: from the DR server turning read-only to the old master accepting writes, in milliseconds. */
  rtoMs: pulumi.Input<number>;
}

/** The last switch back (role from "primary" to "replica"). */
export interface SwitchBack {
  /** When the old master opened again (ISO 8601). */
  at: string;
  /** How long writes were refused: from the DR server turning read-only to the old master accepting writes, in milliseconds. */
  rtoMs: number;
}

/** A server's address for clients. */
export interface EndpointInput {
  /** Host name or IP address. */
  host: pulumi.Input<string>;
  /** TCP port. */
  port: pulumi.Input<number>;
}

/** A server's address for clients. */
export interface Endpoint {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** The DrInstance a SyncLink feeds, as the SDK passes it: the instance's id, the connections it resolved and its failback settings. */
export interface InstanceReferenceInput {
  /** The DrInstance's id. */
  id?: pulumi.Input<string>;
  /** The master the instance copies. */
  master: pulumi.Input<ServerConnectionInput>;
  /** How to reach the DR server itself. */
  connection: pulumi.Input<ServerConnectionInput>;
  /** The instance's failback settings, which the link follows after a promotion. */
  failback?: pulumi.Input<FailbackOptionsInput>;
}

/** The DrInstance a SyncLink feeds, as the SDK passes it: the instance's id, the connections it resolved and its failback settings. */
export interface InstanceReference {
  /** The DrInstance's id. */
  id?: string;
  /** The master the instance copies. */
  master: ServerConnection;
  /** How to reach the DR server itself. */
  connection: ServerConnection;
  /** The instance's failback settings, which the link follows after a promotion. */
  failback?: FailbackOptions;
}

/** Progress of an initial copy. */
export interface CopyProgressInput {
  /** Tables being copied. */
  tablesTotal: pulumi.Input<number>;
  /** Tables fully copied. */
  tablesDone: pulumi.Input<number>;
  /** Rows copied so far. */
  rowsCopied: pulumi.Input<number>;
  /** Rows expected in total (from the master's statistics). */
  rowsEstimated: pulumi.Input<number>;
  /** Estimated seconds left; absent before it can be told. */
  etaSeconds?: pulumi.Input<number>;
}

/** Progress of an initial copy. */
export interface CopyProgress {
  /** Tables being copied. */
  tablesTotal: number;
  /** Tables fully copied. */
  tablesDone: number;
  /** Rows copied so far. */
  rowsCopied: number;
  /** Rows expected in total (from the master's statistics). */
  rowsEstimated: number;
  /** Estimated seconds left; absent before it can be told. */
  etaSeconds?: number;
}

/** The inputs of a DrInstance. */
export interface DrInstanceArgs {
  /** The master this instance is a copy of. Changing only its credentials (user, password), or its address to one that reaches the same server (same server identity), updates the instance in place; another server replaces it. */
  master: pulumi.Input<ServerConnectionInput>;
  /** An existing server to use as the DR copy. Give exactly one of server and local. Changing only its credentials, or its address to one that reaches the same server, updates the instance in place; another server replaces it. */
  server?: pulumi.Input<ServerConnectionInput>;
  /** The embedded default: a local server the provider starts, with a generated root password (in the `connection` output). Give exactly one of server and local. Changing its port or dataDir replaces the instance; deleteData is an update. */
  local?: pulumi.Input<LocalServerInput>;
  /** "replica": read-only copy. Change to "primary" to promote it; the SyncLink then runs back to the old master (see failback). Change back to "replica" to switch back: a planned switchover to the old master, guarded like a promotion, after which the SyncLink runs forward again from the switch position, without a full copy. */
  role?: pulumi.Input<"replica" | "primary">;
  /** How a promotion behaves; a switch back uses the same settings and guardrails. */
  promotion?: pulumi.Input<PromotionOptionsInput>;
  /** What happens after a promotion (defaults: enabled, onDivergence "refuse"). Pass the instance to its SyncLink, which follows these settings. */
  failback?: pulumi.Input<FailbackOptionsInput>;
}

/** The outputs of a DrInstance. */
export interface DrInstanceOutputs {
  /** The master this instance is a copy of. */
  master: ServerConnection;
  /** How the provider and SyncLink reach the DR server; for a local server, as root with its generated password. */
  connection: ServerConnection;
  /** "mysql" or "mariadb", detected from the server. */
  flavor: string;
  /** The DR server's version string. */
  version: string;
  /** The DR server's own address, for reads (and for writes once promoted). */
  endpoint: Endpoint;
  /** "replica" or "primary". */
  role: string;
  /** Whether the DR server refuses ordinary writes. */
  readOnly: boolean;
  /** When the instance was promoted (ISO 8601); absent while a replica. */
  promotedAt?: string;
  /** The master GTIDs the DR copy had applied when it was promoted. */
  promotedGtid?: string;
  /** Forced promotion only: the master position last seen by the daemon, which the DR copy had not fully applied; absent when nothing is known to be lost. */
  unappliedGtid?: string;
  /** While a replica, refreshed by `pulumi refresh`: an upper bound of how far the DR copy is behind its master, read from the servers (0 when every master transaction is applied). */
  lagSeconds?: number;
  /** While a replica, refreshed: RPO, master transactions its links have not applied yet. */
  unappliedTransactions?: number;
  /** Refreshed. While a replica: transactions on the DR server that did not come from its links (MariaDB); absent when that cannot be told. While primary: the old master's transactions this server never applied (divergence.gtids). */
  errantGtids?: string[];
  /** While a replica, refreshed: the last verification of its link, as recorded on the DR server. */
  lastVerification?: LastVerification;
  /** Refreshed: the last recorded drill of its link (`mysql-dr drill --record`), as kept on the DR server; absent when none was recorded. */
  lastDrill?: LastDrill;
  /** While a replica, refreshed: whether a planned promotion with this instance's `promotion` settings would pass every guardrail now; absent when they could not be evaluated. */
  promotionReady?: boolean;
  /** While a replica, refreshed: the failing guardrails (or why they could not be evaluated), one sentence each. */
  promotionBlockers?: string[];
  /** Forced promotion only: what may have been lost, as far as it can be known without the master; absent after a planned promotion (nothing is lost). */
  dataLoss?: DataLoss;
  /** The failback settings in effect, defaults filled (the SyncLink follows them). */
  failback?: FailbackOptions;
  /** Refreshed: where the pair stands in the DR cycle: the DR server copies the master (replicating); it was promoted and nothing runs back yet (promoted: the old master has not answered, failback is off, or divergence stopped it); the link runs back to the old master (reverse-syncing); that link is in sync and verified (ready-to-switch-back). */
  cyclePhase?: "replicating" | "promoted" | "reverse-syncing" | "ready-to-switch-back";
  /** While primary, refreshed: the link back to the old master is in sync (the switch-back guardrails pass) and a verification of it at a GTID barrier (mysql-dr verify --link NAME --at-barrier, or a DataCheck) passed since the promotion. */
  failbackReady?: boolean;
  /** While primary, refreshed: what the old master committed that this server never applied, as found before the link ran back to it; absent until the old master was examined. */
  divergence?: Divergence;
  /** The last switch back, with its RTO. */
  lastSwitchBack?: SwitchBack;
  /** The master's server identity (server_uuid, or host name, data directory and server id), recorded so that a changed master address can be told to reach the same server. */
  masterIdentity?: string;
  /** The DR server's server identity, recorded for the same reason. */
  serverIdentity?: string;
}

/** The inputs of a SyncLink. */
export interface SyncLinkArgs {
  /** The DrInstance to keep in sync (pass the resource; the SDK passes its id and connections). Another DrInstance replaces the link; the same one with new credentials or a new address of the same servers updates the running link in place, from its checkpoint. */
  instance: pulumi.Input<InstanceReferenceInput>;
  /** Which databases and tables replicate; omit for the whole instance. Changing it updates the running link: newly selected tables are copied, then streamed. A selection changed outside Pulumi (`mysql-dr link update`) reads back as it is on refresh, and the next `up` puts this one back. */
  objects?: pulumi.Input<ObjectSelectionInput>;
  /** "full": create the selected tables on the DR server and copy their rows first; "none": the DR server already holds the data. Only used when the link is created, and not when the DR server already holds this link's checkpoint (a link deleted outside Pulumi is created again from there, nothing copied) or the daemon already runs a link of this name to the same servers with the same selection (adopted as it is). */
  initialSync?: pulumi.Input<"full" | "none">;
  /** What an UPDATE or DELETE that finds no row on the DR server does: "error" stops the link at that GTID, as native replication stops (error 1032); "skip-and-count" skips it and counts it in missingRowsSkipped. Changing it updates the running link. */
  onMissingRow?: pulumi.Input<"error" | "skip-and-count">;
  /** Whether the link is paused: the daemon stops reading and applying and keeps its position; false resumes it from its checkpoint. Changing it updates the link. A link paused or resumed outside Pulumi (`mysql-dr link pause`) reads back as it is on refresh, and the next `up` puts this value back. */
  paused?: pulumi.Input<boolean>;
  /** The link's name in the daemon and in mysql_dr.checkpoint on the DR server; defaults to the resource's name. */
  linkName?: pulumi.Input<string>;
  /** A daemon running elsewhere. Default: a local daemon that the provider starts in its own session (it outlives the deployment), with only the environment it needs, and that later runs reuse. Another daemon (URL) replaces the link; a new token is an update. */
  daemon?: pulumi.Input<DaemonConnectionInput>;
}

/** The outputs of a SyncLink. */
export interface SyncLinkOutputs {
  /** The link's name. */
  linkName: string;
  /** The control URL of the daemon running the link. */
  daemonUrl: string;
  /** starting, running, retrying, paused, error or promoted. A plain string, never a secret, so CI can gate on it (`pulumi stack output`). */
  state: string;
  /** copying, catching-up or syncing. */
  phase: string;
  /** Whether the link is paused, as the daemon said when last read. */
  paused?: boolean;
  /** Seconds the DR copy is behind the master (heartbeat-based, millisecond resolution); absent until measured. A plain number, never a secret. */
  lagSeconds?: number;
  /** Master GTIDs applied on the DR server. */
  appliedGtid?: string;
  /** The master's current GTID position. */
  sourceGtid?: string;
  /** Rows applied from the binlog since the link was created. */
  rowsApplied: number;
  /** UPDATEs and DELETEs that found no row on the DR server and were skipped (onMissingRow "skip-and-count"); 0 otherwise. */
  missingRowsSkipped: number;
  /** Which way the link runs: forward from the master to the DrInstance, or reverse, back from the promoted DrInstance to the old master (the link keeps its identity through the DR cycle). */
  direction?: "forward" | "reverse";
  /** After a promotion: the old master's transactions the promoted server never applied, as last examined; absent before. */
  divergence?: Divergence;
  /** Whether users, roles and grants follow the master, as a sentence: they do for a link over the whole instance (no include list), except the DR login's user; with an include list they are not copied. */
  accounts?: string;
  /** The last error, while the link retries or after it stopped; absent when none. */
  lastError?: string;
  /** RPO: master transactions not yet applied on the DR server (GTID distance between sourceGtid and appliedGtid); absent until both are known. A plain number, never a secret. */
  unappliedTransactions?: number;
  /** Transactions on the DR server that did not come from the link, newest GTID per domain and server (MariaDB); absent when that cannot be told (MySQL, or no right to set a session server_id). */
  errantGtids?: string[];
  /** The last verification of the link; absent when none was run. */
  lastVerification?: LastVerification;
  /** Whether a planned promotion would pass its guardrails now, with the default thresholds; absent when they could not be evaluated. */
  promotionReady?: boolean;
  /** The failing guardrails, one sentence each; empty when promotionReady. */
  promotionBlockers?: string[];
  /** Initial copy progress while the link copies or catches up. */
  copy?: CopyProgress;
}

/** The inputs of a DataCheck. */
export interface DataCheckArgs {
  /** The SyncLink to verify (pass the resource; the SDK passes its name and daemon). Another link, or another daemon URL, is a new check (replace); a new daemon token is an update that runs nothing. */
  link: pulumi.Input<LinkReferenceInput>;
  /** Any values; when they change, the check runs again (a replacement, as pulumi-command's triggers). */
  triggers?: pulumi.Input<pulumi.Input<any>[]>;
  /** Rewrite the differing rows on the DR server from the master, at a second barrier (the link held there), then check again at a third. Changing it takes effect at the next run. */
  repair?: pulumi.Input<boolean>;
  /** A check that leaves differences (after repair, if set) fails the deployment, naming the tables; false records them in the outputs instead. Changing it takes effect at the next run. */
  failOnDifference?: pulumi.Input<boolean>;
  /** How long the link may take to finish its current batch and then to apply up to the barrier; a link further behind fails the check, saying so. */
  barrierTimeoutSeconds?: pulumi.Input<number>;
  /** How long the check first waits for a link that is starting, copying or catching up (a SyncLink created in the same deployment) to be running in sync; then it fails, saying where the link is. */
  syncWaitSeconds?: pulumi.Input<number>;
}

/** The outputs of a DataCheck. */
export interface DataCheckOutputs {
  /** The link verified. */
  linkName: string;
  /** "identical"; "different" (only with failOnDifference false: otherwise the deployment fails); "repaired": differences were rewritten and the check at a new barrier found none. */
  result: "identical" | "different" | "repaired";
  /** When the compared snapshots were taken (ISO 8601). */
  at: string;
  /** The barrier: the master GTIDs both snapshots held exactly. */
  gtid: string;
  /** Tables compared. */
  tablesChecked: number;
  /** Rows compared. */
  rowsChecked: number;
  /** Per table with differences (or repaired rows), counted; never keys or row values. Empty when identical. */
  differences: TableDifferences[];
  /** SHA-256 (hex) over the master's chunk checksums at gtid, in table and chunk order. */
  proofDigest: string;
  /** The chunks compared per table, in the digest's order. */
  proofChunks: TableChunks[];
  /** With repair: the barrier the differing rows were rewritten at; absent when nothing was repaired. */
  repairGtid?: string;
}
