import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createLogger } from "../../kube/logger.js";
import { generateTenantPki } from "../../operator/pki/issue.js";
import type { TenantPki } from "../../operator/pki/types.js";
import { checkProbeUrl, hostAllowed, probeOnce, ProbeSignals, type ProbeResult, type ProbeTarget } from "./probe.js";

const logger = createLogger({ level: "silent" });

describe("probeOnce", () => {
  let mode: "ok" | "fail" | "hang" = "ok";
  let pki: TenantPki;
  let server: https.Server;
  let url = "";
  beforeAll(async () => {
    pki = await generateTenantPki({
      tenantName: "plain",
      namespace: "tcp-plain",
      serviceName: "kube-apiserver",
      certSANs: ["127.0.0.1"],
      etcdServiceName: "etcd",
      etcdReplicas: 1,
      validityDays: 30,
      caValidityDays: 365,
      now: new Date(),
    });
    server = https.createServer(
      { cert: pki.apiserver.certificatePem, key: pki.apiserver.privateKeyPem },
      (_req, res) => {
        if (mode === "hang") return; // never answers
        if (mode === "fail") {
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n");
          return;
        }
        res.end("ok");
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
  }, 60_000);
  afterAll(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it("tells a ready apiserver, a failing check, a timeout and a refused connection apart", async () => {
    // Deadlines are generous where an answer is expected (a loaded machine must not turn it into a timeout), and
    // short only where the point is the timeout.
    const ca = pki.ca.certificatePem;
    mode = "ok";
    expect((await probeOnce(url, { timeoutMs: 10_000, ca })).outcome).toBe("ok");
    mode = "fail";
    const failed = await probeOnce(url, { timeoutMs: 10_000, ca });
    expect(failed.outcome).toBe("http-status");
    expect(failed.status).toBe(500);
    // The status code only: the answer's text never leaves the prober.
    expect(failed.message).toBe("HTTP 500");
    mode = "hang";
    const hung = await probeOnce(url, { timeoutMs: 200, ca });
    expect(hung.outcome).toBe("timeout");
    expect(hung.durationMs).toBeGreaterThanOrEqual(150);
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const refused = await probeOnce(`https://127.0.0.1:${port}/readyz`, { timeoutMs: 10_000, ca });
    expect(refused.outcome).toBe("unreachable");
    expect(refused.message).toBe("ECONNREFUSED");
    expect((await probeOnce("not a url", { timeoutMs: 100 })).outcome).toBe("unreachable");
    // A name that never resolves (a hung resolver) is the network's problem, not a failed probe.
    const hungDns = await probeOnce("https://kube-apiserver.tcp-x.svc:6443/readyz", {
      timeoutMs: 300,
      lookup: () => undefined,
    });
    expect(hungDns.outcome).toBe("unreachable");
    expect(hungDns.message).toContain("no connection within 300 ms");
  });

  it("sends nothing to a URL that is not https", async () => {
    let requests = 0;
    const plain = http.createServer((_req, res) => {
      requests++;
      res.end("ok");
    });
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const r = await probeOnce(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/readyz`, {
      timeoutMs: 1000,
    });
    plain.close();
    expect(r.outcome).toBe("unreachable");
    expect(r.message).toMatch(/only https/);
    expect(requests).toBe(0);
  });

  describe("over TLS with the tenant's own PKI", () => {
    let pki: TenantPki;
    let other: TenantPki;
    let tls: https.Server;
    let tlsUrl = "";
    beforeAll(async () => {
      const spec = {
        tenantName: "acme",
        namespace: "tcp-acme",
        serviceName: "kube-apiserver",
        certSANs: ["127.0.0.1"],
        etcdServiceName: "etcd",
        etcdReplicas: 1,
        validityDays: 30,
        caValidityDays: 365,
        now: new Date(),
      };
      [pki, other] = await Promise.all([generateTenantPki(spec), generateTenantPki({ ...spec, tenantName: "other" })]);
      tls = https.createServer({ cert: pki.apiserver.certificatePem, key: pki.apiserver.privateKeyPem }, (_req, res) =>
        res.end("ok"),
      );
      await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
      tlsUrl = `https://127.0.0.1:${(tls.address() as AddressInfo).port}/readyz`;
    }, 60_000);
    afterAll(() => tls?.close());

    it("verifies the serving certificate with the tenant's cluster CA and refuses another CA", async () => {
      expect((await probeOnce(tlsUrl, { timeoutMs: 10_000, ca: pki.ca.certificatePem })).outcome).toBe("ok");
      const wrong = await probeOnce(tlsUrl, { timeoutMs: 10_000, ca: other.ca.certificatePem });
      expect(wrong.outcome).toBe("unreachable");
      // Reported by its code: a TLS message would quote the peer's certificate.
      expect(wrong.message).toMatch(/^[A-Z_]+$/);
    });

    it("reads the CA again after a TLS failure", async () => {
      let ca = other.ca.certificatePem;
      const forgetCa = vi.fn(() => {
        ca = pki.ca.certificatePem;
      });
      const signals = new ProbeSignals({
        intervalMs: 1000,
        timeoutMs: 10_000,
        targets: () => [{ tenant: "acme", namespace: "tcp-acme", url: tlsUrl }],
        caFor: () => Promise.resolve(ca),
        forgetCa,
        logger,
        onUpdate: () => undefined,
      });
      await signals.round();
      expect(forgetCa).toHaveBeenCalledTimes(1);
      expect(signals.failuresWithin("acme", 60_000, Date.now())).toBeUndefined();
      await signals.round();
      expect(signals.latest("acme")?.outcome).toBe("ok");
      expect(signals.failuresWithin("acme", 60_000, Date.now())?.value).toBe(0);
    });
  });
});

describe("ProbeSignals", () => {
  const tenants = (n: number): ProbeTarget[] =>
    Array.from({ length: n }, (_, i) => ({ tenant: `t${i}`, namespace: `tcp-t${i}`, url: `http://t${i}/readyz` }));
  const rig = (targets: () => ProbeTarget[], answer: (t: string) => ProbeResult["outcome"]) =>
    new ProbeSignals({
      intervalMs: 1000,
      timeoutMs: 1000,
      targets,
      logger,
      onUpdate: () => undefined,
      probe: (url) => {
        const tenant = /http:\/\/(\w+)\//.exec(url)?.[1] ?? "";
        return Promise.resolve({ outcome: answer(tenant), durationMs: 1, message: `answer for ${tenant}` });
      },
    });

  it("counts the failed probes within the window, timed at the latest probe", async () => {
    const failing = new Set(["t1"]);
    const s = rig(
      () => tenants(4),
      (t) => (failing.has(t) ? "http-status" : "ok"),
    );
    for (let i = 0; i < 3; i++) await s.round();
    const now = Date.now();
    expect(s.failuresWithin("t1", 60_000, now)?.value).toBe(3);
    expect(s.failuresWithin("t0", 60_000, now)?.value).toBe(0);
    // Results older than the window do not count.
    expect(s.failuresWithin("t1", 0, now + 1)?.value).toBe(0);
    expect(s.failuresWithin("never-probed", 60_000, now)).toBeUndefined();
    expect(s.suspectReason).toBeUndefined();
  });

  it("leaves the signal missing, never failed, when the tenant cannot be reached", async () => {
    const s = rig(
      () => tenants(1),
      () => "unreachable",
    );
    await s.round();
    expect(s.failuresWithin("t0", 60_000, Date.now())).toBeUndefined();
  });

  it("does not count a round in which most tenants fail at once", async () => {
    let allDown = false;
    const s = rig(
      () => tenants(6),
      (t) => (allDown || t === "t0" ? "timeout" : "ok"),
    );
    await s.round();
    expect(s.failuresWithin("t0", 60_000, Date.now())?.value).toBe(1);
    allDown = true;
    await s.round();
    expect(s.suspectReason).toMatch(/6 of 6 tenants failed/);
    // The uncounted round makes every signal missing rather than a failure.
    for (const t of tenants(6)) expect(s.failuresWithin(t.tenant, 60_000, Date.now())).toBeUndefined();
    allDown = false;
    await s.round();
    expect(s.suspectReason).toBeUndefined();
    expect(s.failuresWithin("t0", 60_000, Date.now())?.value).toBe(2);
    expect(s.failuresWithin("t1", 60_000, Date.now())?.value).toBe(0);
  });

  it("forgets tenants that are no longer probed", async () => {
    let n = 3;
    const s = rig(
      () => tenants(n),
      () => "ok",
    );
    await s.round();
    n = 1;
    await s.round();
    expect(s.latest("t2")).toBeUndefined();
    expect(s.latest("t0")?.outcome).toBe("ok");
  });
});

describe("checkProbeUrl", () => {
  const policy = { namespace: "tcp-acme", endpoint: "https://kube-apiserver.tcp-acme.svc:6443" };
  it.each([
    ["https://kube-apiserver.tcp-acme.svc:6443/readyz", undefined],
    ["https://other-svc.tcp-acme.svc.cluster.local/readyz", undefined],
    ["https://KUBE-APISERVER.TCP-ACME.SVC.:6443/readyz", undefined],
    ["http://kube-apiserver.tcp-acme.svc:6443/readyz", /https only/],
    ["file:///etc/passwd", /https only/],
    ["gopher://x/", /https only/],
    ["https://user:pw@kube-apiserver.tcp-acme.svc/readyz", /credentials/],
    ["https://kube-apiserver.tcp-other.svc:6443/readyz", /neither a Service in namespace tcp-acme/],
    ["https://kube-apiserver.tcp-acme.svc.evil.example/readyz", /neither/],
    ["https://169.254.169.254/latest/meta-data", /neither/],
    ["https://127.0.0.1:8080/metrics", /neither/],
    ["https://[::1]/", /neither/],
    ["https://kubernetes.default.svc/api", /neither/],
    ["not a url", /not a URL/],
  ])("%s", (url, want) => {
    const got = checkProbeUrl(url, policy);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(want);
  });

  it("allows the host of status.endpoint, and hosts on the allow-list", () => {
    const p = {
      namespace: "tcp-acme",
      endpoint: "https://10.0.0.7:6443",
      allowedHosts: ["lb.example.com", "*.edge.example"],
    };
    expect(checkProbeUrl("https://10.0.0.7:6443/readyz", p)).toBeUndefined();
    expect(checkProbeUrl("https://lb.example.com/readyz", p)).toBeUndefined();
    expect(checkProbeUrl("https://acme.edge.example/readyz", p)).toBeUndefined();
    expect(checkProbeUrl("https://edge.example/readyz", p)).toMatch(/neither/);
    expect(checkProbeUrl("https://lb.example.com.evil/readyz", p)).toMatch(/neither/);
    expect(checkProbeUrl("http://lb.example.com/readyz", p)).toMatch(/https only/);
    // An endpoint that is not https allows nothing.
    expect(checkProbeUrl("https://10.0.0.8/readyz", { namespace: "x", endpoint: "http://10.0.0.8" })).toMatch(
      /neither/,
    );
  });

  it("matches allow-list entries exactly or by suffix", () => {
    expect(hostAllowed("a.b.example", "*.example")).toBe(true);
    expect(hostAllowed("example", "*.example")).toBe(false);
    expect(hostAllowed("badexample", "*.example")).toBe(false);
    expect(hostAllowed("127.0.0.1", "127.0.0.1")).toBe(true);
    expect(hostAllowed("127.0.0.10", "127.0.0.1")).toBe(false);
    expect(hostAllowed("x", " ")).toBe(false);
  });
});
