// The digest as data: structured sizes, simulated baselines, the dry-run plan's net "today → would be" with the
// bounds it hits, CSV quoting and ISO 8601 times with their zone.
import { describe, expect, it } from "vitest";
import type { DecisionPhase } from "../api/index.js";
import {
  buildDigest,
  csvField,
  csvLine,
  renderDigestCsv,
  renderDigestTable,
  sizeChanges,
  type ReportableDecision,
} from "./reports.js";
import { observedSizeAnnotation } from "../api/labels.js";

const t0 = Date.parse("2026-12-05T12:00:00Z");
const MiB = 2 ** 20;

function decision(
  name: string,
  minute: number,
  before: { replicas: number; cpu: string; memLimit?: string },
  after: { replicas: number; cpu: string; memLimit?: string },
  observed?: { replicas: number; cpu: number; memLimit?: number },
  extra: { phase?: DecisionPhase; tenant?: string } = {},
): ReportableDecision {
  const size = (s: typeof before) => ({
    replicas: s.replicas,
    resources: { requests: { cpu: s.cpu }, limits: s.memLimit ? { memory: s.memLimit } : {} },
  });
  const tenant = extra.tenant ?? "tenant-d";
  return {
    metadata: {
      name,
      namespace: `tcp-${tenant}`,
      annotations: observed
        ? {
            [observedSizeAnnotation]: JSON.stringify({
              replicas: observed.replicas,
              cpuRequest: observed.cpu,
              memoryLimit: observed.memLimit,
            }),
          }
        : {},
    },
    spec: {
      target: { kind: "Deployment", name: "kube-apiserver", namespace: `tcp-${tenant}`, tenant },
      component: "kube-apiserver",
      direction: "Up",
      dryRun: observed !== undefined,
      clusterScaler: "fleet",
      decidedAt: new Date(t0 + minute * 60_000).toISOString(),
      rootCause: { category: "Throttling", summary: "429s, one more replica" },
      before: size(before),
      after: size(after),
    },
    status: { phase: extra.phase ?? (observed ? "DryRun" : "Applied") },
  };
}

// A dry-run chain of the old kind: each decision built on the one before, while the workload stayed 2×500m, 2Gi.
const real = { replicas: 2, cpu: 0.5, memLimit: 2048 * MiB };
const chain = [
  decision(
    "d1",
    0,
    { replicas: 2, cpu: "500m", memLimit: "2048Mi" },
    { replicas: 3, cpu: "500m", memLimit: "2048Mi" },
    real,
  ),
  decision(
    "d2",
    1,
    { replicas: 3, cpu: "500m", memLimit: "2048Mi" },
    { replicas: 4, cpu: "750m", memLimit: "2950Mi" },
    real,
  ),
  decision(
    "d3",
    2,
    { replicas: 4, cpu: "750m", memLimit: "2950Mi" },
    { replicas: 5, cpu: "1125m", memLimit: "2950Mi" },
    real,
  ),
];
const from = new Date(t0 - 3_600_000);
const to = new Date(t0 + 3_600_000);

describe("digest rows", () => {
  it("carries before and after as structured sizes, the real size, and marks simulated baselines", () => {
    const d = buildDigest(chain, from, to);
    expect(d.rows[0]).toMatchObject({
      before: { replicas: 2, requests: { cpu: "500m" }, limits: { memory: "2048Mi" } },
      after: { replicas: 3, requests: { cpu: "500m" }, limits: { memory: "2048Mi" } },
      observed: { replicas: 2, requests: { cpu: "500m" }, limits: { memory: "2048Mi" } },
      baseline: "workload",
      decidedAt: "2026-12-05T12:00:00.000Z",
    });
    expect(d.rows.map((r) => r.baseline)).toEqual(["workload", "simulated", "simulated"]);
    // A live decision has no recorded real size and its before is the workload's.
    const live = buildDigest([decision("l", 0, { replicas: 2, cpu: "1" }, { replicas: 2, cpu: "2" })], from, to);
    expect(live.rows[0]).not.toHaveProperty("observed");
    expect(live.rows[0]?.baseline).toBe("workload");
    expect(live.plan).toEqual([]);
  });
});

