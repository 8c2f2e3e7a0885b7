import { describe, expect, it } from "vitest";
import { examples } from "../api/examples.js";
import { mustParse, type NodeDrain, type TenantControlPlane } from "../api/index.js";
import { formatKey, keyOf, parseKey, type KubeObject } from "./resources.js";

// The API types are usable wherever the kube runtime takes a KubeObject (checked by the compiler).
const parsedTcp: TenantControlPlane = mustParse("TenantControlPlane", examples().TenantControlPlane);
const parsedDrain: NodeDrain = mustParse("NodeDrain", examples().NodeDrain);
const tcp: KubeObject = parsedTcp;
const drain: KubeObject = parsedDrain;

describe("object keys", () => {
  it("names a namespaced object namespace/name and a cluster-scoped one by name", () => {
    expect(keyOf({ metadata: { namespace: "tcp-a", name: "kube-apiserver" } })).toBe("tcp-a/kube-apiserver");
    expect(keyOf(tcp)).toBe(tcp.metadata?.name);
    expect(keyOf(drain)).toBe(drain.metadata?.name);
    expect(keyOf({})).toBe("");
  });

  it("parses what it formats", () => {
    for (const key of ["tenants/a", "node-1", "ns/name/with/slashes"]) expect(formatKey(parseKey(key))).toBe(key);
    expect(parseKey("ns/a")).toEqual({ namespace: "ns", name: "a" });
  });
});
