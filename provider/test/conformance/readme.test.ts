/** The README's conformance table is the one cases.ts generates. Pure. */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { CASES } from "./cases";
import { README_PATH, readmeWithConformance } from "./readme-table";

describe("conformance table", () => {
  it("in the README is generated from the cases (run `make generate` after editing cases.ts)", () => {
    const readme = fs.readFileSync(README_PATH, "utf8");
    assert.equal(readme, readmeWithConformance(readme));
  });

  it("has at least 40 cases, each named once", () => {
    assert.ok(CASES.length >= 40, `${CASES.length} cases`);
    assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
    for (const c of CASES) assert.match(c.name, /^[a-z0-9_]+$/);
    for (const c of CASES.filter((x) => x.daemon !== "identical" && x.native === "identical")) assert.ok(c.why, `${c.name}: a refusal says why`);
  });
});
