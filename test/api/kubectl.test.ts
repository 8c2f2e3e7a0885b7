// What a user sees with kubectl (.cache/bin/kubectl, built from the pinned Kubernetes) on a real apiserver with
// the generated CRDs: every short name of a metapilot kind names that kind and collides with nothing the
// meta-cluster serves (built-in kinds included), and `kubectl get` shows each kind's printer columns with the
// values from spec and status.
import * as k8s from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binDir } from "../../hack/lib/metacluster.js";
import { allKinds, crdName, examples, type KindName, kinds, renderCrdYaml } from "../../src/api/index.js";
import { adminKubeConfig, eventually, freshNamespace, metacluster } from "../harness/cluster.js";
import { rawRequest, serverSideApply } from "./raw.js";

const GROUP = "metapilot.io";
const VERSION = "v1alpha1";
const run = promisify(execFile);

type Obj = Record<string, unknown> & { metadata: { name: string; namespace?: string } };

/** Runs kubectl against the meta-cluster; fails on a non-zero exit. */
async function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(path.join(binDir, "kubectl"), args, {
    env: { ...process.env, KUBECONFIG: metacluster().kubeconfig },
    maxBuffer: 16 * 1024 * 1024,
  });
}

/**
 * A kubectl table as rows of cells, cut at the header's column starts: headers are separated by at least two
 * spaces (kubectl pads with three), while a header such as "ROOT CAUSE" or a cell may hold one.
 */
function table(text: string): Array<Record<string, string>> {
  const [header = "", ...rows] = text.split("\n").filter((l) => l.trim() !== "");
  const starts: Array<{ name: string; at: number }> = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) starts.push({ name: m[0], at: m.index });
  return rows.map((row) =>
    Object.fromEntries(
      starts.map((c, i) => [c.name, row.slice(c.at, starts[i + 1]?.at ?? row.length).trim()] as const),
    ),
  );
}

const suffix = () => randomBytes(3).toString("hex");

const condition = (type: string, status: string, reason: string, message: string) => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: "2026-01-31T12:00:00Z",
});

