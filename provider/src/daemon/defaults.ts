/** The daemon's defaults that its clients show too, apart from the daemon's code (which the CLI loads only to run it). */
export const DEFAULT_LISTEN = "127.0.0.1:7766";
