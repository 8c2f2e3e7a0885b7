// A raw HTTPS request to the meta-cluster's apiserver. The CRD tests send the generated YAML byte for byte:
// client-node's typed API classes re-serialize bodies through their models, which is not the point of the test.
import type * as k8s from "@kubernetes/client-node";
import { request, type RequestOptions } from "node:https";

export interface RawResponse {
  status: number;
  body: string;
}

export async function rawRequest(
  kc: k8s.KubeConfig,
  method: string,
  path: string,
  body?: string,
  contentType = "application/json",
): Promise<RawResponse> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(path, cluster.server);
  const opts: RequestOptions = {
    method,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname + url.search,
    headers: { accept: "application/json", ...(body !== undefined ? { "content-type": contentType } : {}) },
  };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Server-side apply of a YAML or JSON document. */
export async function serverSideApply(kc: k8s.KubeConfig, path: string, document: string, dryRun = false) {
  const query = `fieldManager=metapilot-tests&force=true${dryRun ? "&dryRun=All" : ""}`;
  return rawRequest(kc, "PATCH", `${path}?${query}`, document, "application/apply-patch+yaml");
}