describe("kubectl on the metapilot.io CRDs", () => {
  const kc = adminKubeConfig();
  const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
  let namespace = "";
  let cleanupNamespace: () => Promise<void> = async () => undefined;
  const created: Array<{ kind: KindName; name: string }> = [];

  const objectPath = (kind: KindName, name?: string) => {
    const info = kinds[kind];
    const base = info.namespaced
      ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${info.plural}`
      : `/apis/${GROUP}/${VERSION}/${info.plural}`;
    return name ? `${base}/${name}` : base;
  };

  /** Creates the example of `kind` under a unique name, then writes `status` through the status subresource. */
  async function createWithStatus(
    kind: KindName,
    status?: Record<string, unknown>,
    change?: (o: Obj & { spec: Record<string, unknown> }) => void,
  ): Promise<string> {
    const obj = structuredClone(examples()[kind]) as unknown as Obj & { spec: Record<string, unknown> };
    const name = `${obj.metadata.name}-${suffix()}`;
    obj.metadata = { ...obj.metadata, name, ...(kinds[kind].namespaced ? { namespace } : {}) };
    delete obj.status;
    change?.(obj);
    const res = await rawRequest(kc, "POST", objectPath(kind), JSON.stringify(obj));
    expect(res.status, `create ${kind}: ${res.body}`).toBe(201);
    created.push({ kind, name });
    if (status) {
      const patched = await rawRequest(
        kc,
        "PATCH",
        `${objectPath(kind, name)}/status`,
        JSON.stringify({ status }),
        "application/merge-patch+json",
      );
      expect(patched.status, `status of ${kind}: ${patched.body}`).toBe(200);
    }
    return name;
  }

  /** `kubectl get <resource> <name>` as one row, in the test namespace for namespaced kinds. */
  async function getRow(resource: string, kind: KindName, name: string, ...flags: string[]) {
    const ns = kinds[kind].namespaced ? ["-n", namespace] : [];
    const { stdout, stderr } = await kubectl("get", resource, name, ...ns, ...flags);
    expect(stderr, `kubectl get ${resource} warns`).toBe("");
    const rows = table(stdout);
    expect(rows).toHaveLength(1);
    return { header: Object.keys(rows[0] ?? {}), row: rows[0] ?? {} };
  }

  beforeAll(async () => {
    for (const info of allKinds) {
      const res = await serverSideApply(
        kc,
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName(info)}`,
        renderCrdYaml(info),
      );
      expect(res.status, `${info.kind}: ${res.body}`).toBeLessThan(300);
    }
    for (const info of allKinds) {
      await eventually(
        async () => {
          const crd = await extensions.readCustomResourceDefinition({ name: crdName(info) });
          const established = crd.status?.conditions?.find((c) => c.type === "Established")?.status === "True";
          return established ? crd : undefined;
        },
        30_000,
        `${crdName(info)} Established`,
      );
    }
    // kubectl learns short names from discovery: wait until it serves all six.
    await eventually(
      async () => {
        const { stdout } = await kubectl("api-resources", "--api-group", GROUP, "-o", "name");
        return allKinds.every((k) => stdout.includes(`${k.plural}.${GROUP}`)) ? true : undefined;
      },
      60_000,
      "metapilot.io in discovery",
    );
    const ns = await freshNamespace(kc, "kubectl");
    namespace = ns.name;
    cleanupNamespace = ns.cleanup;
  });

  afterAll(async () => {
    for (const o of created.filter((c) => !kinds[c.kind].namespaced)) {
      await rawRequest(kc, "DELETE", objectPath(o.kind, o.name)).catch(() => undefined);
    }
    await cleanupNamespace();
  });

  it("gives every kind short names that no other resource of the meta-cluster uses", async () => {
    const { stdout } = await kubectl("api-resources");
    const [header = "", ...rows] = stdout.split("\n").filter((l) => l.trim() !== "");
    const shortAt = header.indexOf("SHORTNAMES");
    const versionAt = header.indexOf("APIVERSION");
    expect(shortAt).toBeGreaterThan(0);
    const owners = new Map<string, string[]>();
    for (const row of rows) {
      const resource = row.slice(0, shortAt).trim();
      const group = row.slice(versionAt).trim().split(/\s+/)[0] ?? "";
      for (const short of row.slice(shortAt, versionAt).trim().split(",").filter(Boolean)) {
        owners.set(short, [...(owners.get(short) ?? []), `${resource}.${group}`]);
      }
    }
    // The built-ins are in the list too: a collision would show as a second owner.
    expect(owners.get("cs")).toEqual(["componentstatuses.v1"]);
    for (const info of allKinds) {
      for (const short of info.shortNames) {
        expect(owners.get(short), `short name ${short}`).toEqual([`${info.plural}.${GROUP}/${VERSION}`]);
      }
    }
  });

  it("resolves each short name to its metapilot kind without a warning", async () => {
    for (const info of allKinds) {
      for (const short of info.shortNames) {
        const ns = info.namespaced ? ["-n", namespace] : [];
        const { stdout, stderr } = await kubectl("get", short, ...ns, "-o", "json");
        expect(stderr, `kubectl get ${short}`).toBe("");
        const list = JSON.parse(stdout) as { kind: string; apiVersion: string; items: Array<{ kind: string }> };
        expect(list.kind).toBe("List");
        for (const item of list.items) expect(item.kind).toBe(info.kind);
        const { stdout: explained } = await kubectl("explain", short);
        expect(explained).toMatch(new RegExp(`^GROUP:\\s+${GROUP}\\s*\\nKIND:\\s+${info.kind}\\b`, "m"));
      }
    }
  });

  it("shows the printer columns of every kind, with spec and status values", async () => {
    const tcp = await createWithStatus("TenantControlPlane", {
      phase: "Ready",
      namespace: "tcp-team-a",
      endpoint: "https://10.0.0.1:6443",
      kubeconfigSecretRef: { name: "admin-kubeconfig", namespace: "tcp-team-a", key: "kubeconfig" },
    });
    const wp = await createWithStatus("WorkloadProfile", {
      confidence: 0,
      conditions: [
        condition("Ready", "False", "InsufficientData", "kube-apiserver: no usage samples"),
        condition("HistoryAvailable", "False", "NoData", "no usage samples for any container"),
      ],
    });
    const cs = await createWithStatus(
      "ClusterScaler",
      { matchedTenants: 3, conditions: [condition("Ready", "True", "PolicyValid", "governs 3 tenants")] },
      (o) => {
        o.spec.paused = true;
      },
    );
    const sd = await createWithStatus("ScalingDecision", { phase: "DryRun" });
    const np = await createWithStatus("NodePool");
    const nd = await createWithStatus("NodeDrain");

    const expectColumns = (kind: KindName, header: string[]) =>
      expect(header).toEqual([
        "NAME",
        ...kinds[kind].printerColumns.filter((c) => !c.priority).map((c) => c.name.toUpperCase()),
      ]);

    const t = await getRow("tcp", "TenantControlPlane", tcp);
    expectColumns("TenantControlPlane", t.header);
    expect(t.row).toMatchObject({ NAME: tcp, PHASE: "Ready", KUBECONFIG: "admin-kubeconfig" });

    const w = await getRow("wp", "WorkloadProfile", wp);
    expectColumns("WorkloadProfile", w.header);
    expect(w.row).toMatchObject({ NAME: wp, CONFIDENCE: "0", HISTORY: "NoData" });

    const c = await getRow("csc", "ClusterScaler", cs);
    expectColumns("ClusterScaler", c.header);
    expect(c.row).toMatchObject({ NAME: cs, READY: "True", PAUSED: "true", TENANTS: "3" });

    const s = await getRow("sd", "ScalingDecision", sd);
    expectColumns("ScalingDecision", s.header);
    expect(s.header.slice(0, 7)).toEqual(["NAME", "AGE", "TENANT", "COMPONENT", "DIRECTION", "ROOT CAUSE", "PHASE"]);
    expect(s.row).toMatchObject({
      TENANT: "team-a",
      COMPONENT: "kube-apiserver",
      DIRECTION: "Up",
      "ROOT CAUSE": "OOMKilled",
      PHASE: "DryRun",
    });
    expect(s.row.AGE).toMatch(/^\d+(s|m)/);
    // The summary only with -o wide.
    const wide = await getRow("sd", "ScalingDecision", sd, "-o", "wide");
    expect(wide.header.at(-1)).toBe("SUMMARY");

    expectColumns("NodePool", (await getRow("np", "NodePool", np)).header);
    expectColumns("NodeDrain", (await getRow("nd", "NodeDrain", nd)).header);
  });
});
