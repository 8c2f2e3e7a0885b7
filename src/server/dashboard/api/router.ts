// The dashboard's read-only JSON API: mounts each resource's routes under /api/ and lists them at /api. A bad
// period or filter is the caller's mistake (400); an unknown path is 404.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiDeps } from "./deps.js";
import { BadRequest, sendJson, type ApiRoute } from "./http.js";
import { tenantListRoute, tenantRoute } from "./tenants.js";
import { fleetRoute } from "./fleet.js";
import { decisionListRoute, decisionRoute } from "./decisions.js";
import { nodePoolsRoute } from "./nodepools.js";
import { nodeDrainsRoute } from "./nodedrains.js";
import { reportRoute } from "./report.js";
import { whatIfListRoute, whatIfRoute } from "./whatif.js";

/** Every endpoint, in the order /api lists them. */
export const apiRoutes: readonly ApiRoute[] = [
  tenantListRoute,
  fleetRoute,
  tenantRoute,
  decisionListRoute,
  decisionRoute,
  nodePoolsRoute,
  nodeDrainsRoute,
  reportRoute,
  whatIfListRoute,
  whatIfRoute,
];

interface MountedRoute {
  route: ApiRoute;
  pattern: RegExp;
  paramNames: string[];
}

/** A route's path as a pattern: each {name} matches one non-empty path segment. */
function mount(route: ApiRoute): MountedRoute {
  const paramNames: string[] = [];
  const source = route.path
    .split(/(\{\w+\})/)
    .map((part) => {
      const param = /^\{(\w+)\}$/.exec(part);
      if (!param) return part.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      paramNames.push(param[1] ?? "");
      return "([^/]+)";
    })
    .join("");
  return { route, pattern: new RegExp(`^${source}$`), paramNames };
}

/** Answers /api/...: `url.pathname` starts with /api/. */
export function apiHandler(routes: readonly ApiRoute[] = apiRoutes) {
  const mounted = routes.map(mount);
  const endpoints = routes.map((route) => route.path + (route.query ?? ""));
  return async (deps: ApiDeps, _req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.replace(/\/+$/, "");
    try {
      if (path === "/api") return sendJson(res, 200, { endpoints });
      for (const { route, pattern, paramNames } of mounted) {
        const match = pattern.exec(path);
        if (!match) continue;
        const params = Object.fromEntries(paramNames.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]));
        return await route.handle(deps, { params, query: url.searchParams }, res);
      }
      return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
    } catch (err) {
      // Bad periods and filters come back from the parsers as plain Errors; those are the caller's mistake.
      if (err instanceof BadRequest || (err instanceof Error && /since|until|duration|RFC 3339/.test(err.message)))
        return sendJson(res, 400, { error: err.message });
      throw err;
    }
  };
}

export const handleApi = apiHandler();
