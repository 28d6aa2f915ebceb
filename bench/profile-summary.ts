/** Summarizes a V8 .cpuprofile: self time by function and by module, to say where the time goes. */
import * as fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const file = process.argv[2];
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
for (const n of profile.nodes) {
  const us = selfUs.get(n.id) ?? 0;
  const url = n.callFrame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/dist\//, "dist/");
  const module = n.callFrame.functionName === "(idle)" ? "(idle)" : url.startsWith("dist/") ? url : url.split("/").slice(0, url.startsWith("@") ? 2 : 1).join("/") || n.callFrame.functionName;
  byModule.set(module, (byModule.get(module) ?? 0) + us);
  const fn = `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
process.stdout.write(`total ${(total / 1e6).toFixed(1)} s sampled\n\nby module:\n${top(byModule, 15).join("\n")}\n\nby function:\n${top(byFunction, 25).join("\n")}\n`);
