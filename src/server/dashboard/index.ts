// The web dashboard and its JSON API, mounted on the controller's HTTP server under /ui/ and /api/. Read-only
// (the server answers 405 to every method but GET and HEAD), off unless `--dashboard` is given, and behind a bearer
// token when `--dashboard-auth-token-file` is set. Data comes from the manager's shared informer caches; the chart
// library is chart.js's UMD build, served from node_modules (no CDN).
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Manager } from "../../kube/manager.js";
import { Resources, type KubeObject } from "../../kube/resources.js";
import { PrometheusClient, type PrometheusOptions } from "../../prometheus/client.js";
import type { Route } from "../../kube/health.js";
import type {
  ApiDeps,
  DashboardCaches,
  DecisionObject,
  NodeDrainObject,
  NodePoolObject,
  ProfileObject,
  TenantObject,
  WorkloadObject,
} from "./api/deps.js";
import { handleApi } from "./api/router.js";
import { TokenAuth } from "./auth.js";
import { contractScript } from "./contract.js";
import { chartJsFile } from "./report.js";
import { tenantLabel } from "../../api/labels.js";

export interface DashboardOptions {
  /** Watch only this namespace for namespaced kinds, as the controllers do. */
  namespace?: string;
  prometheus?: PrometheusOptions;
  rateWindow?: string;
  /** A file holding the bearer token; when set, every /ui and /api request needs it. */
  authTokenFile?: string;
  /** Whether an ops center receives decision reports (--ops-center-url); the dashboard shows delivery only then. */
  opsCenter?: boolean;
  /**
   * The address the HTTP server listens on (--metrics-address). Without a token the dashboard is served only on a
   * loopback address, where nobody but this host can reach it.
   */
  listenAddress?: string;
}

/** True for 127.0.0.0/8, ::1 and localhost, given as "host:port", "[::1]:port" or a bare host. */
export function isLoopbackAddress(address: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  const host = bracketed
    ? bracketed[1]!
    : address.includes(":") && address.split(":").length === 2
      ? address.split(":")[0]!
      : address;
  if (host === "localhost" || host === "::1") return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return v4 !== null && v4.slice(1).every((o) => Number(o) <= 255);
}

