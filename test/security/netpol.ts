// A small NetworkPolicy evaluator (ingress only, the subset metapilot generates and then some): no CNI runs on the
// meta-cluster, so isolation is proven by evaluating the real policy objects the operator wrote.
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}
export interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface NetworkPolicy {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: Array<{ from?: Peer[]; ports?: Array<{ protocol?: string; port?: number | string; endPort?: number }> }>;
  };
}
export interface Endpoint {
  namespace: string;
  namespaceLabels: Record<string, string>;
  podLabels: Record<string, string>;
  ip: string;
}

export function matches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const val = labels[e.key];
    if (e.operator === "In" && !(has && e.values?.includes(val!))) return false;
    if (e.operator === "NotIn" && has && e.values?.includes(val!)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const b = Number(bits ?? 32);
  if (b === 0) return true;
  const mask = 2 ** 32 - 2 ** (32 - b);
  return (ipToInt(ip) & mask) >>> 0 === (ipToInt(base!) & mask) >>> 0;
}

function peerMatches(peer: Peer, policyNs: string, src: Endpoint): boolean {
  if (peer.ipBlock)
    return inCidr(src.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c) => inCidr(src.ip, c));
  // podSelector alone: pods of the policy's namespace; namespaceSelector alone: every pod of matching namespaces.
  const nsOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, src.namespaceLabels)
    : src.namespace === policyNs;
  const podOk = peer.podSelector ? matches(peer.podSelector, src.podLabels) : true;
  return nsOk && podOk;
}

/** Is ingress from `src` to `dst` on `port` allowed by the policies of dst's namespace? */
export function ingressAllowed(
  policies: NetworkPolicy[],
  src: Endpoint,
  dst: Endpoint,
  port: number,
  protocol = "TCP",
): boolean {
  const selecting = policies.filter(
    (p) =>
      p.metadata?.namespace === dst.namespace &&
      (p.spec?.policyTypes ?? ["Ingress"]).includes("Ingress") &&
      matches(p.spec?.podSelector, dst.podLabels),
  );
  if (!selecting.length) return true; // not isolated
  return selecting.some((p) =>
    (p.spec?.ingress ?? []).some((rule) => {
      const portOk =
        !rule.ports?.length ||
        rule.ports.some(
          (rp) =>
            (rp.protocol ?? "TCP") === protocol &&
            (rp.port === undefined ||
              (typeof rp.port === "number" && (rp.endPort ? port >= rp.port && port <= rp.endPort : port === rp.port))),
        );
      const fromOk =
        !rule.from?.length || rule.from.some((peer) => peerMatches(peer, p.metadata?.namespace ?? "", src));
      return portOk && fromOk;
    }),
  );
}
