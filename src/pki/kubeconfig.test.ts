import { describe, expect, it } from "vitest";
import { parseKubeconfig, renderKubeconfig } from "./kubeconfig.js";

describe("parseKubeconfig", () => {
  it("reads back what renderKubeconfig wrote", () => {
    const text = renderKubeconfig({
      clusterName: "acme",
      server: "https://api.acme:6443",
      caPem: "CA\n",
      userName: "admin",
      clientCertificatePem: "CERT\n",
      clientKeyPem: "KEY\n",
    });
    expect(parseKubeconfig(text)).toEqual({
      clusterName: "acme",
      userName: "admin",
      server: "https://api.acme:6443",
      caPem: "CA\n",
      clientCertificatePem: "CERT\n",
      clientKeyPem: "KEY\n",
    });
  });

  it("rejects a kubeconfig without a usable current context", () => {
    expect(() => parseKubeconfig("apiVersion: v1\nkind: Config\n")).toThrow(/current context/);
    expect(() => parseKubeconfig("just a string")).toThrow(/mapping/);
  });
});
