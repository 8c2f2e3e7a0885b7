import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * Loads credentials as kubectl does, with the in-cluster service account before ~/.kube/config: --kubeconfig, else
 * $KUBECONFIG (a list of files is merged), else the pod's service account, else ~/.kube/config. What cannot be
 * used fails with one line that names the flag or variable and the way out.
 */
export function loadKubeConfig(
  opts: { kubeconfig?: string; context?: string },
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  let from: string;
  if (opts.kubeconfig) {
    if (!existsSync(opts.kubeconfig))
      throw new Error(`--kubeconfig ${opts.kubeconfig}: no such file; pass the path of a kubeconfig file`);
    load(kc, () => kc.loadFromFile(opts.kubeconfig!), `--kubeconfig ${opts.kubeconfig}`);
    from = opts.kubeconfig;
  } else if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(path.delimiter).filter(Boolean);
    if (!files.some((f) => existsSync(f)))
      throw new Error(
        `KUBECONFIG=${env.KUBECONFIG}: no such file; set KUBECONFIG to a kubeconfig file, or pass --kubeconfig`,
      );
    load(kc, () => kc.loadFromDefault(), `KUBECONFIG=${env.KUBECONFIG}`);
    from = `KUBECONFIG=${env.KUBECONFIG}`;
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
    from = "the in-cluster service account";
  } else {
    kc.loadFromDefault();
    from = "~/.kube/config";
  }
  if (opts.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(opts.context))
      throw new Error(
        `--context ${opts.context}: no such context in ${from}; ` +
          (names.length ? `pass one of: ${names.join(", ")}` : "it has no contexts"),
      );
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster())
    throw new Error(`no Kubernetes cluster configured in ${from}: pass --kubeconfig, set KUBECONFIG or pass --context`);
  return kc;
}

function load(kc: KubeConfig, fn: () => void, what: string): void {
  try {
    fn();
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    throw new Error(`${what}: not a usable kubeconfig (${message}); pass a kubeconfig file`);
  }
}
