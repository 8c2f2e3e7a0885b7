import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { opaqueObject } from "./common.js";
import { crdFileName, customResourceDefinition, renderCrdYaml } from "./crd.js";
import { examples } from "./examples.js";
import { allKinds, findKind, type KindName, kinds } from "./kinds.js";
import {
  celRulesOf,
  type JSONSchemaProps,
  SchemaConversionError,
  structuralProblems,
  toStructuralSchema,
  walkSchema,
} from "./openapi.js";
import { withRules } from "./rules.js";

describe("toStructuralSchema", () => {
  it("turns objects, defaults and bounds into apiextensions keywords", () => {
    const s = toStructuralSchema(
      z.object({
        replicas: z.int().min(1).max(50).default(2).describe("replicas"),
        name: z
          .string()
          .min(1)
          .max(10)
          .regex(/^[a-z]+$/)
          .describe("name"),
        ratio: z.number().gt(0).max(1).optional().describe("ratio"),
      }),
    );
    expect(s).toEqual({
      type: "object",
      required: ["name"],
      properties: {
        replicas: { description: "replicas", type: "integer", default: 2, minimum: 1, maximum: 50 },
        name: { description: "name", type: "string", minLength: 1, maxLength: 10, pattern: "^[a-z]+$" },
        ratio: { description: "ratio", type: "number", minimum: 0, exclusiveMinimum: true, maximum: 1 },
      },
    });
  });

  it("drops the safe-integer bounds zod adds to z.int() and marks int32", () => {
    const s = toStructuralSchema(z.object({ a: z.int(), b: z.int32() }));
    expect(s.properties?.a).toEqual({ type: "integer" });
    expect(s.properties?.b).toEqual({ type: "integer", format: "int32" });
  });

  it("writes enums, literals and integer literal sets as enum", () => {
    const s = toStructuralSchema(
      z.object({
        e: z.enum(["A", "B"]),
        l: z.literal("x"),
        n: z.literal([1, 3, 5]),
        u: z.union([z.literal("p"), z.literal("q")]),
      }),
    );
    expect(s.properties?.e).toEqual({ type: "string", enum: ["A", "B"] });
    expect(s.properties?.l).toEqual({ type: "string", enum: ["x"] });
    expect(s.properties?.n).toEqual({ type: "integer", enum: [1, 3, 5] });
    expect(s.properties?.u).toEqual({ type: "string", enum: ["p", "q"] });
  });

  it("keeps format date-time but not zod's long date-time pattern", () => {
    const s = toStructuralSchema(z.object({ t: z.iso.datetime({ offset: true }) }));
    expect(s.properties?.t).toEqual({ type: "string", format: "date-time" });
  });

  it("writes maps as additionalProperties and opaque subtrees as x-kubernetes-preserve-unknown-fields", () => {
    const s = toStructuralSchema(
      z.object({ labels: z.record(z.string(), z.string()), blob: opaqueObject("anything").optional() }),
    );
    expect(s.properties?.labels).toEqual({ type: "object", additionalProperties: { type: "string" } });
    expect(s.properties?.blob).toEqual({
      description: "anything",
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    });
  });

  it("never writes additionalProperties: false (strict objects)", () => {
    const s = toStructuralSchema(z.strictObject({ a: z.string() }));
    expect(s).toEqual({ type: "object", required: ["a"], properties: { a: { type: "string" } } });
  });

  it("fills an object default from its nested defaults, so the apiserver's CEL check of the default sees them", () => {
    const inner = withRules(z.object({ a: z.int().default(1), b: z.int().default(2) }), [
      { rule: "self.a < self.b", message: "a < b", check: (v) => v.a < v.b },
    ]);
    const s = toStructuralSchema(z.object({ settings: inner.prefault({}) }));
    expect(s.properties?.settings?.default).toEqual({ a: 1, b: 2 });
    expect(s.properties?.settings?.["x-kubernetes-validations"]).toEqual([
      { rule: "self.a < self.b", message: "a < b" },
    ]);
  });

  it("keeps metadata set with .meta() and the description of the outermost wrapper", () => {
    const s = toStructuralSchema(
      z.object({
        conds: z
          .array(z.object({ type: z.string() }))
          .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
          .describe("outer")
          .optional(),
      }),
    );
    expect(s.properties?.conds).toMatchObject({
      description: "outer",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    });
  });

  it("refuses what a structural schema cannot express, naming the field", () => {
    const cases: Array<[z.ZodType, RegExp]> = [
      [z.object({ a: z.union([z.string(), z.number()]) }), /^\.a: anyOf\/oneOf/],
      [z.object({ m: z.record(z.string(), z.unknown()) }), /^\.m: a map of unknown values/],
      [z.object({ u: z.unknown() }), /^\.u: every node .* needs a type/],
      [z.object({ t: z.tuple([z.string(), z.number()]) }), /^\.t/],
      [z.object({ d: z.date() }), /./],
    ];
    for (const [schema, message] of cases) {
      expect(() => toStructuralSchema(schema)).toThrow(message);
    }
    expect(() => toStructuralSchema(z.object({ a: z.union([z.string(), z.number()]) }))).toThrow(SchemaConversionError);
  });
});

