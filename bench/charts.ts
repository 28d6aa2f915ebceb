/**
 * The benchmark's charts, drawn with Vega-Lite (compiled to Vega, rendered to SVG headless) and
 * rasterized with resvg: lag over time at each rate (daemon heartbeat vs pt-heartbeat on the native
 * replica, the first window of each rate) and catch-up throughput per contender.
 */
import * as fs from "node:fs";

interface ChartInput {
  lag: { rate: number; series: { t: number; daemon?: number; native?: number }[] }[];
  catchup: Record<string, { txPerSec: number[] }>;
}

/** Renders a Vega-Lite spec to `${file}.svg` and `${file}.png`. */
export async function renderChart(spec: object, file: string): Promise<void> {
  const vegaLite = await import("vega-lite");
  const vega = await import("vega");
  const { Resvg } = await import("@resvg/resvg-js");
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  fs.writeFileSync(`${file}.svg`, svg);
  fs.writeFileSync(`${file}.png`, new Resvg(svg, { background: "white", fitTo: { mode: "width", value: 900 } }).render().asPng());
}

export async function writeCharts(r: ChartInput, basePath: string): Promise<void> {
  const firstWindows = r.lag.filter((w, i) => r.lag.findIndex((x) => x.rate === w.rate) === i);
  const lagPoints = firstWindows.flatMap((w) =>
    w.series.flatMap((p) => [
      ...(p.daemon !== undefined ? [{ rate: `${w.rate} tx/s`, t: p.t, lagMs: p.daemon, who: "mysql-dr daemon (heartbeat)" }] : []),
      ...(p.native !== undefined ? [{ rate: `${w.rate} tx/s`, t: p.t, lagMs: p.native, who: "native replication, 1 thread (pt-heartbeat)" }] : []),
    ]),
  );
  await renderChart({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Replication lag under a steady sysbench load, both replicating at once",
    data: { values: lagPoints },
    facet: { column: { field: "rate", type: "nominal", title: null, sort: firstWindows.map((w) => `${w.rate} tx/s`) } },
    spec: {
      width: 400, height: 260,
      mark: { type: "line", interpolate: "step-after" },
      encoding: {
        x: { field: "t", type: "quantitative", title: "seconds" },
        y: { field: "lagMs", type: "quantitative", title: "lag (ms)" },
        color: { field: "who", type: "nominal", title: null, legend: { orient: "bottom", labelLimit: 400 } },
      },
    },
  }, `${basePath}-lag`);
  const names: Record<string, string> = { nativeSingle: "native, 1 thread", nativeParallel4: "native, 4 threads (optimistic)", daemon: "mysql-dr daemon" };
  await renderChart({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: "Catch-up throughput on the same backlog (median of runs)",
    width: 500, height: 250,
    data: { values: Object.entries(r.catchup).map(([k, v]) => ({ who: names[k] ?? k, tps: [...v.txPerSec].sort((a, b) => a - b)[Math.floor(v.txPerSec.length / 2)] })) },
    mark: "bar",
    encoding: {
      y: { field: "who", type: "nominal", title: null, sort: "-x" },
      x: { field: "tps", type: "quantitative", title: "transactions/s" },
    },
  }, `${basePath}-catchup`);
}
