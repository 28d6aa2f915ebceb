/**
 * schema.json is the one source of truth for the resources' inputs and outputs. This module turns
 * it into JSON Schema for ajv (input validation in `check`) and is read by the code generator
 * that writes the SDK's types and the README reference.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";

export const SCHEMA_PATH = path.resolve(__dirname, "../../../../schema.json");

export interface SchemaProperty {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  $ref?: string;
  items?: SchemaProperty;
  /** A map (Pulumi's form): string keys, values of this type. */
  additionalProperties?: SchemaProperty;
  enum?: string[];
  default?: unknown;
  secret?: boolean;
  replaceOnChanges?: boolean;
  description: string;
}

export interface SchemaType {
  type: "object";
  description: string;
  properties: Record<string, SchemaProperty>;
  required?: string[];
}

export interface SchemaResource {
  description: string;
  inputProperties: Record<string, SchemaProperty>;
  requiredInputs?: string[];
  properties: Record<string, SchemaProperty>;
  required?: string[];
}

export interface PackageSchema {
  name: string;
  version: string;
  types: Record<string, SchemaType>;
  resources: Record<string, SchemaResource>;
}

let loaded: PackageSchema | undefined;

export function packageSchema(): PackageSchema {
  loaded ??= JSON.parse(fs.readFileSync(SCHEMA_PATH, "utf8")) as PackageSchema;
  return loaded;
}

/** "mysql-dr:index:DrInstance" -> "DrInstance". */
export function shortName(token: string): string {
  return token.split(":").pop()!;
}

export function resourceToken(name: string): string {
  return `${packageSchema().name}:index:${name}`;
}

/** JSON Schema (draft-07 for ajv) of a resource's inputs; unknown properties are refused. */
export function inputJsonSchema(resource: string): object {
  const schema = packageSchema();
  const r = schema.resources[resourceToken(resource)];
  const definitions: Record<string, object> = {};
  for (const [token, t] of Object.entries(schema.types)) {
    definitions[shortName(token)] = {
      type: "object",
      properties: Object.fromEntries(Object.entries(t.properties).map(([k, p]) => [k, propertyJsonSchema(p)])),
      required: t.required ?? [],
      additionalProperties: false,
    };
  }
  return {
    type: "object",
    properties: Object.fromEntries(Object.entries(r.inputProperties).map(([k, p]) => [k, propertyJsonSchema(p)])),
    required: r.requiredInputs ?? [],
    additionalProperties: false,
    definitions,
  };
}

/** Pulumi's schema reference for a value of any type (pulumi-command's `triggers` use it). */
export const ANY_REF = "pulumi.json#/Any";

function propertyJsonSchema(p: SchemaProperty): object {
  if (p.$ref === ANY_REF) return {};
  if (p.$ref) return { $ref: `#/definitions/${shortName(p.$ref)}` };
  const out: Record<string, unknown> = { type: p.type };
  if (p.enum) out.enum = p.enum;
  if (p.items) out.items = propertyJsonSchema(p.items);
  if (p.additionalProperties) out.additionalProperties = propertyJsonSchema(p.additionalProperties);
  if (p.default !== undefined) out.default = p.default;
  if (p.type === "integer") {
    out.minimum = 0;
  }
  return out;
}

export interface CheckFailure {
  property: string;
  reason: string;
}

const validators = new Map<string, ValidateFunction>();

/**
 * Validates (and fills defaults into a copy of) a resource's inputs. Never throws for bad input:
 * failures name the property path and say what is wrong.
 */
export function validateInputs(resource: string, inputs: Record<string, unknown>): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
  let validate = validators.get(resource);
  if (!validate) {
    validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(inputJsonSchema(resource));
    validators.set(resource, validate);
  }
  // Engine-internal properties (the serialized provider: __provider) are not the user's inputs.
  const internal = Object.entries(inputs).filter(([k]) => k.startsWith("__"));
  const copy = structuredClone(stripUndefined(Object.fromEntries(Object.entries(inputs).filter(([k]) => !k.startsWith("__"))))) as Record<string, unknown>;
  // In a preview, outputs of resources not created yet arrive unknown: judge only what is known.
  const unknown = removeUnknowns(copy, "");
  const ok = validate(copy);
  const failures = ok ? [] : (validate.errors ?? []).map(describeAjvError).filter((f) => !unknown.some((u) => f.property === u || f.property.startsWith(`${u}.`)));
  for (const path of unknown) setPath(copy, path, UNKNOWN);
  return { inputs: { ...copy, ...Object.fromEntries(internal) }, failures };
}

/** The value the engine sends for an output that is not known yet (a preview before creation). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function removeUnknowns(value: Record<string, unknown>, prefix: string): string[] {
  const paths: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v === UNKNOWN) {
      delete value[k];
      paths.push(path);
    } else if (v && typeof v === "object" && !Array.isArray(v)) {
      paths.push(...removeUnknowns(v as Record<string, unknown>, path));
    }
  }
  return paths;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let at = target;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[keys[keys.length - 1]] = value;
}

function describeAjvError(e: ErrorObject): CheckFailure {
  const base = e.instancePath.replace(/^\//, "").replace(/\//g, ".");
  switch (e.keyword) {
    case "required": {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return { property: base ? `${base}.${missing}` : missing, reason: `${base ? `${base}.` : ""}${missing} is required` };
    }
    case "additionalProperties": {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const at = base ? `${base}.${extra}` : extra;
      return { property: at, reason: `${at} is not a known property` };
    }
    case "enum":
      return { property: base, reason: `${base} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}` };
    case "type":
      return { property: base, reason: `${base} must be ${article((e.params as { type: string }).type)}` };
    default:
      return { property: base, reason: `${base} ${e.message ?? "is invalid"}` };
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Pulumi may send absent optional values as undefined; JSON Schema has no undefined. */
function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value && typeof value === "object" && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, stripUndefined(v)]));
  }
  return value;
}

/** Input properties whose change means replacing the resource. */
export function replaceOnChanges(resource: string): string[] {
  const r = packageSchema().resources[resourceToken(resource)];
  return Object.entries(r.inputProperties).filter(([, p]) => p.replaceOnChanges).map(([k]) => k);
}