describe("structuralProblems", () => {
  it("finds untyped nodes, unknown keywords and list-map keys that are not required", () => {
    const bad: JSONSchemaProps = {
      type: "object",
      properties: {
        a: {},
        b: { type: "string", ...({ $ref: "#/x" } as object) },
        c: {
          type: "array",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["name"],
          items: { type: "object", properties: { name: { type: "string" } } },
        },
      },
    };
    expect(structuralProblems(bad)).toEqual([
      "a: no type",
      'b: keyword "$ref"',
      'c: list map key "name" must be required or defaulted',
    ]);
  });
});

/** Structural-schema defaulting as the apiserver does it: missing properties get their default, recursively. */
function applyDefaults(schema: JSONSchemaProps, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (schema.items ? applyDefaults(schema.items, v) : v));
  if (typeof value !== "object" || value === null) return value;
  const obj = value as Record<string, unknown>;
  for (const [key, sub] of Object.entries(schema.properties ?? {})) {
    if (obj[key] === undefined && sub.default !== undefined) obj[key] = structuredClone(sub.default);
    if (obj[key] !== undefined) obj[key] = applyDefaults(sub, obj[key]);
  }
  if (schema.additionalProperties) {
    for (const key of Object.keys(obj)) obj[key] = applyDefaults(schema.additionalProperties, obj[key]);
  }
  return obj;
}

