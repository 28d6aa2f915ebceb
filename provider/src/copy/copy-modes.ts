/**
 * How the applier treats a table's binlog changes while the table is being copied, so that the
 * copy and the stream together end exactly at the master's state:
 * - not started: skip (the copy will read the rows later, changes included);
 * - started, or finished but the stream not yet past the copy's end: idempotent (upserts, deletes
 *   by key), since a change may be older or newer than the copied row; chunks are written under
 *   the same lock with ON DUPLICATE KEY UPDATE key = key (a row the applier wrote is kept, any
 *   other error still stops the copy, which INSERT IGNORE would hide), so neither undoes the other;
 * - keyless tables are copied whole from a consistent snapshot: changes the snapshot contains are
 *   skipped, later ones apply exactly;
 * - afterwards, and for every table outside the copy: exact.
 */
import type { Flavor } from "../core/flavor";
import { type GtidProgress, gtidCovers, parseGtidProgress } from "../core/gtid";
import type { CopyUnit } from "../dr-state/copy-state";
import type { ApplyMode, ApplyModes } from "../stream/apply-modes";

interface TableCopy {
  units: CopyUnit[];
  snapshot?: GtidProgress;
}

export class CopyModes implements ApplyModes {
  private readonly tables = new Map<string, TableCopy>();

  constructor(private readonly flavor: Flavor, units: CopyUnit[]) {
    for (const u of units) {
      const key = tableKey(u.db, u.table);
      const entry = this.tables.get(key) ?? { units: [] };
      entry.units.push(u);
      this.tables.set(key, entry);
    }
  }

  /** Loads the keyless tables' snapshot sets (async: parsing needs the GTID library). */
  async init(): Promise<this> {
    for (const t of this.tables.values()) await this.loadSnapshot(t);
    return this;
  }

  get copying(): boolean {
    for (const t of this.tables.values()) if (t.units.some((u) => !u.done)) return true;
    return false;
  }

  /** Copied tables whose stream has not yet passed the end of their copy. */
  get catchingUp(): boolean {
    return this.tables.size > 0;
  }

  /** Whether the table is still being copied or catching up. */
  tracks(db: string, table: string): boolean {
    return this.tables.has(tableKey(db, table));
  }

  modeOf(db: string, table: string, gtid: string): ApplyMode {
    const t = this.tables.get(tableKey(db, table));
    if (!t) return "exact";
    const started = t.units.some((u) => u.done || u.chunksCopied > 0);
    if (!started) return "skip";
    if (t.units[0].keyColumns === null) return t.snapshot?.contains(gtid) ? "skip" : "exact";
    return "idempotent";
  }

  /** The copier finished a chunk of `unit` (the unit object is shared and already updated). */
  async chunkCopied(unit: CopyUnit): Promise<void> {
    const t = this.tables.get(tableKey(unit.db, unit.table));
    if (t && unit.snapshotGtid !== null && !t.snapshot) await this.loadSnapshot(t);
  }

  /** After a batch commit: tables whose copy is done and whose catch-up the stream has passed apply exactly from now on. */
  applied(progress: string): void {
    for (const [key, t] of this.tables) {
      if (!t.units.every((u) => u.done)) continue;
      // Keyless: until the stream is past the snapshot, changes it contains may still arrive.
      const target = t.units[0].keyColumns === null ? t.units[0].snapshotGtid : t.units[0].catchupGtid;
      if (target !== null && gtidCovers(this.flavor, progress, target)) this.tables.delete(key);
    }
  }

  private async loadSnapshot(t: TableCopy): Promise<void> {
    const gtid = t.units[0].snapshotGtid;
    if (gtid !== null) t.snapshot = await parseGtidProgress(this.flavor, gtid);
  }
}

function tableKey(db: string, table: string): string {
  return `${db}\u0000${table}`;
}
