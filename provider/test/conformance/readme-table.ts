/**
 * The README's conformance table, generated from cases.ts (`make generate`); a test fails when
 * the README drifts from it. Each row says what native replication and mysql-dr do with the case,
 * which the conformance test asserts on every run.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CASES, type ConformanceCase } from "./cases";

export const README_PATH = path.resolve(__dirname, "../../../../README.md");
export const TABLE_START = "<!-- conformance:start (generated from provider/test/conformance/cases.ts by `make generate`; do not edit) -->";
export const TABLE_END = "<!-- conformance:end -->";

export function conformanceTable(cases: ConformanceCase[] = CASES): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|");
  const rows = cases.map((c, i) => {
    const only = c.flavors ? ` (${c.flavors.map((f) => (f === "mariadb" ? "MariaDB" : "MySQL")).join(", ")} only)` : c.mysqlSince ? ` (MySQL ${c.mysqlSince.join(".")}+)` : "";
    const native = c.native === "identical" ? "identical" : "stops with an error";
    const daemon = c.daemon === "identical" ? "identical"
      : c.native === "stops" ? "stops at the GTID, saying which change failed and why"
      : `refused: stops at the GTID; ${c.why}`;
    return `| ${i + 1} | ${c.group} | \`${c.name}\`: ${cell(c.covers)}${only} | ${native} | ${cell(daemon)} |`;
  });
  return [TABLE_START, "", "| # | group | case | native replication | mysql-dr |", "|---|---|---|---|---|", ...rows, "", TABLE_END].join("\n");
}

export function readmeWithConformance(readme: string, table = conformanceTable()): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < 0) throw new Error(`README.md lacks the conformance markers ${TABLE_START} ... ${TABLE_END}`);
  return readme.slice(0, start) + table + readme.slice(end + TABLE_END.length);
}

if (require.main === module) {
  fs.writeFileSync(README_PATH, readmeWithConformance(fs.readFileSync(README_PATH, "utf8")));
  process.stdout.write(`wrote the conformance table in ${path.relative(process.cwd(), README_PATH)}\n`);
}
