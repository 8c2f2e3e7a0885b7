// The fleet page: one short row per tenant (no per-container detail; that is the tenant page), a summary of the
// whole fleet, search by name or namespace, a health filter, three sorts and paging, so 1,000 tenants stay small.
import type { ApiDeps } from "./deps.js";
import { healthOrder, listTenants, type Health, type TenantView } from "./tenants.js";
import { oneOfParam, sendJson, textParam, wholeNumberParam, type ApiRoute } from "./http.js";

export type FleetSort = "tenant" | "lastDecision" | "health";
export const fleetSorts: readonly FleetSort[] = ["tenant", "lastDecision", "health"];

export interface FleetQuery {
  /** Substring of the tenant name or namespace, case-insensitive. */
  q?: string;
  sort?: FleetSort;
  /** 1-based. */
  page?: number;
  pageSize?: number;
  health?: Health;
}

/** One line of the fleet page. */
export interface FleetRow {
  name: string;
  namespace: string;
  managed: boolean;
  phase?: string;
  version?: string;
  paused: boolean;
  health: Health;
  healthReason?: string;
  components: number;
  ready: string;
  decisions: TenantView["decisions"];
}

export interface FleetPage {
  summary: {
    tenants: number;
    byHealth: Record<string, number>;
    decisionsLast24h: number;
    tenantsWithDecisionsLast24h: number;
    managed: number;
    foreign: number;
  };
  /** Tenants matching q and health, before paging. */
  matching: number;
  page: number;
  pageSize: number;
  pages: number;
  sort: FleetSort;
  tenants: FleetRow[];
}

function fleetRow(tenant: TenantView): FleetRow {
  const ready = tenant.components.filter((c) => (c.readyReplicas ?? 0) >= (c.replicas ?? 1)).length;
  return {
    name: tenant.name,
    namespace: tenant.namespace,
    managed: tenant.managed,
    phase: tenant.phase,
    version: tenant.version,
    paused: tenant.paused,
    health: tenant.health,
    healthReason: tenant.healthReason,
    components: tenant.components.length,
    ready: `${ready}/${tenant.components.length}`,
    decisions: tenant.decisions,
  };
}

export function fleetPage(deps: ApiDeps, query: FleetQuery = {}): FleetPage {
  const all = listTenants(deps);
  const byHealth: Record<string, number> = {};
  for (const tenant of all) byHealth[tenant.health] = (byHealth[tenant.health] ?? 0) + 1;
  const needle = query.q?.trim().toLowerCase();
  let matching = needle
    ? all.filter((t) => t.name.toLowerCase().includes(needle) || t.namespace.toLowerCase().includes(needle))
    : all;
  if (query.health) matching = matching.filter((t) => t.health === query.health);
  const sort = query.sort ?? "tenant";
  const byName = (a: TenantView, b: TenantView) => a.name.localeCompare(b.name);
  if (sort === "lastDecision")
    matching = [...matching].sort(
      (a, b) => (b.decisions.lastDecidedAt ?? "").localeCompare(a.decisions.lastDecidedAt ?? "") || byName(a, b),
    );
  else if (sort === "health")
    matching = [...matching].sort(
      (a, b) => healthOrder.indexOf(a.health) - healthOrder.indexOf(b.health) || byName(a, b),
    );
  const pageSize = Math.min(Math.max(query.pageSize ?? 50, 1), 500);
  const pages = Math.max(1, Math.ceil(matching.length / pageSize));
  const page = Math.min(Math.max(query.page ?? 1, 1), pages);
  return {
    summary: {
      tenants: all.length,
      byHealth,
      decisionsLast24h: all.reduce((sum, t) => sum + t.decisions.last24h, 0),
      tenantsWithDecisionsLast24h: all.filter((t) => t.decisions.last24h > 0).length,
      managed: all.filter((t) => t.managed).length,
      foreign: all.filter((t) => !t.managed).length,
    },
    matching: matching.length,
    page,
    pageSize,
    pages,
    sort,
    tenants: matching.slice((page - 1) * pageSize, page * pageSize).map(fleetRow),
  };
}

export const fleetRoute: ApiRoute = {
  path: "/api/fleet",
  query: "?q=&sort=tenant|lastDecision|health&health=&page=1&pageSize=50",
  handle: (deps, { query }, res) => {
    const sort = oneOfParam(query, "sort", fleetSorts);
    const health = oneOfParam(query, "health", healthOrder);
    return sendJson(
      res,
      200,
      fleetPage(deps, {
        q: textParam(query, "q"),
        sort,
        health,
        page: wholeNumberParam(query, "page"),
        pageSize: wholeNumberParam(query, "pageSize"),
      }),
    );
  },
};
