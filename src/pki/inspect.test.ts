import { beforeAll, describe, expect, it } from "vitest";
import {
  createCertificateAuthority,
  createSigningKeyPair,
  issueCertificate,
  type CertificateAuthority,
} from "./certificates.js";
import {
  certificateDetails,
  keyMatchesCertificate,
  keyMatchesPublicKey,
  normalizeIp,
  verifyIssuedBy,
} from "./inspect.js";

const now = new Date("2025-03-01T00:00:00Z");
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([
    createCertificateAuthority("test-ca", 10, now, { organizationalUnits: ["ca-generation-3"] }),
    createCertificateAuthority("test-ca", 10, now),
  ]);
});

describe("normalizeIp", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["[::1]", "::1"],
  ])("%s -> %s", (input, output) => expect(normalizeIp(input)).toBe(output));

  it("throws on a name", () => expect(() => normalizeIp("example.com")).toThrow(/not an IP/));
});

describe("certificate checks", () => {
  it("reads subject, SANs, usages and CA-ness", async () => {
    const leaf = await issueCertificate(ca, {
      commonName: "svc",
      organizations: ["g1", "g2"],
      dnsNames: ["Svc.Example"],
      ipAddresses: ["2001:db8::1"],
      usage: "server-and-client",
      validityDays: 1,
      now,
    });
    expect(certificateDetails(leaf.certificatePem)).toMatchObject({
      commonName: "svc",
      organizations: ["g1", "g2"],
      organizationalUnits: [],
      isCA: false,
      dnsNames: ["svc.example"],
      ipAddresses: ["2001:db8::1"],
      serverAuth: true,
      clientAuth: true,
      notAfter: new Date("2025-03-02T00:00:00Z"),
    });
    expect(certificateDetails(ca.certificatePem)).toMatchObject({
      isCA: true,
      organizationalUnits: ["ca-generation-3"],
    });
  });

  it("tells the signing CA from another with the same name", async () => {
    const leaf = await issueCertificate(ca, { commonName: "c", usage: "client", validityDays: 1, now });
    expect(verifyIssuedBy(leaf.certificatePem, ca.certificatePem)).toBe(true);
    expect(verifyIssuedBy(leaf.certificatePem, otherCa.certificatePem)).toBe(false);
    expect(verifyIssuedBy("garbage", ca.certificatePem)).toBe(false);
  });

  it("matches keys to certificates and public keys", async () => {
    const leaf = await issueCertificate(ca, { commonName: "c", usage: "client", validityDays: 1, now });
    expect(keyMatchesCertificate(leaf.certificatePem, leaf.privateKeyPem)).toBe(true);
    expect(keyMatchesCertificate(leaf.certificatePem, ca.privateKeyPem)).toBe(false);
    const [a, b] = await Promise.all([createSigningKeyPair(), createSigningKeyPair()]);
    expect(keyMatchesPublicKey(a.publicKeyPem, a.privateKeyPem)).toBe(true);
    expect(keyMatchesPublicKey(a.publicKeyPem, b.privateKeyPem)).toBe(false);
    expect(keyMatchesPublicKey("nope", a.privateKeyPem)).toBe(false);
  });
});
