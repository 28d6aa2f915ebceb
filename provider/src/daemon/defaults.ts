/** The daemon's defaults that its clients show too, apart from the daemon's code (which the CLI loads only to run it). */
export const DEFAULT_LISTEN = "127.0.0.1:7766";

/**
 * How the daemon's heap is sized: rows live a few hundred milliseconds (queue, batch, replay set),
 * outlive young-generation collections and die in the old generation, which V8 by default grows by
 * up to 4x per major collection while catch-up allocates fast, and the process keeps that memory.
 * Growing it by 20% bounds the peak; the 64 MiB floor keeps a small heap from being collected every
 * few MiB of promotion. TPC-C-like catch-up (bench/tpcc.ts, 1 warehouse, 3,000 transactions, 4
 * runs each): V8's defaults 1.55-2.05x native single-thread at 213 MiB peak RSS; 20% growth alone
 * 1.40-1.57x at 141 MiB; both 1.74-2.16x at 150 MiB. Neither is a cap: a link that needs more heap
 * gets it. The floor is read only at start, so whatever starts the daemon passes these flags to node;
 * the growth V8 also takes at run time (cli/main.ts sets it when the daemon was started without it).
 */
export const DAEMON_HEAP_GROWING_PERCENT = 20;
export const DAEMON_NODE_FLAGS = ["--initial-old-space-size=64", `--heap-growing-percent=${DAEMON_HEAP_GROWING_PERCENT}`];
