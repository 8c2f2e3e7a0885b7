import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";

/** Loads credentials: an explicit file, else in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(opts: { kubeconfig?: string; context?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else kc.loadFromDefault();
  if (opts.context) kc.setCurrentContext(opts.context);
  if (!kc.getCurrentCluster()) throw new Error("no Kubernetes cluster configured: pass --kubeconfig or set KUBECONFIG");
  return kc;
}
