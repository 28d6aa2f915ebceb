/**
 * The `*` wildcard matcher behind include/exclude patterns: the same answers as the anchored
 * RegExp it replaced, and work bounded by (name length + 1) x (pattern length + 1) comparisons on
 * the patterns that made that RegExp backtrack for seconds. Work is counted, never timed.
 */
import * as assert from "node:assert/strict";
import { WildcardPattern } from "../../src/core/wildcard";

/** The comparisons a linear-time matcher may spend on one name. */
function bound(pattern: string, name: string): number {
  return (Array.from(name).length + 1) * (Array.from(pattern).length + 1);
}

/** Matches once and returns the answer with the comparisons it took. */
function run(pattern: string, name: string): { matched: boolean; steps: number } {
  const w = new WildcardPattern(pattern);
  const matched = w.matches(name);
  return { matched, steps: w.steps };
}

/** The translation the project used before: `*` as `.*` in an anchored RegExp. */
function regexMatches(pattern: string, name: string): boolean {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "u").test(name);
}

/**
 * A backtracking matcher that tries every split of the text among the stars, as a RegExp engine
 * does with `.*`, counting its comparisons. It stops counting past `limit`.
 */
function backtrackingSteps(pattern: string, name: string, limit: number): number {
  const p = Array.from(pattern);
  const t = Array.from(name);
  let steps = 0;
  const match = (i: number, j: number): boolean => {
    if (steps > limit) return false;
    if (i === p.length) return j === t.length;
    if (p[i] === "*") {
      for (let k = t.length; k >= j; k--) if (match(i + 1, k)) return true;
      return false;
    }
    steps++;
    return j < t.length && p[i] === t[j] && match(i + 1, j + 1);
  };
  match(0, 0);
  return steps;
}

/** Patterns that match none of these names, after trying every way to spread the name over the stars. */
const ADVERSARIAL: [pattern: string, name: string][] = [
  ["********x", "a".repeat(40)],
  ["*a*a*a*a*a*b", "a".repeat(60)],
  ["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(64)],
  ["a*a*a*a*a*a*a*a*c", "a".repeat(63) + "b"],
];

describe("wildcard", () => {
  describe("answers", () => {
    const CASES: [pattern: string, name: string, expected: boolean][] = [
      ["shop", "shop", true],
      ["shop", "shop2", false],
      ["shop", "myshop", false],
      ["order_*", "order_", true],
      ["order_*", "order_2024", true],
      ["order_*", "orders", false],
      ["*", "", true],
      ["*", "anything", true],
      ["**", "", true],
      ["a*b*c", "abc", true],
      ["a*b*c", "aXbYc", true],
      ["a*b*c", "aXbYcZ", false],
      ["*x", "xxx", true],
      ["x*", "", false],
      ["Shop", "shop", false],
      ["a$b", "a$b", true],
      ["a$b", "ab", false],
      ["caf*", "café", true],
      ["caf?", "café", false],
      ["*é", "café", true],
      ["𝔸*", "𝔸𝔹", true],
      ["𝔸?", "𝔸𝔹", false],
      ["*𝔹", "𝔸𝔹", true],
      ["my-*", "my-app", true],
    ];
    for (const [pattern, name, expected] of CASES) {
      it(`${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(name)}`, () => {
        assert.equal(new WildcardPattern(pattern).matches(name), expected);
      });
    }

    it("agrees with the anchored RegExp it replaced on 20,000 random patterns and names", () => {
      // A small alphabet (with a surrogate pair and a regex metacharacter) makes matches frequent.
      const alphabet = ["a", "b", "é", "𝔸", "$", "-"];
      let seed = 42;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const word = (max: number, symbols: string[]) => Array.from({ length: random(max + 1) }, () => symbols[random(symbols.length)]).join("");
      for (let i = 0; i < 20_000; i++) {
        const pattern = word(6, [...alphabet, "*", "*"]);
        const name = word(8, alphabet);
        assert.equal(new WildcardPattern(pattern).matches(name), regexMatches(pattern, name), `${JSON.stringify(pattern)} against ${JSON.stringify(name)}`);
      }
    });
  });

  describe("work", () => {
    for (const [pattern, name] of ADVERSARIAL) {
      it(`stays within (name + 1) x (pattern + 1) comparisons: ${pattern} against a ${name.length}-character name`, () => {
        const { matched, steps } = run(pattern, name);
        assert.equal(matched, false);
        assert.ok(steps <= bound(pattern, name), `${steps} comparisons, bound ${bound(pattern, name)}`);
      });
    }

    it("these cases are ones a backtracking matcher (the old RegExp's strategy) blows the bound on", () => {
      for (const [pattern, name] of ADVERSARIAL) {
        const limit = 100 * bound(pattern, name);
        const steps = backtrackingSteps(pattern, name, limit);
        assert.ok(steps > limit, `${pattern}: a backtracking matcher took only ${steps} comparisons`);
      }
    });

    it("is linear on an ordinary pattern: one comparison per character of a matching name", () => {
      const name = "order_" + "9".repeat(200);
      const { matched, steps } = run("order_*", name);
      assert.equal(matched, true);
      assert.equal(steps, "order_".length);
    });

    it("counts comparisons across calls, so a caller can watch its total", () => {
      const w = new WildcardPattern("a*b");
      w.matches("ab");
      const first = w.steps;
      w.matches("ab");
      assert.equal(w.steps, 2 * first);
    });
  });
});
