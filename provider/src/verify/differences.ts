/**
 * What a comparison found, table by table: the report's shape and the pure functions both the live
 * and the barrier comparisons use to tell rows apart (by key, or as a multiset of row hashes for a
 * table without a unique key) and to list the differences without their values.
 */
import { quoteId } from "../core/db";
import type { HashedTable } from "./row-hash";

/** Keys listed per table; further differences are counted. */
export const DIFFERENCES_SHOWN = 20;

export interface TableReport {
  table: string;
  keyless: boolean;
  rowsCompared: number;
  chunks: number;
  chunksMismatched: number;
  /** Keys (the whole row for a keyless table) of rows the DR lacks, has in excess, or has different. */
  missingOnDr: unknown[][];
  extraOnDr: unknown[][];
  different: unknown[][];
  /** Differences beyond the ones listed. */
  moreDifferences: number;
  /** All differences of each kind, listed or not. */
  differenceCounts: { missingOnDr: number; extraOnDr: number; different: number };
  rowsRepaired: number;
}

export interface Difference {
  kind: "missingOnDr" | "extraOnDr" | "different";
  key: unknown[];
}

export function emptyReport(t: HashedTable): TableReport {
  return { table: `${t.db}.${t.table}`, keyless: t.key === null, rowsCompared: 0, chunks: 0, chunksMismatched: 0, missingOnDr: [], extraOnDr: [], different: [], moreDifferences: 0, differenceCounts: { missingOnDr: 0, extraOnDr: 0, different: 0 }, rowsRepaired: 0 };
}

export function withDifferences(report: TableReport, differences: Difference[]): TableReport {
  for (const d of differences) {
    report.differenceCounts[d.kind]++;
    if (report.missingOnDr.length + report.extraOnDr.length + report.different.length >= DIFFERENCES_SHOWN) report.moreDifferences++;
    else report[d.kind].push(d.key.map(printable));
  }
  return report;
}

export function printable(v: unknown): unknown {
  return Buffer.isBuffer(v) ? `0x${v.toString("hex")}` : v;
}

export function sameChecksum(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return String(a.cnt) === String(b.cnt) && String(a.total) === String(b.total) && String(a.xored) === String(b.xored);
}

/** Rows as [key..., hash] in key order on both sides; differences by key. */
export function diffByKey(master: unknown[][], dr: unknown[][], keyLength: number): Difference[] {
  const id = (row: unknown[]) => JSON.stringify(row.slice(0, keyLength).map(printable));
  const drRows = new Map(dr.map((r) => [id(r), r]));
  const out: Difference[] = [];
  for (const r of master) {
    const other = drRows.get(id(r));
    drRows.delete(id(r));
    if (!other) out.push({ kind: "missingOnDr", key: r.slice(0, keyLength) });
    else if (String(other[keyLength]) !== String(r[keyLength])) out.push({ kind: "different", key: r.slice(0, keyLength) });
  }
  for (const r of drRows.values()) out.push({ kind: "extraOnDr", key: r.slice(0, keyLength) });
  return out;
}

export function diffCounts(master: Record<string, unknown>[], dr: Record<string, unknown>[]): { hash: string; master: number; dr: number }[] {
  const counts = new Map<string, { master: number; dr: number }>();
  for (const r of master) counts.set(String(r.h), { master: Number(r.n), dr: 0 });
  for (const r of dr) counts.set(String(r.h), { master: counts.get(String(r.h))?.master ?? 0, dr: Number(r.n) });
  return [...counts].filter(([, c]) => c.master !== c.dr).map(([hash, c]) => ({ hash, ...c }));
}

/** `(k1 = ? AND k2 = ?) OR ...` for a set of keys. */
export function keyIn(key: string[], keys: unknown[][]): { sql: string; params: unknown[] } {
  if (!keys.length) return { sql: "1 = 0", params: [] };
  return {
    sql: keys.map(() => `(${key.map((k) => `${quoteId(k)} <=> ?`).join(" AND ")})`).join(" OR "),
    params: keys.flat(),
  };
}

export function hasDifferences(r: TableReport): boolean {
  return differenceCount(r) > 0;
}

/** Rows missing, extra or different on the DR server. */
export function differenceCount(r: TableReport): number {
  return r.missingOnDr.length + r.extraOnDr.length + r.different.length + r.moreDifferences;
}
