// Reads the meta-cluster apiserver's audit log: the ground truth for "who wrote what, when" in tests.
import { existsSync, readFileSync } from "node:fs";
import type { MetaclusterState } from "../../hack/lib/metacluster.js";

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export const writeVerbs = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** Completed requests from the audit log, optionally only those received at or after `since`. */
export function readAudit(state: MetaclusterState, since?: Date): AuditEvent[] {
  const files = [state.auditLog].filter((f) => existsSync(f));
  const out: AuditEvent[] = [];
  const sinceMs = since?.getTime() ?? 0;
  for (const file of files) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line) continue;
      const e = JSON.parse(line) as AuditEvent;
      if (e.stage !== "ResponseComplete") continue;
      if (Date.parse(e.requestReceivedTimestamp) < sinceMs) continue;
      out.push(e);
    }
  }
  return out.sort((a, b) => Date.parse(a.stageTimestamp) - Date.parse(b.stageTimestamp));
}

export function isWrite(e: AuditEvent): boolean {
  return writeVerbs.has(e.verb);
}
