// The meta-cluster's state on disk: where it lives (state.json, logs, pki under $METACLUSTER_DIR), its components,
// the ports and pids it runs with, and small file helpers the other metacluster-*.ts modules share.
import path from "node:path";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type RealNodeServices } from "./realnode-services.js";
import { type RealNode } from "./realnodes.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const binDir = path.join(repoRoot, ".cache/bin");
/** Where the meta-cluster keeps state, logs and data: $METACLUSTER_DIR, so that two can run side by side. */
export const defaultDir = process.env.METACLUSTER_DIR
  ? path.resolve(process.env.METACLUSTER_DIR)
  : path.join(repoRoot, ".cache/metacluster");

export const componentNames = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "prometheus",
] as const;
export type ComponentName = (typeof componentNames)[number];

export interface MetaclusterOptions {
  dir?: string;
  /** Fake nodes that kwok manages. */
  nodes?: number;
  /** Extra static scrape targets (host:port) for Prometheus. */
  prometheusTargets?: string[];
  scrapeInterval?: string;
  /** Lowers the apiserver's inflight limits (and switches off APF so they apply), for 429 tests. */
  maxRequestsInflight?: number;
  /**
   * Real nodes (containerd + kubelet) beside the kwok nodes, labelled and tainted metapilot.io/node-kind=real.
   * Undefined keeps a running cluster's count (a new cluster has none).
   */
  realNodes?: number;
  log?: (line: string) => void;
}

export interface MetaclusterState {
  dir: string;
  kubeconfig: string;
  prometheusUrl: string;
  apiserverUrl: string;
  auditLog: string;
  nodes: number;
  scrapeInterval: string;
  maxRequestsInflight?: number;
  ports: Record<ComponentName | "etcdPeer", number>;
  pids: Partial<Record<ComponentName, number>>;
  pki: Record<string, string>;
  /** Real nodes, in order of their ordinal (metacluster-real-<ordinal>). */
  realNodes?: RealNode[];
  /** kube-proxy and CoreDNS for the real nodes' pods, while there are real nodes. */
  realNodeServices?: RealNodeServices;
}

const statePath = (dir: string) => path.join(dir, "state.json");

export function readState(dir = defaultDir): MetaclusterState | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), "utf8")) as MetaclusterState;
  } catch {
    return undefined;
  }
}

export function writeState(state: MetaclusterState): void {
  writeFileSync(statePath(state.dir), JSON.stringify(state, null, 2));
}

/**
 * Changes state.json by `change` alone, read fresh from the file, and makes the same change to the caller's copy.
 * Other writers (a RealTenant that added a node through its own copy of the state, a test that restarted a
 * component) keep what they wrote: writing the caller's whole copy would put back its older realNodes, pids and
 * services. Without a state.json yet, the caller's copy is written.
 */
export function updateState(state: MetaclusterState, change: (s: MetaclusterState) => void): void {
  change(state);
  const current = readState(state.dir);
  if (!current) return writeState(state);
  change(current);
  writeState(current);
}

/**
 * Takes the pids from state.json: a test holds a copy of the state from the start of the run, and another test may
 * have restarted a component since. Acting on a stale pid would leave the running process alone.
 */
export function refreshPids(state: MetaclusterState): void {
  const current = readState(state.dir);
  if (current) state.pids = current.pids;
}

export function binaryOf(name: ComponentName): string {
  return name;
}

/** Writes `content` unless the file has it already; true when it wrote. */
export function writeIfChanged(file: string, content: string, mode?: number): boolean {
  if (existsSync(file) && readFileSync(file, "utf8") === content) return false;
  writeFileSync(file, content, { mode });
  return true;
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
