/**
 * Where the CLI takes a server's URL from: `--source URL`, `--source-file PATH` or
 * $MYSQL_DR_SOURCE_URL (the same for target). A file or the environment keeps the password off
 * the command line, which every user of the machine can read (ps, /proc/PID/cmdline). The URL is
 * parsed here, so the certificate files it names are read on this machine.
 */
import * as fs from "node:fs";
import type { Command } from "commander";
import { type ServerAddress, parseServerUrl } from "../core/connection-url";
import { DrError } from "../core/errors";
import { EXIT_USAGE } from "./exit-codes";

export type ServerRole = "source" | "target";

export const URL_ENV: Record<ServerRole, string> = {
  source: "MYSQL_DR_SOURCE_URL",
  target: "MYSQL_DR_TARGET_URL",
};

/** The options as commander names them (`--source-file` is `sourceFile`). */
export type ServerUrlOptions = { [R in ServerRole]?: string } & { sourceFile?: string; targetFile?: string };

/** Adds `--ROLE <url>` and `--ROLE-file <path>`, and says where else the URL may come from. */
export function serverUrlOptions(cmd: Command, role: ServerRole, what: string): Command {
  return cmd
    .option(`--${role} <url>`, `${what}: mysql://user:password@host:port[?ssl-mode=...&ssl-ca=FILE] (visible to other users in ps: prefer --${role}-file or $${URL_ENV[role]})`)
    .option(`--${role}-file <path>`, `a file holding the ${role} URL (surrounding whitespace ignored)`);
}

/** Said once under each command's --help. */
export const URL_SOURCES_HELP = `
Server URLs: --source/--target, else --source-file/--target-file, else $${URL_ENV.source}/$${URL_ENV.target}.
URL parameters: ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY (default PREFERRED,
VERIFY_CA when ssl-ca is given), ssl-ca, ssl-cert, ssl-key (PEM file paths, read by this command).`;

/**
 * The server for `role`: the flag, else the file, else the environment variable. Giving both the
 * flag and the file is refused (which one was meant is unclear); undefined when none is given and
 * the server is optional.
 */
export function serverFromOptions(o: ServerUrlOptions, role: ServerRole, required: true): ServerAddress;
export function serverFromOptions(o: ServerUrlOptions, role: ServerRole, required: boolean): ServerAddress | undefined;
export function serverFromOptions(o: ServerUrlOptions, role: ServerRole, required: boolean): ServerAddress | undefined {
  const url = serverUrl(o, role);
  if (url === undefined) {
    if (!required) return undefined;
    throw usageError(`The ${role} server is missing; pass --${role}-file PATH, set ${URL_ENV[role]}, or pass --${role} URL.`);
  }
  return parseServerUrl(url, `${role} URL`);
}

function serverUrl(o: ServerUrlOptions, role: ServerRole): string | undefined {
  const flag = o[role];
  const file = role === "source" ? o.sourceFile : o.targetFile;
  if (flag !== undefined && file !== undefined) {
    throw usageError(`Both --${role} and --${role}-file are given; pass only one of them.`);
  }
  if (flag !== undefined) return flag;
  if (file !== undefined) return readUrlFile(file, role);
  const env = process.env[URL_ENV[role]];
  return env === undefined || env.trim() === "" ? undefined : env.trim();
}

function usageError(message: string): DrError {
  return Object.assign(new DrError("BAD_INPUT", message), { exitCode: EXIT_USAGE });
}

function readUrlFile(file: string, role: ServerRole): string {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new DrError("BAD_INPUT", `--${role}-file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "unreadable"}); give the path of a file holding the URL.`);
  }
  if (text === "") throw new DrError("BAD_INPUT", `--${role}-file ${file} is empty; write the ${role} URL in it.`);
  return text;
}