/** The informers the dashboard reads; the same keys as the controllers', so the caches are shared, not doubled. */
export function dashboardCaches(manager: Manager, namespace?: string): DashboardCaches {
  const tenantScoped = <T extends WorkloadObject | DecisionObject>(
    resource: typeof Resources.Deployment | typeof Resources.StatefulSet | typeof Resources.ScalingDecision,
  ) => manager.informer<T>({ resource, namespace, labelSelector: tenantLabel });
  return {
    tenants: manager.informer<TenantObject>({ resource: Resources.TenantControlPlane }),
    deployments: tenantScoped<WorkloadObject>(Resources.Deployment),
    statefulSets: tenantScoped<WorkloadObject>(Resources.StatefulSet),
    decisions: tenantScoped<DecisionObject>(Resources.ScalingDecision),
    profiles: manager.informer<ProfileObject>({ resource: Resources.WorkloadProfile, namespace }),
    nodePools: manager.informer<NodePoolObject>({ resource: Resources.NodePool }),
    nodeDrains: manager.informer<NodeDrainObject>({ resource: Resources.NodeDrain }),
    clusterScalers: manager.informer<KubeObject>({ resource: Resources.ClusterScaler }),
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The UI's files: beside this module when run from source, under src/ when run from the compiled dist/. */
export function uiDirectory(): string {
  const candidates = [path.join(here, "ui"), path.resolve(here, "../../../../src/server/dashboard/ui")];
  const found = candidates.find((d) => existsSync(path.join(d, "index.html")));
  if (!found) throw new Error(`dashboard UI files not found in ${candidates.join(" or ")}`);
  return found;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

const csp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export class StaticFiles {
  private readonly files = new Map<string, { body: Buffer; type: string }>();

  constructor(dir = uiDirectory(), chartJs = chartJsFile()) {
    for (const name of ["index.html", "app.js", "charts.js", "style.css"]) {
      this.files.set(`/ui/${name}`, {
        body: readFileSync(path.join(dir, name)),
        type: contentTypes[path.extname(name)] ?? "application/octet-stream",
      });
    }
    this.files.set("/ui/contract.js", { body: Buffer.from(contractScript()), type: contentTypes[".js"] ?? "" });
    this.files.set("/ui/vendor/chart.umd.min.js", { body: readFileSync(chartJs), type: contentTypes[".js"] ?? "" });
  }

  serve(res: ServerResponse, url: URL): void {
    if (url.pathname === "/ui") {
      res.statusCode = 308;
      res.setHeader("location", "/ui/");
      res.end();
      return;
    }
    const file = this.files.get(url.pathname === "/ui/" ? "/ui/index.html" : url.pathname);
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    if (!file) {
      res.statusCode = 404;
      res.setHeader("content-type", "text/plain; charset=utf-8");
      res.end("not found\n");
      return;
    }
    res.statusCode = 200;
    res.setHeader("content-type", file.type);
    res.setHeader("content-security-policy", csp);
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("cache-control", "no-cache");
    res.end(file.body);
  }
}

export interface Dashboard {
  caches: DashboardCaches;
  /** Handles /ui and /api/ (auth first). */
  handler: Route;
  deps: ApiDeps;
}

export function createDashboardHandler(deps: ApiDeps, opts: { token?: string; files?: StaticFiles } = {}): Route {
  const auth = opts.token !== undefined ? new TokenAuth(opts.token) : undefined;
  const files = opts.files ?? new StaticFiles();
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (url.pathname !== "/ui" && !url.pathname.startsWith("/ui/") && !url.pathname.startsWith("/api/")) {
      res.statusCode = 404;
      res.end("not found\n");
      return;
    }
    if (auth && !auth.check(req, res, url)) return;
    if (url.pathname.startsWith("/api/")) return handleApi(deps, req, res, url);
    files.serve(res, url);
  };
}

export function readToken(file: string): string {
  const token = readFileSync(file, "utf8").trim();
  if (!token) throw new Error(`--dashboard-auth-token-file ${file} is empty`);
  return token;
}

/** Wires the dashboard into a manager: its caches now, its routes on the manager's HTTP server. */
export function addDashboard(manager: Manager, options: DashboardOptions = {}): Dashboard {
  if (!manager.server) throw new Error("--dashboard needs the HTTP server: set --metrics-address");
  if (!options.authTokenFile && !(options.listenAddress !== undefined && isLoopbackAddress(options.listenAddress))) {
    throw new Error(
      `--dashboard without --dashboard-auth-token-file would show every tenant's data to anyone who can reach ` +
        `--metrics-address ${options.listenAddress ?? "(unknown)"}: give a token file, or bind --metrics-address to ` +
        "127.0.0.1 and reach it with kubectl port-forward",
    );
  }
  const caches = dashboardCaches(manager, options.namespace);
  const deps: ApiDeps = {
    caches,
    series: options.prometheus
      ? new PrometheusClient({ timeoutMs: 5_000, retries: 0, ...options.prometheus })
      : undefined,
    rateWindow: options.rateWindow,
    opsCenter: options.opsCenter === true,
  };
  const handler = createDashboardHandler(deps, {
    token: options.authTokenFile ? readToken(options.authTokenFile) : undefined,
  });
  manager.server.route("/ui", handler);
  manager.server.route("/api/", handler);
  manager.logger.info(
    { auth: options.authTokenFile ? "bearer token" : "none", prometheus: options.prometheus?.url ?? "none" },
    "dashboard enabled on /ui/ and /api/",
  );
  return { caches, handler, deps };
}
