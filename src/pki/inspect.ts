// Synchronous checks over PEM material, through node:crypto's X509Certificate (OpenSSL underneath). Reconcile
// planning is a pure, synchronous function; these are the questions it asks about what already exists.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

export interface SubjectFields {
  commonName: string;
  organizations: string[];
  organizationalUnits: string[];
}

/** True when `pem` names `caPem` as its issuer and carries a valid signature by the CA's key. */
export function verifyIssuedBy(pem: string, caPem: string): boolean {
  try {
    const certificate = new X509Certificate(pem);
    const ca = new X509Certificate(caPem);
    return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesCertificate(certificatePem: string, privateKeyPem: string): boolean {
  try {
    return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    return false;
  }
}

/** True when the private key belongs to the public key (both PEM). */
export function keyMatchesPublicKey(publicKeyPem: string, privateKeyPem: string): boolean {
  try {
    const derived = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" });
    const given = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
    return derived.equals(given);
  } catch {
    return false;
  }
}

/**
 * One spelling per address, so SAN lists compare as sets: IPv4 as-is, IPv6 compressed and lower case (OpenSSL
 * and @peculiar/x509 print IPv6 SANs expanded). Throws on a string that is not an IP address.
 */
export function normalizeIp(ip: string): string {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family === 6) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  throw new Error(`not an IP address: ${ip}`);
}

export interface CertificateDetails extends SubjectFields {
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  /** Lower case, as written in the certificate. */
  dnsNames: string[];
  /** Normalized with `normalizeIp`. */
  ipAddresses: string[];
  serverAuth: boolean;
  clientAuth: boolean;
}

/** Everything reconcile planning compares, read in one parse. Throws on a PEM that is not a certificate. */
export function certificateDetails(pem: string): CertificateDetails {
  const certificate = new x509.X509Certificate(pem);
  const names = certificate.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  const usages = (certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  const name = certificate.subjectName;
  return {
    commonName: name.getField("CN")[0] ?? "",
    organizations: name.getField("O"),
    organizationalUnits: name.getField("OU"),
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    isCA: certificate.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value.toLowerCase()),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => normalizeIp(n.value)),
    serverAuth: usages.includes(x509.ExtendedKeyUsage.serverAuth),
    clientAuth: usages.includes(x509.ExtendedKeyUsage.clientAuth),
  };
}
