/**
 * GTID bookkeeping for both flavours, over zongji's exact implementations:
 * MySQL sets (`uuid:1-27,uuid2:1-5`) and MariaDB positions (`0-1-1234,1-2-7`).
 */
import type { Flavor } from "./flavor";

export interface GtidProgress {
  /** Adds one committed transaction's GTID (`uuid:n` or `d-s-n`). */
  add(gtid: string): void;
  /** True when the transaction is already inside the set or position. */
  contains(gtid: string): boolean;
  toString(): string;
}

type ZongjiModule = typeof import("@vlasky/zongji", { with: { "resolution-mode": "import" } });
let zongjiModule: Promise<ZongjiModule> | undefined;

/** zongji is ESM-only; this CommonJS package loads it once, lazily. */
export function loadZongji(): Promise<ZongjiModule> {
  zongjiModule ??= import("@vlasky/zongji");
  return zongjiModule;
}

export async function parseGtidProgress(flavor: Flavor, text: string): Promise<GtidProgress> {
  const { GtidSet, MariadbGtidPosition } = await loadZongji();
  if (flavor === "mysql") {
    const set = GtidSet.parse(text);
    return { add: (g) => set.add(g), contains: (g) => set.contains(g), toString: () => set.toString() };
  }
  const position = MariadbGtidPosition.parse(text);
  return {
    add: (g) => position.add(parseMariadbGtid(g)),
    contains: (g) => position.covers(g),
    toString: () => position.toString(),
  };
}

function parseMariadbGtid(gtid: string): { domainId: number; serverId: number; seqNo: string } {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(gtid.trim());
  if (!m) throw new Error(`malformed MariaDB GTID ${JSON.stringify(gtid)}`);
  return { domainId: Number(m[1]), serverId: Number(m[2]), seqNo: m[3] };
}
