import { describe, expect, it } from "vitest";
import { deniedExtraArgs, deniedFlagNames, extraArgsRules } from "./extraargs.js";
import { parseTenantControlPlane } from "./index.js";

describe("extraArgs deny-list", () => {
  it.each([
    ["kube-apiserver", { "authorization-mode": "Node,RBAC,AlwaysAllow" }, ["authorization-mode"]],
    ["kube-apiserver", { "authorization-mode": "Node,RBAC" }, []],
    ["kube-apiserver", { "anonymous-auth": "true" }, ["anonymous-auth"]],
    ["kube-apiserver", { anonymous_auth: "1" }, ["anonymous_auth"]],
    ["kube-apiserver", { "anonymous-auth": "false" }, []],
    ["kube-apiserver", { "anonymous-auth": "0" }, []],
    ["kube-apiserver", { "insecure-port": "0" }, ["insecure-port"]],
    ["kube-apiserver", { "enable-admission-plugins": "PodSecurity" }, ["enable-admission-plugins"]],
    ["kube-apiserver", { "enable-admission-plugins": "NodeRestriction,PodSecurity" }, []],
    ["kube-apiserver", { "disable-admission-plugins": "NodeRestriction" }, ["disable-admission-plugins"]],
    ["kube-apiserver", { "requestheader-username-headers": "X-User" }, ["requestheader-username-headers"]],
    ["kube-apiserver", { "--anonymous-auth": "true" }, ["--anonymous-auth"]],
    ["kube-apiserver", { "a=b": "" }, ["a=b"]],
    ["kube-apiserver", { v: "2", "max-requests-inflight": "800", "oidc-issuer-url": "https://id.example" }, []],
    ["kube-controller-manager", { kubeconfig: "" }, ["kubeconfig"]],
    ["kube-controller-manager", { "use-service-account-credentials": "false" }, ["use-service-account-credentials"]],
    ["kube-controller-manager", { "use-service-account-credentials": "true" }, []],
    ["kube-controller-manager", { "cluster-signing-kubelet-serving-key-file": "/x" }, ["cluster-signing-"]],
    ["kube-scheduler", { config: "/etc/sched.yaml" }, ["config"]],
    ["kube-scheduler", { "authorization-always-allow-paths": "/metrics" }, ["authorization-always-allow-paths"]],
    // A flag only one component has is fine on another (it would not start, but it opens nothing).
    ["kube-scheduler", { "anonymous-auth": "true" }, []],
  ] as const)("%s %j", (component, args, want) => {
    const got = deniedExtraArgs(component, args);
    expect(got).toHaveLength(want.length);
    want.forEach((flag, i) => expect(got[i]).toContain(flag));
  });

  it("lets exactly the flags and prefixes of the escape hatch through", () => {
    const args = { "anonymous-auth": "true", "requestheader-allowed-names": "", "insecure-port": "8080" };
    expect(deniedExtraArgs("kube-apiserver", args, ["anonymous-auth", "requestheader-*"])).toEqual([
      "insecure-port (serves without authentication (legacy insecure port))",
    ]);
    // "_" reads as "-" to the components, so a key with "_" is refused whatever the hatch says.
    expect(deniedExtraArgs("kube-apiserver", { anonymous_auth: "false" }, ["anonymous-auth"])).toEqual([
      'anonymous_auth (not a flag name: no leading dashes, "=" or "_"; write "-" for "_")',
    ]);
    expect(deniedFlagNames()).toContain("requestheader-*");
  });

  it("is part of the TenantControlPlane schema, with the same message as the CRD", () => {
    const base = { apiVersion: "metapilot.io/v1alpha1", kind: "TenantControlPlane", metadata: { name: "t" } };
    const bad = parseTenantControlPlane({
      ...base,
      spec: { version: "v1.35.4", apiServer: { extraArgs: { "anonymous-auth": "true" } } },
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.errors.join("; ")).toContain("kube-apiserver extraArgs would switch security off: anonymous-auth");
    const hatch = parseTenantControlPlane({
      ...base,
      spec: {
        version: "v1.35.4",
        allowInsecureExtraArgs: ["anonymous-auth"],
        apiServer: { extraArgs: { "anonymous-auth": "true" } },
      },
    });
    expect(hatch.ok).toBe(true);
    expect(new Set(extraArgsRules.map((r) => r.fieldPath))).toEqual(
      new Set([".apiServer.extraArgs", ".controllerManager.extraArgs", ".scheduler.extraArgs"]),
    );
    // Each value rule's TypeScript mirror agrees with the key rule's on the same input.
    const spec = { apiServer: { extraArgs: { "authorization-mode": "AlwaysAllow" } } };
    expect(extraArgsRules.filter((r) => !r.check(spec)).map((r) => r.message)).toEqual([
      "kube-apiserver extraArgs would switch security off: authorization-mode (AlwaysAllow authorizes every request); a platform admin can allow a flag in spec.allowInsecureExtraArgs",
    ]);
  });
});
