// The HTTP side that every resource's routes share: a route's shape, the answers (JSON or another type, never
// cached, never sniffed) and the parsers of query parameters, whose errors are the caller's (400).
import type { ServerResponse } from "node:http";
import type { ApiDeps } from "./deps.js";

/** A request's mistake: answered 400 with its message. */
export class BadRequest extends Error {}

export interface ApiRequest {
  /** The path's {placeholders}, URI-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
}

/** One endpoint of the API; the router mounts a list of them and lists them under /api. */
export interface ApiRoute {
  /** The path, with {name} for one path segment: "/api/tenants/{name}". */
  path: string;
  /** The query parameters it takes, as the /api index shows them: "?since=24h&until=". */
  query?: string;
  handle(deps: ApiDeps, request: ApiRequest, res: ServerResponse): void | Promise<void>;
}

export function send(res: ServerResponse, status: number, body: string, type: string): void {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.setHeader("cache-control", "no-store");
  res.setHeader("x-content-type-options", "nosniff");
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), "application/json; charset=utf-8");
}

/** A parameter's text, or undefined when it is absent or empty. */
export function textParam(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) || undefined;
}

export function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new BadRequest(`${name} must be true or false`);
}

export function wholeNumberParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === "") return undefined;
  if (!/^\d+$/.test(value)) throw new BadRequest(`${name} must be a whole number`);
  return Number(value);
}

/** A parameter that must be one of `allowed`, or undefined when it is absent or empty. */
export function oneOfParam<T extends string>(
  query: URLSearchParams,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const value = textParam(query, name);
  if (value !== undefined && !allowed.includes(value as T))
    throw new BadRequest(`${name} must be one of ${allowed.join(", ")}`);
  return value as T | undefined;
}
