// zod schema → structural OpenAPI v3 schema, as apiextensions.k8s.io/v1 wants it in a CRD.
//
// zod's own JSON Schema export (target openapi-3.0, input side so defaulted fields are optional) does most of the
// work; this file turns its output into a structural schema: every node typed, no $ref, no anyOf/oneOf at type
// level, `additionalProperties` only for maps, nothing apiextensions rejects. Anything it cannot express fails loudly
// with the path of the offending node instead of producing a CRD the apiserver would refuse or silently weaken.
import { z } from "zod";
import type { CelRule } from "./rules.js";

/** The subset of apiextensions.k8s.io/v1 JSONSchemaProps that metapilot generates. */
export interface JSONSchemaProps {
  description?: string;
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  enum?: Array<string | number | boolean>;
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, JSONSchemaProps>;
  required?: string[];
  items?: JSONSchemaProps;
  additionalProperties?: JSONSchemaProps;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: CelRule[];
}

export class SchemaConversionError extends Error {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(`${path || "<root>"}: ${problem}`);
    this.name = "SchemaConversionError";
  }
}

// Output key order, so the YAML reads top-down: what a field is, then its constraints, then its children.
const KEY_ORDER: ReadonlyArray<keyof JSONSchemaProps> = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "nullable",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "required",
  "properties",
  "additionalProperties",
  "items",
  "x-kubernetes-validations",
];

// zod emits these bounds for z.int() and z.int32(); they say nothing a Kubernetes integer does not already say.
const SAFE_INT_BOUNDS = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
const INT32_BOUNDS = [-2147483648, 2147483647];

// Keys of zod's JSON Schema output that are dropped on purpose.
const DROPPED = new Set(["$schema", "$id", "id", "title", "examples", "readOnly", "writeOnly", "propertyNames"]);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** zod's JSON Schema for `schema`, with the options every CRD conversion uses. */
export function zodJsonSchema(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, {
    io: "input",
    target: "openapi-3.0",
    unrepresentable: "throw",
    cycles: "throw",
    reused: "inline",
    override: (ctx) => {
      // A prefault ({} for a settings block) would be the CRD default as written, but the apiserver checks a
      // default against the CEL rules before nested defaults fill it in. The parsed value is fully defaulted.
      if (ctx.zodSchema._zod.def.type === "prefault") {
        ctx.jsonSchema.default = z.parse(ctx.zodSchema, undefined);
      }
    },
  }) as Json;
}

/** Converts a zod schema to a structural schema. `path` only prefixes error messages. */
export function toStructuralSchema(schema: z.ZodType, path = ""): JSONSchemaProps {
  return normalize(zodJsonSchema(schema), path);
}

function mergeEnumBranches(branches: unknown[], path: string): Json {
  const values: Array<string | number | boolean> = [];
  let type: unknown;
  for (const b of branches) {
    if (!isObject(b) || !Array.isArray(b.enum)) {
      throw new SchemaConversionError(path, "anyOf/oneOf is only supported between enum values (use z.enum)");
    }
    if (type !== undefined && b.type !== type)
      throw new SchemaConversionError(path, "enum branches of different types");
    type = b.type;
    values.push(...(b.enum as Array<string | number | boolean>));
  }
  return { type, enum: values };
}

function normalize(input: Json, path: string): JSONSchemaProps {
  let node: Json = { ...input };
  for (const k of DROPPED) delete node[k];
  if (node.$ref !== undefined || node.$defs !== undefined || node.definitions !== undefined) {
    throw new SchemaConversionError(path, "$ref is not allowed in a structural schema (do not give schemas an id)");
  }
  if (node.allOf !== undefined || node.not !== undefined) {
    throw new SchemaConversionError(path, "allOf/not are not supported");
  }

  // An opaque subtree: stored as-is. Only the description survives.
  if (node["x-kubernetes-preserve-unknown-fields"] === true) {
    const out: JSONSchemaProps = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    if (typeof node.description === "string") out.description = node.description;
    return order(out);
  }

  for (const key of ["anyOf", "oneOf"] as const) {
    if (node[key] !== undefined) {
      const { [key]: branches, ...rest } = node;
      node = { ...rest, ...mergeEnumBranches(branches as unknown[], path) };
    }
  }
  if (node.const !== undefined) {
    const { const: c, ...rest } = node;
    node = { ...rest, enum: [c] };
  }

  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case "properties": {
        if (!isObject(value)) throw new SchemaConversionError(path, "properties must be an object");
        const props: Record<string, JSONSchemaProps> = {};
        for (const [name, child] of Object.entries(value)) {
          if (!isObject(child)) throw new SchemaConversionError(`${path}.${name}`, "schema must be an object");
          props[name] = normalize(child, `${path}.${name}`);
        }
        out.properties = props;
        break;
      }
      case "items":
        if (!isObject(value)) throw new SchemaConversionError(path, "tuple schemas are not supported");
        out.items = normalize(value, `${path}[]`);
        break;
      case "additionalProperties":
        if (value === false) break; // zod's strict objects; apiextensions prunes unknown fields anyway.
        if (!isObject(value) || Object.keys(value).length === 0) {
          throw new SchemaConversionError(
            path,
            "a map of unknown values is not structural; use opaqueObject() for an x-kubernetes-preserve-unknown-fields subtree",
          );
        }
        out.additionalProperties = normalize(value, `${path}{}`);
        break;
      default:
        if (!KEY_ORDER.includes(key as keyof JSONSchemaProps)) {
          throw new SchemaConversionError(path, `unsupported JSON Schema keyword "${key}"`);
        }
        out[key] = value;
    }
  }

  if (out.properties !== undefined && out.additionalProperties !== undefined) {
    throw new SchemaConversionError(path, "an object cannot have both properties and additionalProperties");
  }
  if (out.type === undefined) throw new SchemaConversionError(path, "every node of a structural schema needs a type");
  if (out.type === "object" && out.properties === undefined && out.additionalProperties === undefined) {
    throw new SchemaConversionError(path, "an object needs properties or additionalProperties");
  }
  if (out.type === "array" && out.items === undefined) throw new SchemaConversionError(path, "an array needs items");

  if (out.type === "number" && Array.isArray(out.enum) && out.enum.every((v) => Number.isInteger(v))) {
    out.type = "integer";
  }
  if (out.type === "integer") {
    if (out.minimum === INT32_BOUNDS[0] && out.maximum === INT32_BOUNDS[1]) out.format = "int32";
    if (SAFE_INT_BOUNDS.includes(out.minimum as number) || out.minimum === INT32_BOUNDS[0]) delete out.minimum;
    if (SAFE_INT_BOUNDS.includes(out.maximum as number) || out.maximum === INT32_BOUNDS[1]) delete out.maximum;
  }
  if (out.type === "string") {
    if (out.format === "date-time")
      delete out.pattern; // The apiserver checks the format itself.
    else if (out.format !== undefined) delete out.format;
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return order(out as JSONSchemaProps);
}