describe("dry-run plan", () => {
  it("nets a chain into today's real size → the newest decision's after, and names the bounds it sits on", () => {
    const d = buildDigest(chain, from, to, {
      workloadSize: (kind, ns, name) =>
        kind === "Deployment" && ns === "tcp-tenant-d" && name === "kube-apiserver"
          ? { replicas: 2, requests: { cpu: "0.5" }, limits: { memory: "2Gi" } }
          : undefined,
      bounds: () => ({ minAllowed: {}, maxAllowed: { memory: 2950 * MiB }, replicas: { max: 5 } }),
    });
    expect(d.plan).toHaveLength(1);
    const p = d.plan[0]!;
    expect(p).toMatchObject({
      tenant: "tenant-d",
      component: "kube-apiserver",
      workload: "Deployment/kube-apiserver",
      todaySource: "workload",
      today: { replicas: 2, requests: { cpu: "500m" }, limits: { memory: "2048Mi" } },
      wouldBe: { replicas: 5, requests: { cpu: "1125m" }, limits: { memory: "2950Mi" } },
      decisions: 3,
      simulatedBaselines: 2,
      firstAt: "2026-12-05T12:00:00.000Z",
      lastAt: "2026-12-05T12:02:00.000Z",
      lastDecision: { namespace: "tcp-tenant-d", name: "d3" },
    });
    expect(p.changes).toEqual([
      { field: "replicas", today: "2", wouldBe: "5" },
      { field: "cpu request", today: "500m", wouldBe: "1125m" },
      { field: "memory limit", today: "2048Mi", wouldBe: "2950Mi" },
    ]);
    expect(p.boundsHit).toEqual(["replicas at max 5", "memory limit at maxAllowed 2950Mi"]);
    expect(d.dryRunSemantics).toMatch(/cooldown/);
    const table = renderDigestTable(d);
    expect(table).toContain("DRY-RUN PLAN");
    expect(table).toContain("replicas 2 → 5, cpu request 500m → 1125m, memory limit 2048Mi → 2950Mi");
    expect(table).toContain("2 from a simulated baseline; bound: replicas at max 5");
    expect(table).toContain("(simulated)");
  });

  it("falls back to the real size recorded on the decision when the workload is not known", () => {
    const p = buildDigest(chain, from, to).plan[0]!;
    expect(p.todaySource).toBe("decision");
    expect(p.today).toEqual({ replicas: 2, requests: { cpu: "500m" }, limits: { memory: "2048Mi" } });
    expect(p.boundsHit).toEqual([]);
  });

  it("leaves Blocked dry-run decisions out of the plan (they would set nothing)", () => {
    const blocked = decision("b", 3, { replicas: 2, cpu: "500m" }, { replicas: 9, cpu: "4" }, real, {
      phase: "Blocked",
    });
    expect(buildDigest([...chain, blocked], from, to).plan[0]?.wouldBe.replicas).toBe(5);
  });

  it("compares sizes by quantity, not spelling", () => {
    expect(
      sizeChanges(
        { replicas: 2, requests: { cpu: "0.5", memory: "1Gi" }, limits: {} },
        { replicas: 2, requests: { cpu: "500m", memory: "1024Mi" }, limits: {} },
      ),
    ).toEqual([]);
  });
});

describe("CSV", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["cr\rlf", '"cr\rlf"'],
    [" edge", '" edge"'],
    ["", ""],
    ["→ 750m (+50%)", "→ 750m (+50%)"],
  ])("quotes %j as %j", (input, want) => {
    expect(csvField(input)).toBe(want);
  });

  it("writes undefined as an empty field, numbers and booleans as text, CRLF line ends", () => {
    expect(csvLine([undefined, 3, false, "x"])).toBe(",3,false,x\r\n");
  });

  it("writes one row per decision with one column per size field", () => {
    const csv = renderDigestCsv(buildDigest(chain, from, to));
    const lines = csv.trimEnd().split("\r\n");
    expect(lines).toHaveLength(4);
    const header = lines[0]!.split(",");
    const row = lines[2]!.split(",");
    const col = (name: string) => row[header.indexOf(name)];
    expect(col("decided_at")).toBe("2026-12-05T12:01:00.000Z");
    expect(col("baseline")).toBe("simulated");
    expect(col("before_replicas")).toBe("3");
    expect(col("after_memory_limit")).toBe("2950Mi");
    expect(col("observed_replicas")).toBe("2");
    expect(col("summary")).toBe('"429s');
  });
});

describe("times", () => {
  it("are ISO 8601 with their zone in the table", () => {
    const table = renderDigestTable(buildDigest(chain, from, to));
    expect(table).toMatch(/^2026-12-05T12:00:00Z {2}tenant-d/m);
    expect(table).toContain("from 2026-12-05T11:00:00Z to 2026-12-05T13:00:00Z");
  });
});
