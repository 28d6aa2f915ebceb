/**
 * The control API's request bodies: the types the daemon and its client share, each next to the
 * JSON Schema that checks it (unknown fields refused). A field is added to both; the compiler
 * refuses a schema whose properties differ from its type's fields.
 */
import Ajv, { type ErrorObject } from "ajv";
import { DrError } from "../core/errors";
import type { TlsInput } from "../core/tls";

type JsonSchema = Record<string, unknown>;

/** An object schema whose properties are exactly the fields of T, and nothing else is accepted. */
interface BodySchema<T> {
  type: "object";
  additionalProperties: false;
  required: (keyof T & string)[];
  properties: { [K in keyof Required<T>]: JsonSchema };
}

/**
 * A server as a client sends it: a URL, or a connection object. The object is how certificates
 * travel (PEM text): a daemon elsewhere cannot read the files a URL names on the client's machine,
 * so the CLI parses URLs itself and sends objects, and the Pulumi provider sends its schema's.
 * The object's fields are checked, one sentence per mistake, by link-definition's parseServerRequest.
 */
export type ServerRequest = string | ServerConnectionRequest;

export interface ServerConnectionRequest {
  host: string;
  port?: number;
  user: string;
  password?: string;
  tls?: TlsInput;
}

const SERVER = { anyOf: [{ type: "string" }, { type: "object" }] };
const PATTERNS = { type: "array", items: { type: "string" } };

/** What a client sends to create a link (POST /v1/links). Values are checked in `parseLinkRequest`. */
export interface LinkRequest {
  name: string;
  source: ServerRequest;
  target: ServerRequest;
  include?: string[];
  exclude?: string[];
  initial?: string;
  overwrite?: boolean;
  parallel?: number;
  onMissingRow?: string;
  /** Create the link even though the DR server was promoted (its fenced checkpoint rows say so). */
  reusePromoted?: boolean;
  failback?: FailbackRequest;
}

/** After a promotion: whether the link runs back to the old master, and what it does about transactions found only there. */
export interface FailbackRequest {
  enabled?: boolean;
  onDivergence?: string;
}

const FAILBACK = { type: "object", additionalProperties: false, properties: { enabled: { type: "boolean" }, onDivergence: { type: "string" } } };

export const LINK_REQUEST_SCHEMA: BodySchema<LinkRequest> = {
  type: "object",
  additionalProperties: false,
  required: ["name", "source", "target"],
  properties: {
    name: { type: "string" },
    source: SERVER,
    target: SERVER,
    include: PATTERNS,
    exclude: PATTERNS,
    initial: { type: "string" },
    overwrite: { type: "boolean" },
    parallel: { type: "integer" },
    onMissingRow: { type: "string" },
    reusePromoted: { type: "boolean" },
    failback: FAILBACK,
  },
};

/**
 * What a client sends to change a running link (PATCH /v1/links/NAME): its selection, or its
 * servers' connections (new credentials, or another address of the same servers; the daemon
 * checks that they are).
 */
export interface LinkUpdate {
  include?: string[];
  exclude?: string[];
  overwrite?: boolean;
  onMissingRow?: string;
  source?: ServerRequest;
  target?: ServerRequest;
  failback?: FailbackRequest;
}

export const LINK_UPDATE_SCHEMA: BodySchema<LinkUpdate> = {
  type: "object",
  additionalProperties: false,
  required: [],
  properties: {
    include: PATTERNS,
    exclude: PATTERNS,
    overwrite: { type: "boolean" },
    onMissingRow: { type: "string" },
    source: SERVER,
    target: SERVER,
    failback: FAILBACK,
  },
};

/** What a client sends to verify a link (POST /v1/links/NAME/verify). */
export interface VerifyRequest {
  repair?: boolean;
  /** Compare both servers at one GTID (the link held there), instead of live. */
  atBarrier?: boolean;
  /** With atBarrier: how long the link may take to reach the barrier (default 60). */
  barrierTimeoutSeconds?: number;
}

export const VERIFY_REQUEST_SCHEMA: BodySchema<VerifyRequest> = {
  type: "object",
  additionalProperties: false,
  required: [],
  properties: { repair: { type: "boolean" }, atBarrier: { type: "boolean" }, barrierTimeoutSeconds: { type: "number", exclusiveMinimum: 0 } },
};

/** What a client sends to drill a link (POST /v1/links/NAME/drill); no body is the same as {}. */
export interface DrillRequest {
  /** Keep the figures as the link's last drill (link status, the DR server's mysql_dr.drill). */
  record?: boolean;
}

export const DRILL_REQUEST_SCHEMA: BodySchema<DrillRequest> = {
  type: "object",
  additionalProperties: false,
  required: [],
  properties: { record: { type: "boolean" } },
};

const ajv = new Ajv({ strict: true });

/** Compiles a schema into a parser that returns the body typed, or throws BAD_INPUT naming the first problem. */
export function bodyParser<T>(schema: BodySchema<T>): (body: unknown) => T {
  const validate = ajv.compile(schema);
  return (body) => {
    if (validate(body)) return body as T;
    throw new DrError("BAD_INPUT", describeProblem(validate.errors![0], Object.keys(schema.properties)));
  };
}

function describeProblem(e: ErrorObject, known: string[]): string {
  const field = e.instancePath.slice(1).replace(/\//g, ".");
  switch (e.keyword) {
    case "additionalProperties": {
      const unknown = (e.params as { additionalProperty: string }).additionalProperty;
      if (field !== "") return `The request body has an unknown field ${JSON.stringify(`${field}.${unknown}`)}; remove it.`;
      return `The request body has an unknown field ${JSON.stringify(unknown)}; remove it (known fields: ${known.join(", ")}).`;
    }
    case "required":
      return `The request body lacks the field ${JSON.stringify((e.params as { missingProperty: string }).missingProperty)}; add it.`;
    default:
      return field === "" ? "The request body must be a JSON object." : `Field ${JSON.stringify(field)} of the request body ${e.message ?? "is invalid"}.`;
  }
}