function order(s: JSONSchemaProps): JSONSchemaProps {
  const out: Json = {};
  for (const k of KEY_ORDER) if (s[k] !== undefined) out[k] = s[k];
  return out as JSONSchemaProps;
}

/** Every node of a schema with its dotted path: "spec", "spec.apiServer", "spec.taints[]", "spec.labels{}". */
export function* walkSchema(schema: JSONSchemaProps, path = ""): Generator<[string, JSONSchemaProps]> {
  yield [path, schema];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    yield* walkSchema(child, path ? `${path}.${name}` : name);
  }
  if (schema.items) yield* walkSchema(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* walkSchema(schema.additionalProperties, `${path}{}`);
}

/** Problems that would make the apiserver reject the schema as non-structural; empty when it is fine. */
export function structuralProblems(schema: JSONSchemaProps): string[] {
  const problems: string[] = [];
  const allowed = new Set<string>(KEY_ORDER);
  for (const [path, node] of walkSchema(schema)) {
    const where = path || "<root>";
    for (const key of Object.keys(node)) if (!allowed.has(key)) problems.push(`${where}: keyword "${key}"`);
    if (node.type === undefined) problems.push(`${where}: no type`);
    // An object without properties keeps nothing (all its fields are pruned); only metadata may be like that.
    if (node.type === "object" && !node.properties && !node.additionalProperties && path !== "metadata") {
      if (!node["x-kubernetes-preserve-unknown-fields"]) problems.push(`${where}: object without properties`);
    }
    if (node.properties && node.additionalProperties)
      problems.push(`${where}: both properties and additionalProperties`);
    for (const r of node.required ?? []) {
      if (!node.properties?.[r]) problems.push(`${where}: required field "${r}" has no schema`);
    }
    if (node["x-kubernetes-list-type"] === "map") {
      for (const key of node["x-kubernetes-list-map-keys"] ?? []) {
        const item = node.items;
        const keySchema = item?.properties?.[key];
        if (!keySchema) problems.push(`${where}: list map key "${key}" is not a property of the items`);
        else if (!item?.required?.includes(key) && keySchema.default === undefined) {
          problems.push(`${where}: list map key "${key}" must be required or defaulted`);
        }
      }
    }
  }
  return problems;
}

/**
 * The openAPIV3Schema of a kind from its whole-object zod schema (see kubeObject): spec and status converted, the
 * envelope fields written the way apiextensions wants them, and rules attached to the whole object kept at the root.
 */
export function kindOpenAPISchema(kindSchema: z.ZodObject): JSONSchemaProps {
  const shape = kindSchema.shape as Record<string, z.ZodType | undefined>;
  const spec = shape.spec;
  const status = shape.status;
  if (!spec || !status) throw new SchemaConversionError("", "a kind schema needs spec and status");
  const meta = kindSchema.meta() ?? {};
  const root: JSONSchemaProps = {
    type: "object",
    properties: {
      apiVersion: {
        description:
          "APIVersion defines the versioned schema of this representation of an object: metapilot.io/v1alpha1.",
        type: "string",
      },
      kind: { description: "Kind is the REST resource this object represents.", type: "string" },
      metadata: { type: "object" },
      spec: toStructuralSchema(spec instanceof z.ZodOptional ? (spec.unwrap() as z.ZodType) : spec, "spec"),
      status: toStructuralSchema(status instanceof z.ZodOptional ? (status.unwrap() as z.ZodType) : status, "status"),
    },
  };
  if (typeof meta.description === "string") root.description = meta.description;
  if (!spec.safeParse(undefined).success) root.required = ["spec"];
  const rules = meta["x-kubernetes-validations"] as CelRule[] | undefined;
  if (rules?.length) root["x-kubernetes-validations"] = rules;
  return order(root);
}

/** Every CEL rule in a schema, with the dotted path of the node it is attached to. */
export interface LocatedCelRule extends CelRule {
  path: string;
  /** True for transition rules, which compare with the old object (oldSelf) and only run on updates. */
  transition: boolean;
}

export function celRulesOf(schema: JSONSchemaProps): LocatedCelRule[] {
  const out: LocatedCelRule[] = [];
  for (const [path, node] of walkSchema(schema)) {
    for (const r of node["x-kubernetes-validations"] ?? []) {
      out.push({ path, ...r, transition: /\boldSelf\b/.test(r.rule) });
    }
  }
  return out;
}
