// Requests to the meta-cluster as its admin: a plain GET for health and metrics, and the set-up calls that retry
// what a settling apiserver answers with.
import path from "node:path";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { type MetaclusterState } from "./metacluster-state.js";

interface TlsClient {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function adminTls(state: MetaclusterState): TlsClient {
  const read = (f: string) => readFileSync(path.join(state.dir, "pki", f));
  return { ca: read("ca.crt"), cert: read("admin.crt"), key: read("admin.key") };
}

/** GET a URL on the meta-cluster and return status and body; https uses the admin certificate. */
export function getUrl(
  state: MetaclusterState,
  url: string,
  timeoutMs = 2000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const opts = { method: "GET", timeout: timeoutMs, ...(target.protocol === "https:" ? adminTls(state) : {}) };
    const req = (target.protocol === "https:" ? httpsRequest : httpRequest)(target, opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * One request as the cluster admin. Set-up is not a client under test: a 429, a 5xx or a transport error (an
 * apiserver that has just become ready and is still settling) is retried a few times, and no request may hang.
 */
export async function adminCall(
  state: MetaclusterState,
  method: string,
  apiPath: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  for (let attempt = 1; ; attempt++) {
    const res = await adminCallOnce(state, method, apiPath, body).catch((err: unknown) => err as Error);
    const retryable = res instanceof Error || res.status === 429 || res.status >= 500;
    if (!retryable || attempt >= 5) {
      if (res instanceof Error) throw res;
      return res;
    }
    await sleep(500 * attempt);
  }
}

function adminCallOnce(
  state: MetaclusterState,
  method: string,
  apiPath: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const tls = adminTls(state);
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpsRequest(
      `${state.apiserverUrl}${apiPath}`,
      { method, ...tls, headers: { "content-type": "application/json", "user-agent": "metacluster-up" } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${apiPath}: no answer in 30 s`)));
    req.on("error", reject);
    req.end(data);
  });
}
