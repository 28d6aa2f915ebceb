/**
 * The control API's request bodies: the types the daemon and its client share, each next to the
 * JSON Schema that checks it (unknown fields refused). A field is added to both; the compiler
 * refuses a schema whose properties differ from its type's fields.
 */
import Ajv, { type ErrorObject } from "ajv";
import { DrError } from "../core/errors";

type JsonSchema = Record<string, unknown>;

/** An object schema whose properties are exactly the fields of T, and nothing else is accepted. */
interface BodySchema<T> {
  type: "object";
  additionalProperties: false;
  required: (keyof T & string)[];
  properties: { [K in keyof Required<T>]: JsonSchema };
}

/** A server to connect to: a mysql:// URL (a connection object may join it here with oneOf). */
const SERVER = { type: "string" };
const PATTERNS = { type: "array", items: { type: "string" } };

/** What a client sends to create a link (POST /v1/links). Values are checked in `parseLinkRequest`. */
export interface LinkRequest {
  name: string;
  source: string;
  target: string;
  include?: string[];
  exclude?: string[];
  initial?: string;
  overwrite?: boolean;
  parallel?: number;
  onMissingRow?: string;
  /** Create the link even though the DR server was promoted (its fenced checkpoint rows say so). */
  reusePromoted?: boolean;
}

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
  },
};

/** What a client sends to change a running link (PATCH /v1/links/NAME). */
export interface LinkUpdate {
  include?: string[];
  exclude?: string[];
  overwrite?: boolean;
  onMissingRow?: string;
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
  },
};

/** What a client sends to verify a link (POST /v1/links/NAME/verify). */
export interface VerifyRequest {
  repair?: boolean;
}

export const VERIFY_REQUEST_SCHEMA: BodySchema<VerifyRequest> = {
  type: "object",
  additionalProperties: false,
  required: [],
  properties: { repair: { type: "boolean" } },
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
