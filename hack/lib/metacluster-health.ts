// Health of the meta-cluster's processes: each component's health URL, waiting for one to come up (or to exit),
// and the status that `hack/metacluster status` prints.
import path from "node:path";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { getUrl } from "./metacluster-client.js";
import { type ComponentName, type MetaclusterState, binaryOf, componentNames, tail } from "./metacluster-state.js";
import { isProcess } from "./realnodes.js";

function healthUrl(state: MetaclusterState, name: ComponentName): string {
  const ports = state.ports;
  switch (name) {
    case "etcd":
      return `http://127.0.0.1:${ports.etcd}/health`;
    case "kube-apiserver":
      return `https://127.0.0.1:${ports["kube-apiserver"]}/readyz`;
    case "kube-controller-manager":
      return `https://127.0.0.1:${ports["kube-controller-manager"]}/healthz`;
    case "kube-scheduler":
      return `https://127.0.0.1:${ports["kube-scheduler"]}/healthz`;
    case "kwok":
      return `http://127.0.0.1:${ports.kwok}/healthz`;
    case "prometheus":
      return `http://127.0.0.1:${ports.prometheus}/-/ready`;
  }
}

export async function isHealthy(state: MetaclusterState, name: ComponentName): Promise<boolean> {
  try {
    // kcm and the scheduler serve a self-signed certificate; the probe only cares that they answer.
    if (name === "kube-controller-manager" || name === "kube-scheduler") {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(healthUrl(state, name), { rejectUnauthorized: false, timeout: 2000 }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
      });
      return status === 200;
    }
    return (await getUrl(state, healthUrl(state, name))).status === 200;
  } catch {
    return false;
  }
}

export async function waitHealthy(state: MetaclusterState, name: ComponentName, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const logFile = path.join(state.dir, "logs", `${name}.log`);
  while (Date.now() < deadline) {
    if (await isHealthy(state, name)) return;
    if (!isProcess(state.pids[name], binaryOf(name))) {
      throw new Error(`${name} exited while starting; see ${logFile}:\n${tail(logFile)}`);
    }
    await sleep(250);
  }
  throw new Error(`${name} did not become healthy within ${timeoutMs / 1000}s; see ${logFile}:\n${tail(logFile)}`);
}

export async function allHealthy(state: MetaclusterState): Promise<boolean> {
  for (const name of componentNames) {
    if (!isProcess(state.pids[name], binaryOf(name)) || !(await isHealthy(state, name))) return false;
  }
  return true;
}

export async function statusOf(state: MetaclusterState): Promise<Record<ComponentName, string>> {
  const out = {} as Record<ComponentName, string>;
  for (const name of componentNames) {
    const pid = state.pids[name];
    if (!isProcess(pid, binaryOf(name))) out[name] = "stopped";
    else out[name] = (await isHealthy(state, name)) ? `running (pid ${pid})` : `unhealthy (pid ${pid})`;
  }
  return out;
}

export async function waitUrlOk(
  state: MetaclusterState,
  url: string,
  pid: number | undefined,
  binary: string,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await getUrl(state, url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (!isProcess(pid, binary)) throw new Error(`${binary} exited while starting; see ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline)
      throw new Error(`${binary} did not answer ${url} within 120s; see ${logFile}:\n${tail(logFile)}`);
    await sleep(500);
  }
}
