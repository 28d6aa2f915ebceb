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

/**
 * Whether GTID state `applied` includes every transaction of `wanted` (both in the flavour's text
 * form: MySQL sets, MariaDB positions compared per replication domain).
 */
export function gtidCovers(flavor: Flavor, applied: string, wanted: string): boolean {
  return flavor === "mysql" ? mysqlSetCovers(applied, wanted) : mariadbPositionCovers(applied, wanted);
}

function mariadbPositionCovers(applied: string, wanted: string): boolean {
  const seqs = (pos: string) =>
    new Map(pos.split(",").map((g) => g.trim()).filter(Boolean).map((g) => {
      const [domain, , seq] = g.split("-");
      return [domain, BigInt(seq)] as const;
    }));
  const have = seqs(applied);
  return [...seqs(wanted)].every(([domain, seq]) => (have.get(domain) ?? -1n) >= seq);
}

/** uuid(:tag) -> sorted, merged [start, end] intervals. */
function mysqlIntervals(set: string): Map<string, [bigint, bigint][]> {
  const out = new Map<string, [bigint, bigint][]>();
  for (const entry of set.replace(/\s+/g, "").split(",").filter(Boolean)) {
    const parts = entry.split(":");
    let source = parts[0].toLowerCase();
    for (const part of parts.slice(1)) {
      if (!/^\d/.test(part)) {
        source = `${parts[0].toLowerCase()}:${part}`;
        continue;
      }
      const [a, b] = part.split("-");
      const list = out.get(source) ?? [];
      list.push([BigInt(a), BigInt(b ?? a)]);
      out.set(source, list);
    }
  }
  return out;
}

function mysqlSetCovers(applied: string, wanted: string): boolean {
  const have = mysqlIntervals(applied);
  for (const [source, intervals] of mysqlIntervals(wanted)) {
    const mine = have.get(source) ?? [];
    for (const [a, b] of intervals) {
      if (!mine.some(([x, y]) => x <= a && b <= y)) return false;
    }
  }
  return true;
}

/**
 * How many transactions of `wanted` are missing from `applied`: exact for MySQL sets; for
 * MariaDB positions, the sequence distance per domain (sequence numbers of a domain are
 * consecutive unless gtid_seq_no was set by hand, so this is what a position can tell).
 */
export function gtidMissingCount(flavor: Flavor, applied: string, wanted: string): number {
  if (flavor === "mariadb") {
    const seqs = (pos: string) => new Map(pos.split(",").map((g) => g.trim()).filter(Boolean).map((g) => [g.split("-")[0], BigInt(g.split("-")[2])] as const));
    const have = seqs(applied);
    let missing = 0n;
    for (const [domain, seq] of seqs(wanted)) missing += seq > (have.get(domain) ?? 0n) ? seq - (have.get(domain) ?? 0n) : 0n;
    return Number(missing);
  }
  const have = mysqlIntervals(applied);
  let missing = 0n;
  for (const [source, intervals] of mysqlIntervals(wanted)) {
    const mine = have.get(source) ?? [];
    for (const [a, b] of intervals) {
      let covered = 0n;
      for (const [x, y] of mine) {
        const lo = a > x ? a : x;
        const hi = b < y ? b : y;
        if (lo <= hi) covered += hi - lo + 1n;
      }
      missing += b - a + 1n - covered;
    }
  }
  return Number(missing);
}
