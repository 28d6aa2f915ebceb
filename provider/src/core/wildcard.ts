/**
 * A `*` wildcard pattern matched against a whole name (anchored), code point by code point, case
 * sensitive. `*` matches any run of characters, including none.
 *
 * Why not a RegExp: `*` as `.*` backtracks exponentially on patterns such as `********x`, and a
 * pattern is user input that every binlog event of a link goes through. This is the greedy
 * two-pointer algorithm: on a mismatch only the last `*` seen takes one more character, so the work
 * is at most (name length + 1) x (pattern length + 1) comparisons, and usually linear.
 */
const STAR = "*";

export class WildcardPattern {
  /** The pattern's code points, consecutive stars collapsed into one (they match the same). */
  private readonly symbols: string[];
  /** Character comparisons done by `matches` so far: the bound on its work that tests assert. */
  steps = 0;

  constructor(readonly pattern: string) {
    this.symbols = Array.from(pattern).filter((c, i, all) => c !== STAR || all[i - 1] !== STAR);
  }

  matches(name: string): boolean {
    const text = Array.from(name);
    const symbols = this.symbols;
    let p = 0;
    let t = 0;
    /** Position of the last `*` seen, and the text position it has consumed up to. */
    let star = -1;
    let starEnd = 0;
    while (t < text.length) {
      if (p < symbols.length && symbols[p] === STAR) {
        star = p++;
        starEnd = t;
        continue;
      }
      if (p < symbols.length) {
        this.steps++;
        if (symbols[p] === text[t]) {
          p++;
          t++;
          continue;
        }
      }
      if (star < 0) return false;
      // Let the last star swallow one more character and retry what follows it.
      p = star + 1;
      t = ++starEnd;
    }
    while (p < symbols.length && symbols[p] === STAR) p++;
    return p === symbols.length;
  }
}