describe.each(allKinds.map((k) => [k.kind, k] as const))("CRD of %s", (_name, info) => {
  const schema = info.openAPISchema;

  it("is structural", () => {
    expect(structuralProblems(schema)).toEqual([]);
  });

  it("describes every field (kubectl explain shows it)", () => {
    const missing = [...walkSchema(schema)]
      .filter(
        ([path, node]) => path !== "metadata" && !path.endsWith("[]") && !path.endsWith("{}") && !node.description,
      )
      .map(([path]) => path || "<root>");
    expect(missing).toEqual([]);
  });

  it("has no $ref, anyOf, oneOf or additionalProperties: false anywhere", () => {
    const text = JSON.stringify(schema);
    expect(text).not.toMatch(/"\$ref"|"anyOf"|"oneOf"|"allOf"|"additionalProperties":false|"\$schema"/);
  });

  it("has the envelope fields, a required spec and a status", () => {
    expect(Object.keys(schema.properties ?? {})).toEqual(["apiVersion", "kind", "metadata", "spec", "status"]);
    expect(schema.properties?.metadata).toEqual({ type: "object" });
    expect(schema.required).toEqual(["spec"]);
  });

  it("has printer columns whose JSON paths exist in the schema", () => {
    for (const col of info.printerColumns) {
      let node: JSONSchemaProps | undefined = schema;
      if (col.jsonPath === ".metadata.creationTimestamp") continue;
      // A segment may filter a list of conditions: conditions[?(@.type=="Ready")] is an item of conditions.
      for (const seg of col.jsonPath.split(/\.(?![^[]*\])/).slice(1)) {
        const filtered = /^(\w+)\[\?\(@\.type=="\w+"\)\]$/.exec(seg);
        node = filtered ? node?.properties?.[filtered[1] ?? ""]?.items : node?.properties?.[seg];
      }
      expect(node, `${col.name} → ${col.jsonPath}`).toBeDefined();
      const expected = col.type === "date" ? "string" : col.type;
      expect(node?.type, `${col.name} → ${col.jsonPath}`).toBe(expected);
    }
    expect(info.printerColumns.some((c) => c.name === "Age")).toBe(true);
  });

  it("defaults like zod does: the apiserver and the parse helpers fill in the same values", () => {
    const example = examples()[info.kind as KindName];
    const parsed = info.schema.parse(example) as { spec: unknown };
    const defaulted = applyDefaults(schema, JSON.parse(JSON.stringify(example))) as { spec: unknown };
    expect(defaulted.spec).toEqual(parsed.spec);
  });

  it("renders YAML that parses back to the same CRD", () => {
    const yamlText = renderCrdYaml(info);
    expect(yamlText.startsWith("# Generated by hack/generate-crds.ts")).toBe(true);
    expect(parseYaml(yamlText)).toEqual(JSON.parse(JSON.stringify(customResourceDefinition(info))));
    expect(crdFileName(info)).toBe(`${info.plural}.metapilot.io.yaml`);
  });

  it("names, scope, categories and status subresource", () => {
    const crd = customResourceDefinition(info);
    expect(crd.metadata.name).toBe(`${info.plural}.metapilot.io`);
    expect(crd.spec.names.categories).toEqual(["metapilot"]);
    expect(crd.spec.names.shortNames.length).toBe(1);
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0]?.name).toBe("v1alpha1");
  });
});

describe("kinds table", () => {
  it("matches the API contract in DESIGN.md", () => {
    const table = allKinds.map((k) => [k.kind, k.scope, k.shortNames.join(","), k.plural]);
    expect(table).toEqual([
      ["TenantControlPlane", "Cluster", "tcp", "tenantcontrolplanes"],
      ["WorkloadProfile", "Namespaced", "wp", "workloadprofiles"],
      ["ClusterScaler", "Cluster", "csc", "clusterscalers"],
      ["ScalingDecision", "Namespaced", "sd", "scalingdecisions"],
      ["NodePool", "Cluster", "np", "nodepools"],
      ["NodeDrain", "Cluster", "nd", "nodedrains"],
    ]);
  });

  it("finds kinds by any of their names", () => {
    expect(findKind("tcp")?.kind).toBe("TenantControlPlane");
    expect(findKind("NodeDrains")?.kind).toBe("NodeDrain");
    expect(findKind("scalingdecision")?.kind).toBe("ScalingDecision");
    expect(findKind("pods")).toBeUndefined();
  });

  it("lists the CEL rules with where they sit", () => {
    const rules = kinds.TenantControlPlane.celRules;
    const at = (path: string) => rules.filter((r) => r.path === path);
    expect(at("spec.version").filter((r) => r.transition)).toHaveLength(3);
    expect(at("spec.etcd").map((r) => r.message)).toContain("exactly one of managed and external must be set");
    expect(kinds.NodePool.celRules.map((r) => r.message)).toContain("minNodes must not be greater than maxNodes");
    expect(kinds.NodeDrain.celRules.map((r) => r.message)).toContain(
      "exactly one of nodeNames and nodeSelector must be set",
    );
    expect(celRulesOf(kinds.ScalingDecision.openAPISchema).find((r) => r.path === "spec")?.rule).toBe(
      "self == oldSelf",
    );
  });

  it("keeps transition rules outside lists (the apiserver pairs old and new items only in map lists)", () => {
    for (const info of allKinds) {
      for (const r of info.celRules) {
        if (r.transition) expect(r.path, `${info.kind}: ${r.rule}`).not.toMatch(/\[\]/);
      }
    }
  });
});
