import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";

/**
 * Loads credentials as kubectl does, with the in-cluster service account before ~/.kube/config: --kubeconfig, else
 * $KUBECONFIG (a list of files is merged), else the pod's service account, else ~/.kube/config.
 */
export function loadKubeConfig(
  opts: { kubeconfig?: string; context?: string },
  env: NodeJS.ProcessEnv = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (env.KUBECONFIG) kc.loadFromDefault();
  else if (env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster configured: pass --kubeconfig or set KUBECONFIG");
  return kc;
}
