// Every example object in README.md (examples/*.yaml, kept equal by examples/readme-examples.test.ts) is accepted by
// the generated CRDs on a real kube-apiserver: a server-side apply with dryRun=All and strict field validation, so
// the full schema and its CEL rules run and nothing is stored. Namespaced examples go into a fresh namespace.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readmeExamples } from "../../examples/readme-examples.js";
import { findKind, type KindInfo } from "../../src/api/index.js";
import { adminKubeConfig, freshNamespace } from "../harness/cluster.js";
import { installCrds } from "../harness/crds.js";
import { rawRequest } from "./raw.js";

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };

describe("the README's examples on a real apiserver", () => {
  const kc = adminKubeConfig();
  const examples = readmeExamples();
  let namespace = "";
  let cleanupNamespace: () => Promise<void> = async () => undefined;

  const objectPath = (info: KindInfo, object: Obj) =>
    `/apis/${info.apiVersion}${info.namespaced ? `/namespaces/${namespace}` : ""}/${info.plural}/${object.metadata.name}`;

  /** A server-side apply with dryRun=All; unknown and duplicate fields are errors, as kubectl makes them. */
  const dryRunApply = (info: KindInfo, object: Obj) =>
    rawRequest(
      kc,
      "PATCH",
      `${objectPath(info, object)}?fieldManager=metapilot-tests&force=true&dryRun=All&fieldValidation=Strict`,
      JSON.stringify(object),
      "application/apply-patch+yaml",
    );

  /** The example as an object, in the test namespace when its kind is namespaced. */
  function load(text: string): { info: KindInfo; object: Obj } {
    const object = parse(text) as Obj;
    const info = findKind(object.kind);
    if (!info) throw new Error(`no metapilot.io kind ${object.kind}`);
    if (info.namespaced) object.metadata.namespace = namespace;
    return { info, object };
  }

  beforeAll(async () => {
    await installCrds(kc);
    const ns = await freshNamespace(kc, "examples");
    namespace = ns.name;
    cleanupNamespace = ns.cleanup;
  });

  afterAll(async () => {
    await cleanupNamespace();
  });

  it("finds the README's examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
  });

  it.each(examples.map((example) => [example.file, example.text] as const))(
    "accepts %s and stores nothing",
    async (_file, text) => {
      const { info, object } = load(text);
      const res = await dryRunApply(info, object);
      expect(res.status, res.body).toBeLessThan(300);
      const applied = JSON.parse(res.body) as Obj;
      expect(applied.kind).toBe(info.kind);
      expect(applied.metadata.name).toBe(object.metadata.name);
      const stored = await rawRequest(kc, "GET", objectPath(info, object));
      expect(stored.status, stored.body).toBe(404);
    },
  );

  it.each(examples.map((example) => [example.file, example.text] as const))(
    "refuses %s with an unknown spec field (the check is strict)",
    async (_file, text) => {
      const { info, object } = load(text);
      (object.spec as Record<string, unknown>).notAField = true;
      const res = await dryRunApply(info, object);
      expect(res.status, res.body).toBeGreaterThanOrEqual(400);
      expect(res.body).toContain("notAField");
    },
  );
});
