// GET /api/report: the same digest as `metapilot report` (src/cli/report-digest.test.ts checks the CLI against
// reportDigest), with the dry-run plan's today read from the workload caches, as JSON, HTML and CSV.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Digest } from "../../../scaler/reports.js";
import { reportDigest } from "../report.js";
import { serveApi, smallFleet, smallFleetDecisions, smallFleetNow } from "./testing.js";

describe("report", () => {
  let api: Awaited<ReturnType<typeof serveApi>>;
  beforeAll(async () => {
    api = await serveApi(smallFleet());
  });
  afterAll(() => api.close());

  it("serves the digest as JSON (the shape `metapilot report -o json` prints), HTML and CSV", async () => {
    const json = (await (await fetch(`${api.base}/api/report?since=24h&dryRunOnly=true&format=json`)).json()) as Digest;
    // The same rows; the API's plan also reads today's size from the workload caches.
    const bare = reportDigest(smallFleetDecisions, { since: "24h", dryRunOnly: true }, smallFleetNow);
    expect({ ...json, plan: [] }).toEqual({ ...bare, plan: [] });
    expect(json.plan.map((p) => p.todaySource)).toEqual(bare.plan.map(() => "workload"));
    expect(json.rows.map((r) => r.name)).toEqual(["cpu-2", "cpu-1"]);
    const html = await fetch(`${api.base}/api/report?since=24h&dryRunOnly=true&format=html`);
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
    expect(await html.text()).toContain("metapilot dry-run decisions");
    const csv = await fetch(`${api.base}/api/report?since=24h&format=csv`);
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    expect((await csv.text()).split("\n").filter((line) => line.includes("oom-1"))).toHaveLength(1);
  });

  it("answers 400 to an unknown format or a bad dryRunOnly", async () => {
    expect((await fetch(`${api.base}/api/report?format=pdf`)).status).toBe(400);
    expect((await fetch(`${api.base}/api/report?dryRunOnly=maybe`)).status).toBe(400);
  });
});
