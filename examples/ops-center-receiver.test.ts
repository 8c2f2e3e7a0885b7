// The example receiver against metapilot's own Reporter (src/scaler/reports.ts): what metapilot sends is accepted
// once, and a tampered, stale, unsigned or replayed request is refused or not handed on again.
import { mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CloudEvent } from "cloudevents";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KubeClient } from "../src/kube/client.js";
import type { Informer } from "../src/kube/informer.js";
import { createLogger } from "../src/kube/logger.js";
import { Reporter, signBody, toCloudEvent, type ReportableDecision } from "../src/scaler/reports.js";
import { createReceiver, ReportVerifier } from "./ops-center-receiver.js";

const key = "0123456789abcdef0123456789abcdef";

function decision(name: string): ReportableDecision {
  return {
    apiVersion: "metapilot.io/v1alpha1",
    kind: "ScalingDecision",
    metadata: { name, namespace: "tcp-acme", uid: `uid-${name}` },
    spec: { decidedAt: new Date().toISOString(), component: "kube-apiserver", direction: "Up" },
    status: { phase: "Applied", message: "OOMKilled: memory 1Gi -> 1.2Gi" },
  };
}

function post(url: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("examples/ops-center-receiver with metapilot's Reporter", () => {
  const accepted: Array<CloudEvent<unknown>> = [];
  let failNext = false;
  const server = createReceiver({
    key,
    onDecision: (event) => {
      if (failNext) {
        failNext = false;
        throw new Error("database down");
      }
      accepted.push(event);
    },
  });
  let url = "";
  const statuses: ReportableDecision[] = [];
  let reporter: Reporter;

  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/decisions`;
    const dir = mkdtempSync(path.join(tmpdir(), "receiver-"));
    const keyFile = path.join(dir, "hmac-key");
    writeFileSync(keyFile, `${key}\n`);
    reporter = new Reporter({
      client: {
        applyStatus: (_t: unknown, o: unknown) => {
          statuses.push(o as ReportableDecision);
          return Promise.resolve(o);
        },
      } as unknown as KubeClient,
      decisions: { list: () => [] } as unknown as Informer<ReportableDecision>,
      endpoints: [{ url, hmacSecretFile: keyFile }],
      source: "metapilot/test",
      logger: createLogger({ level: "silent" }),
    });
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("accepts what metapilot sends, once, and answers a redelivery of the same decision without handing it on", async () => {
    expect(await reporter.deliver(decision("d1"))).toBe(true);
    expect(accepted.map((e) => e.id)).toEqual(["uid-d1"]);
    expect(accepted[0]!.data).toMatchObject({ name: "d1", namespace: "tcp-acme", phase: "Applied" });
    // metapilot's retry after a lost answer: delivered (2xx), not processed twice.
    expect(await reporter.deliver(decision("d1"))).toBe(true);
    expect(accepted).toHaveLength(1);
    expect(statuses.at(-1)?.status?.delivery?.state).toBe("Delivered");
  });

  it("answers 500 when processing fails, and processes metapilot's retry", async () => {
    failNext = true;
    expect(await reporter.deliver(decision("d2"))).toBe(false);
    expect(statuses.at(-1)?.status?.delivery?.lastError).toMatch(/answered 500/);
    expect(await reporter.deliver(decision("d2"))).toBe(true);
    expect(accepted.map((e) => e.id)).toEqual(["uid-d1", "uid-d2"]);
  });

  it("refuses a changed body, a wrong key, no signature, a stale timestamp and a body over the limit", async () => {
    const { headers, body } = toCloudEvent(decision("d3"), "metapilot/test");
    const ts = String(Math.floor(Date.now() / 1000));
    const signed = { ...headers, "x-metapilot-timestamp": ts, "x-metapilot-signature": signBody(key, ts, body) };
    expect(await post(url, signed, body.replace("tcp-acme", "tcp-other"))).toBe(401);
    expect(
      await post(url, { ...signed, "x-metapilot-signature": signBody("another-key-another-key", ts, body) }, body),
    ).toBe(401);
    expect(await post(url, { ...headers, "x-metapilot-timestamp": ts }, body)).toBe(401);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    expect(
      await post(
        url,
        { ...headers, "x-metapilot-timestamp": old, "x-metapilot-signature": signBody(key, old, body) },
        body,
      ),
    ).toBe(401);
    const big = "x".repeat(2 ** 20 + 1);
    expect(await post(url, { ...signed, "x-metapilot-signature": signBody(key, ts, big) }, big).catch(() => 413)).toBe(
      413,
    );
    expect(accepted.map((e) => e.id)).not.toContain("uid-d3");
    // The untouched request is accepted.
    expect(await post(url, signed, body)).toBe(200);
    expect(accepted.map((e) => e.id)).toContain("uid-d3");
  });

  it("remembers ids for the window only, so memory stays bounded, and refuses an empty key", () => {
    let now = 1_000_000_000_000;
    const verifier = new ReportVerifier({ key, windowSeconds: 60, now: () => now });
    const send = (name: string) => {
      const { headers, body } = toCloudEvent(decision(name), "metapilot/test");
      const ts = String(Math.floor(now / 1000));
      return verifier.verify(
        { ...headers, "x-metapilot-timestamp": ts, "x-metapilot-signature": signBody(key, ts, body) },
        Buffer.from(body),
      ).verdict;
    };
    expect(send("a")).toMatchObject({ accepted: true });
    expect(send("a")).toMatchObject({ accepted: false, reason: "duplicate" });
    now += 61_000;
    // Past the window the id is forgotten; a capture that old is refused by its timestamp anyway.
    expect(send("a")).toMatchObject({ accepted: true });
    expect(() => new ReportVerifier({ key: "" })).toThrow(/HMAC key is empty/);
  });
});
