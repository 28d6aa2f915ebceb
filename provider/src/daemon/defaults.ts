/** The daemon's defaults that its clients show too, apart from the daemon's code (which the CLI loads only to run it). */
export const DEFAULT_LISTEN = "127.0.0.1:7766";

/** The daemon process's V8 old-generation growth per major collection, in percent (see cli/main.ts). */
export const DAEMON_HEAP_GROWING_PERCENT = 20;
