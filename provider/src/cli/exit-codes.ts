/** The CLI's exit codes (a contract: scripts test them). verify has its own (main.ts). */
export const EXIT_ERROR = 1;
/** A command used wrongly: a missing or conflicting option, as commander's usage errors. */
export const EXIT_USAGE = 2;
