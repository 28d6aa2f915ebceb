/**
 * What a Pulumi program imports: `DrInstance`, `SyncLink` and `DataCheck`, thin classes over
 * pulumi.dynamic.Resource with the types generated from schema.json.
 *
 * Pulumi serializes a dynamic resource's provider object into the state and runs it later in a
 * separate host process whose working directory is the program's folder. The provider here is a
 * shim that captures nothing but the resource's name: each method requires the installed
 * package's handlers at call time, so upgrading the package takes effect without re-creating
 * resources.
 */
import * as pulumi from "@pulumi/pulumi";
import type { DaemonConnection, DataCheckArgs, DataCheckOutputs, DrInstanceArgs, DrInstanceOutputs, FailbackOptionsInput, ServerConnectionInput, SyncLinkArgs, SyncLinkOutputs } from "./types.generated";

export * from "./types.generated";

type ResourceName = "DrInstance" | "SyncLink" | "DataCheck";

function providerShim(resource: ResourceName): pulumi.dynamic.ResourceProvider {
  // Resolved from the program's folder, where the package is installed.
  const handlers = () => require("pulumi-mysql-dr/dist/provider/src/pulumi/handlers.js").handlers[resource];
  return {
    check: (olds, news) => handlers().check(olds, news),
    diff: (id, olds, news) => handlers().diff(id, olds, news),
    create: (inputs) => handlers().create(inputs),
    read: (id, props) => handlers().read(id, props),
    update: (id, olds, news) => handlers().update(id, olds, news),
    delete: (id, props) => handlers().remove(id, props),
  };
}

type Outputs<T> = { readonly [K in keyof T]-?: pulumi.Output<T[K]> };

/** Declares the outputs as undefined inputs so the resource object gets them as properties. */
function outputSlots(names: string[]): Record<string, undefined> {
  return Object.fromEntries(names.map((n) => [n, undefined]));
}

/**
 * A server designated as the disaster-recovery copy of a master: read-only while a replica.
 * Change `role` to "primary" to promote it.
 */
export class DrInstance extends pulumi.dynamic.Resource {
  declare readonly master: Outputs<DrInstanceOutputs>["master"];
  declare readonly connection: Outputs<DrInstanceOutputs>["connection"];
  declare readonly flavor: Outputs<DrInstanceOutputs>["flavor"];
  declare readonly version: Outputs<DrInstanceOutputs>["version"];
  declare readonly endpoint: Outputs<DrInstanceOutputs>["endpoint"];
  declare readonly role: Outputs<DrInstanceOutputs>["role"];
  declare readonly readOnly: Outputs<DrInstanceOutputs>["readOnly"];
  declare readonly promotedAt: pulumi.Output<string | undefined>;
  declare readonly promotedGtid: pulumi.Output<string | undefined>;
  declare readonly unappliedGtid: pulumi.Output<string | undefined>;
  declare readonly failback: Outputs<DrInstanceOutputs>["failback"];
  declare readonly cyclePhase: Outputs<DrInstanceOutputs>["cyclePhase"];
  declare readonly failbackReady: pulumi.Output<boolean | undefined>;
  declare readonly divergence: pulumi.Output<DrInstanceOutputs["divergence"]>;
  declare readonly lastSwitchBack: pulumi.Output<DrInstanceOutputs["lastSwitchBack"]>;
  /** The last recorded drill (`mysql-dr drill --record`), refreshed by `pulumi refresh`; undefined when none was recorded. */
  declare readonly lastDrill: pulumi.Output<DrInstanceOutputs["lastDrill"]>;

  /**
   * The `server` input as the program gave it, for the SyncLinks of this instance: in `server` mode
   * it is the DR server's connection, and unlike the `connection` output it is known in a preview
   * while this instance is updated (a dynamic provider's preview outputs are its inputs).
   */
  readonly serverInput?: pulumi.Input<ServerConnectionInput>;
  /** The `failback` input as the program gave it, for the SyncLinks of this instance (known in a preview, like serverInput). */
  readonly failbackInput?: pulumi.Input<FailbackOptionsInput>;

  constructor(name: string, args: DrInstanceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      providerShim("DrInstance"),
      name,
      { ...outputSlots(["connection", "flavor", "version", "endpoint", "readOnly", "promotedAt", "promotedGtid", "unappliedGtid", "failback", "cyclePhase", "failbackReady", "divergence", "lastSwitchBack", "lastDrill"]), ...args },
      { ...opts, additionalSecretOutputs: ["master", "server", "connection"] },
    );
    this.serverInput = args.server;
    this.failbackInput = args.failback;
  }
}

/** The SyncLink's inputs as a program writes them: the DrInstance itself instead of its reference. */
export interface SyncLinkProgramArgs extends Omit<SyncLinkArgs, "instance"> {
  /** The DrInstance to keep in sync. */
  instance: DrInstance;
}

