// X.509 through @peculiar/x509 (WebCrypto underneath), never hand-rolled ASN.1. ECDSA P-256 keys keep
// issuance fast (a full tenant PKI is a few milliseconds) and every Kubernetes component accepts them.
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// @peculiar/x509 is typed against the DOM's Crypto; Node's webcrypto implements the same interface.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const keyAlgorithm: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const day = 24 * 60 * 60 * 1000;

export interface KeyPairPem {
  certificatePem: string;
  privateKeyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

export type CertificateUsage = "server" | "client" | "server-and-client";

export interface IssueOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: CertificateUsage;
  validityDays: number;
  /** Clock injection for tests and renewal checks. */
  now?: Date;
}

function toPem(der: ArrayBuffer, label: string): string {
  return x509.PemConverter.encode(der, label) + "\n";
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return toPem(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function distinguishedName(
  commonName: string,
  organizations: string[] = [],
  organizationalUnits: string[] = [],
): string {
  const escape = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
  return [
    `CN=${escape(commonName)}`,
    ...organizations.map((o) => `O=${escape(o)}`),
    ...organizationalUnits.map((ou) => `OU=${escape(ou)}`),
  ].join(", ");
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  // Backdate a little so a peer with a slightly slow clock does not reject a fresh certificate.
  return { notBefore: new Date(now.getTime() - 5 * 60 * 1000), notAfter: new Date(now.getTime() + days * day) };
}

export interface CertificateAuthorityOptions {
  /** Extra subject attributes; they make two CAs with the same common name tell apart (e.g. a rotation marker). */
  organizationalUnits?: string[];
}

export async function createCertificateAuthority(
  commonName: string,
  validityDays: number,
  now: Date = new Date(),
  options: CertificateAuthorityOptions = {},
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: distinguishedName(commonName, [], options.organizationalUnits),
    keys,
    signingAlgorithm: keyAlgorithm,
    ...validity(now, validityDays),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificate,
    privateKey: keys.privateKey,
    certificatePem: toPem(certificate.rawData, "CERTIFICATE"),
    privateKeyPem: await privateKeyToPem(keys.privateKey),
  };
}

export async function loadCertificateAuthority(pair: KeyPairPem): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(pair.certificatePem);
  const der = x509.PemConverter.decodeFirst(pair.privateKeyPem);
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, keyAlgorithm, true, ["sign"]);
  return { ...pair, certificate, privateKey };
}

export async function issueCertificate(ca: CertificateAuthority, options: IssueOptions): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const usages: string[] = [];
  if (options.usage !== "client") usages.push(x509.ExtendedKeyUsage.serverAuth);
  if (options.usage !== "server") usages.push(x509.ExtendedKeyUsage.clientAuth);
  const altNames: x509.JsonGeneralName[] = [
    ...(options.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const certificate = await x509.X509CertificateGenerator.create({
    subject: distinguishedName(options.commonName, options.organizations),
    issuer: ca.certificate.subject,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: keyAlgorithm,
    ...validity(options.now ?? new Date(), options.validityDays),
    extensions,
  });
  return {
    certificatePem: toPem(certificate.rawData, "CERTIFICATE"),
    privateKeyPem: await privateKeyToPem(keys.privateKey),
  };
}

/** A bare key pair, as the service-account token signer needs. */
export async function createSigningKeyPair(): Promise<{ publicKeyPem: string; privateKeyPem: string }> {
  const keys = await generateKeys();
  return {
    publicKeyPem: toPem(await webcrypto.subtle.exportKey("spki", keys.publicKey), "PUBLIC KEY"),
    privateKeyPem: await privateKeyToPem(keys.privateKey),
  };
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

export function describeCertificate(pem: string): CertificateSummary {
  const certificate = new x509.X509Certificate(pem);
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
  };
}

/** True when the certificate expires within `renewBeforeDays` of `now`, or is already expired. */
export function needsRenewal(pem: string, renewBeforeDays: number, now: Date = new Date()): boolean {
  return describeCertificate(pem).notAfter.getTime() - now.getTime() <= renewBeforeDays * day;
}

/** Verifies that `pem` was signed by `caPem`. */
export async function isSignedBy(pem: string, caPem: string): Promise<boolean> {
  const certificate = new x509.X509Certificate(pem);
  const ca = new x509.X509Certificate(caPem);
  if (certificate.issuer !== ca.subject) return false;
  return certificate.verify({ publicKey: await ca.publicKey.export(), signatureOnly: true });
}
