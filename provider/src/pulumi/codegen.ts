/**
 * Generates, from schema.json, the SDK's TypeScript types (sdk/types.generated.ts) and the
 * README's resource reference (between its reference markers). `make generate` writes them; a
 * test fails when the files on disk drift from what this produces.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ANY_REF, type PackageSchema, type SchemaProperty, packageSchema, shortName } from "./schema";

export const SDK_TYPES_PATH = path.resolve(__dirname, "../../../../sdk/types.generated.ts");
export const README_PATH = path.resolve(__dirname, "../../../../README.md");
export const REFERENCE_START = "<!-- reference:start (generated from schema.json by `make generate`; do not edit) -->";
export const REFERENCE_END = "<!-- reference:end -->";

export function generateSdkTypes(schema: PackageSchema = packageSchema()): string {
  const out: string[] = [
    "// Generated from schema.json by `make generate`; do not edit.",
    'import type * as pulumi from "@pulumi/pulumi";',
    "",
  ];
  for (const [token, t] of Object.entries(schema.types)) {
    const name = shortName(token);
    out.push(...docLines(t.description, ""), `export interface ${name}Input {`);
    for (const [k, p] of Object.entries(t.properties)) out.push(...docLines(p.description, "  "), `  ${k}${t.required?.includes(k) ? "" : "?"}: pulumi.Input<${tsType(p, "Input")}>;`);
    out.push("}", "", ...docLines(t.description, ""), `export interface ${name} {`);
    for (const [k, p] of Object.entries(t.properties)) out.push(...docLines(p.description, "  "), `  ${k}${t.required?.includes(k) ? "" : "?"}: ${tsType(p, "")};`);
    out.push("}", "");
  }
  for (const [token, r] of Object.entries(schema.resources)) {
    const name = shortName(token);
    out.push(`/** The inputs of a ${name}. */`, `export interface ${name}Args {`);
    for (const [k, p] of Object.entries(r.inputProperties)) out.push(...docLines(p.description, "  "), `  ${k}${r.requiredInputs?.includes(k) ? "" : "?"}: pulumi.Input<${tsType(p, "Input")}>;`);
    out.push("}", "", `/** The outputs of a ${name}. */`, `export interface ${name}Outputs {`);
    for (const [k, p] of Object.entries(r.properties)) out.push(...docLines(p.description, "  "), `  ${k}${r.required?.includes(k) ? "" : "?"}: ${tsType(p, "")};`);
    out.push("}", "");
  }
  return out.join("\n");
}

export function generateReference(schema: PackageSchema = packageSchema()): string {
  const out: string[] = [REFERENCE_START, ""];
  const row = (k: string, p: SchemaProperty, required: boolean, extra: string[]) =>
    `| \`${k}\` | ${mdType(p)} | ${[required ? "required" : "", ...extra].filter(Boolean).join(", ")} | ${p.description.replace(/\|/g, "\\|")} |`;
  for (const [token, r] of Object.entries(schema.resources)) {
    out.push(`### ${shortName(token)}`, "", r.description, "", "Inputs:", "", "| property | type | notes | description |", "|---|---|---|---|");
    for (const [k, p] of Object.entries(r.inputProperties)) {
      out.push(row(k, p, r.requiredInputs?.includes(k) ?? false, [p.secret ? "secret" : "", p.replaceOnChanges ? "replaces on change" : "", p.default !== undefined ? `default ${JSON.stringify(p.default)}` : ""]));
    }
    out.push("", "Outputs:", "", "| property | type | notes | description |", "|---|---|---|---|");
    for (const [k, p] of Object.entries(r.properties)) out.push(row(k, p, false, [p.secret ? "secret" : ""]));
    out.push("");
  }
  out.push("### Types", "");
  for (const [token, t] of Object.entries(schema.types)) {
    out.push(`#### ${shortName(token)}`, "", t.description, "", "| property | type | notes | description |", "|---|---|---|---|");
    for (const [k, p] of Object.entries(t.properties)) {
      out.push(row(k, p, t.required?.includes(k) ?? false, [p.secret ? "secret" : "", p.default !== undefined ? `default ${JSON.stringify(p.default)}` : ""]));
    }
    out.push("");
  }
  out.push(REFERENCE_END);
  return out.join("\n");
}

/** The README with its reference section replaced by the generated one. */
export function readmeWithReference(readme: string, reference = generateReference()): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < 0) throw new Error(`README.md lacks the reference markers ${REFERENCE_START} ... ${REFERENCE_END}`);
  return readme.slice(0, start) + reference + readme.slice(end + REFERENCE_END.length);
}

function tsType(p: SchemaProperty, suffix: "Input" | ""): string {
  if (p.$ref === ANY_REF) return "any";
  if (p.$ref) return `${shortName(p.$ref)}${suffix}`;
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (p.type === "array") return `${suffix ? "pulumi.Input<" : ""}${tsType(p.items!, suffix)}${suffix ? ">" : ""}[]`;
  if (p.additionalProperties) return `Record<string, ${tsType(p.additionalProperties, suffix)}>`;
  return p.type === "integer" ? "number" : p.type ?? "unknown";
}

function mdType(p: SchemaProperty): string {
  if (p.$ref === ANY_REF) return "any";
  if (p.$ref) return `[${shortName(p.$ref)}](#${shortName(p.$ref).toLowerCase()})`;
  if (p.enum) return p.enum.map((v) => `"${v}"`).join(" \\| ");
  if (p.type === "array") return `${mdType(p.items!)}[]`;
  if (p.additionalProperties) return `map of ${mdType(p.additionalProperties)}`;
  return p.type ?? "";
}

function docLines(text: string, indent: string): string[] {
  return [`${indent}/** ${text.replace(/\*\//g, "*\\/")} */`];
}

if (require.main === module) {
  fs.writeFileSync(SDK_TYPES_PATH, generateSdkTypes());
  fs.writeFileSync(README_PATH, readmeWithReference(fs.readFileSync(README_PATH, "utf8")));
  process.stdout.write(`wrote ${path.relative(process.cwd(), SDK_TYPES_PATH)} and the reference in ${path.relative(process.cwd(), README_PATH)}\n`);
}