/** The replication from a DrInstance's master to the DrInstance, run by a replication daemon. */
export class SyncLink extends pulumi.dynamic.Resource {
  declare readonly linkName: Outputs<SyncLinkOutputs>["linkName"];
  declare readonly daemonUrl: Outputs<SyncLinkOutputs>["daemonUrl"];
  declare readonly state: Outputs<SyncLinkOutputs>["state"];
  declare readonly phase: Outputs<SyncLinkOutputs>["phase"];
  declare readonly lagSeconds: pulumi.Output<number | undefined>;
  declare readonly appliedGtid: pulumi.Output<string | undefined>;
  declare readonly sourceGtid: pulumi.Output<string | undefined>;
  declare readonly rowsApplied: Outputs<SyncLinkOutputs>["rowsApplied"];
  declare readonly missingRowsSkipped: Outputs<SyncLinkOutputs>["missingRowsSkipped"];
  declare readonly lastError: pulumi.Output<string | undefined>;
  declare readonly copy: pulumi.Output<SyncLinkOutputs["copy"]>;
  /** The daemon input, as given (secret); a DataCheck of this link talks to the same daemon. */
  declare readonly daemon: pulumi.Output<DaemonConnection | undefined>;
  declare readonly direction: pulumi.Output<SyncLinkOutputs["direction"]>;
  declare readonly divergence: pulumi.Output<SyncLinkOutputs["divergence"]>;
  declare readonly paused: pulumi.Output<boolean | undefined>;
  declare readonly accounts: pulumi.Output<string | undefined>;
  /** RPO as a plain number (never a secret): master transactions not applied yet. */
  declare readonly unappliedTransactions: pulumi.Output<number | undefined>;
  declare readonly errantGtids: pulumi.Output<string[] | undefined>;
  declare readonly lastVerification: pulumi.Output<SyncLinkOutputs["lastVerification"]>;
  declare readonly promotionReady: pulumi.Output<boolean | undefined>;
  declare readonly promotionBlockers: pulumi.Output<string[] | undefined>;

  /**
   * An existing link, read (never changed) by its id: `<linkName>` on the local daemon, or
   * `<daemonUrl>#<linkName>` (token from MYSQL_DR_TOKEN). Its outputs are the link's status.
   */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): SyncLink {
    // No args: the constructor sends only the provider, and read() finds the link by the id.
    return new SyncLink(name, undefined as unknown as SyncLinkProgramArgs, { ...opts, id });
  }

  constructor(name: string, args: SyncLinkProgramArgs, opts?: pulumi.CustomResourceOptions) {
    const outputs = ["daemonUrl", "state", "phase", "paused", "lagSeconds", "appliedGtid", "sourceGtid", "rowsApplied", "missingRowsSkipped", "accounts", "lastError", "unappliedTransactions", "errantGtids", "lastVerification", "promotionReady", "promotionBlockers", "copy", "direction", "divergence"];
    if (!args) {
      super(providerShim("SyncLink"), name, outputSlots(["linkName", "instance", "objects", "onMissingRow", "daemon", ...outputs]), { ...opts, additionalSecretOutputs: ["instance", "daemon"] });
      return;
    }
    const { instance, ...rest } = args;
    super(
      providerShim("SyncLink"),
      name,
      {
        // "daemon" too: an input when given, and the slot a DataCheck of this link reads it from.
        ...outputSlots([...outputs, "daemon"]),
        linkName: name,
        ...rest,
        // The DR server's connection: in `server` mode the DrInstance's own input, known in a
        // preview; for a `local` instance its output (which an in-place update never changes).
        instance: { id: instance.id, master: instance.master, connection: instance.serverInput ?? instance.connection, failback: instance.failbackInput },
      },
      { ...opts, dependsOn: [instance, ...toArray(opts?.dependsOn)], additionalSecretOutputs: ["instance", "daemon"] },
    );
  }
}

/** The DataCheck's inputs as a program writes them: the SyncLink itself instead of its reference. */
export interface DataCheckProgramArgs extends Omit<DataCheckArgs, "link"> {
  /** The SyncLink whose DR copy to verify. */
  link: SyncLink;
}

/**
 * A verification of a SyncLink's DR copy at a GTID barrier. Creating it, or changing `triggers`,
 * runs it; with `failOnDifference` (the default) a difference fails the deployment, naming the
 * tables. Its outputs keep the result and its proof.
 */
export class DataCheck extends pulumi.dynamic.Resource {
  declare readonly linkName: Outputs<DataCheckOutputs>["linkName"];
  declare readonly result: Outputs<DataCheckOutputs>["result"];
  declare readonly at: Outputs<DataCheckOutputs>["at"];
  declare readonly gtid: Outputs<DataCheckOutputs>["gtid"];
  declare readonly tablesChecked: Outputs<DataCheckOutputs>["tablesChecked"];
  declare readonly rowsChecked: Outputs<DataCheckOutputs>["rowsChecked"];
  declare readonly differences: Outputs<DataCheckOutputs>["differences"];
  declare readonly proofDigest: Outputs<DataCheckOutputs>["proofDigest"];
  declare readonly proofChunks: Outputs<DataCheckOutputs>["proofChunks"];
  declare readonly repairGtid: pulumi.Output<string | undefined>;

  constructor(name: string, args: DataCheckProgramArgs, opts?: pulumi.CustomResourceOptions) {
    const { link, ...rest } = args;
    super(
      providerShim("DataCheck"),
      name,
      {
        ...outputSlots(["linkName", "result", "at", "gtid", "tablesChecked", "rowsChecked", "differences", "proofDigest", "proofChunks", "repairGtid"]),
        ...rest,
        link: { name: link.linkName, daemon: link.daemon },
      },
      { ...opts, dependsOn: [link, ...toArray(opts?.dependsOn)], additionalSecretOutputs: ["link"] },
    );
  }
}

function toArray<T>(value: pulumi.Input<T> | pulumi.Input<pulumi.Input<T>[]> | undefined): pulumi.Input<T>[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value as pulumi.Input<T>];
}
