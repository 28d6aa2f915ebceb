/**
 * TLS to MySQL/MariaDB servers, in the MySQL client's terms (`--ssl-mode`, `--ssl-ca`,
 * `--ssl-cert`, `--ssl-key`): the settings, their defaults and checks, and how they become the
 * mysql2 `ssl` option (zongji's binlog connection goes through mysql2 as well).
 */
import { DrError } from "./errors";

export const SSL_MODES = ["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** How to talk TLS to one server. Certificates and the key are PEM text, never file paths. */
export interface TlsSettings {
  mode: SslMode;
  /** CA certificate(s) the server's chain is verified against (VERIFY_CA, VERIFY_IDENTITY); the system's CAs when absent. */
  ca?: string;
  /** Client certificate, for users created with REQUIRE X509 / SUBJECT / ISSUER. */
  cert?: string;
  /** The client certificate's private key (a secret, like the password). */
  key?: string;
}

/**
 * The mode when none is given. PREFERRED, as the mysql client: every URL written before TLS
 * existed keeps working against servers without TLS, and the data is encrypted whenever the server
 * offers it. It does not stop an active attacker (no verification, plain fallback); VERIFY_CA or
 * VERIFY_IDENTITY do. A CA given without a mode means VERIFY_CA (our choice, not the mysql client's):
 * a CA the user bothered to give is never silently left unused.
 */
export const DEFAULT_SSL_MODE: SslMode = "PREFERRED";

/** Settings as given (a URL's parameters, a schema block, a request), before defaults and checks. */
export interface TlsInput {
  mode?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * Fills the default mode and checks the combination, in one sentence naming `what` (e.g.
 * "source URL"). Never echoes certificate or key contents.
 */
export function resolveTls(input: TlsInput, what: string): TlsSettings {
  const mode = input.mode ?? (input.ca !== undefined ? "VERIFY_CA" : DEFAULT_SSL_MODE);
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw new DrError("BAD_INPUT", `The ${what} has ssl-mode ${JSON.stringify(mode)}; use one of ${SSL_MODES.join(", ")}.`);
  }
  if (mode === "DISABLED" && (input.ca !== undefined || input.cert !== undefined || input.key !== undefined)) {
    throw new DrError("BAD_INPUT", `The ${what} has ssl-mode DISABLED and certificates; remove ssl-ca, ssl-cert and ssl-key or choose another ssl-mode.`);
  }
  if ((input.cert === undefined) !== (input.key === undefined)) {
    throw new DrError("BAD_INPUT", `The ${what} has ${input.cert === undefined ? "ssl-key without ssl-cert" : "ssl-cert without ssl-key"}; give the client certificate and its key together.`);
  }
  checkPem(input.ca, PEM_CERTIFICATE, "ssl-ca", "a PEM certificate", what);
  checkPem(input.cert, PEM_CERTIFICATE, "ssl-cert", "a PEM certificate", what);
  checkPem(input.key, PEM_PRIVATE_KEY, "ssl-key", "a PEM private key", what);
  return {
    mode: mode as SslMode,
    ...(input.ca !== undefined && { ca: input.ca }),
    ...(input.cert !== undefined && { cert: input.cert }),
    ...(input.key !== undefined && { key: input.key }),
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----/;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function checkPem(value: string | undefined, pattern: RegExp, name: string, kind: string, what: string): void {
  if (value !== undefined && !pattern.test(value)) {
    throw new DrError("BAD_INPUT", `The ${what}'s ${name} is not ${kind}; give the PEM text (a URL takes the file's path).`);
  }
}

/** The settings of an address that has none: the default mode, nothing else. */
export function tlsOrDefault(tls: TlsSettings | undefined): TlsSettings {
  return tls ?? { mode: DEFAULT_SSL_MODE };
}

/** mysql2's ssl option for a mode, or undefined for a plain connection. */
export interface Mysql2Ssl {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
  verifyIdentity: boolean;
}

/**
 * mysql2 verifies nothing with rejectUnauthorized false (PREFERRED, REQUIRED), the chain with it
 * true (VERIFY_CA), and also the host name (or IP address SAN) with verifyIdentity (VERIFY_IDENTITY).
 */
export function mysql2Ssl(tls: TlsSettings): Mysql2Ssl | undefined {
  if (tls.mode === "DISABLED") return undefined;
  const verify = tls.mode === "VERIFY_CA" || tls.mode === "VERIFY_IDENTITY";
  return {
    ...(tls.ca !== undefined && { ca: tls.ca }),
    ...(tls.cert !== undefined && { cert: tls.cert }),
    ...(tls.key !== undefined && { key: tls.key }),
    rejectUnauthorized: verify,
    verifyIdentity: tls.mode === "VERIFY_IDENTITY",
  };
}

/** mysql2's error when it asked for TLS and the server's handshake does not offer it. */
export function isTlsUnsupported(err: unknown): boolean {
  return (err as { code?: string })?.code === "HANDSHAKE_NO_SSL_SUPPORT";
}

/** mysql2's error when the TLS handshake itself failed (certificate refused, protocol mismatch). */
export function isTlsHandshakeError(err: unknown): boolean {
  return (err as { code?: string })?.code === "HANDSHAKE_SSL_ERROR";
}
