// The controller's HTTP surface: /metrics, /healthz, /readyz, plus routes other parts register (the
// dashboard and JSON API). /readyz is ready only once every informer cache has synced.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { Logger } from "../kube/logger.js";

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

export interface HealthServerOptions {
  registry: Registry;
  logger: Logger;
  /** Each check returns undefined when fine, or a reason. */
  readinessChecks: Record<string, () => string | undefined>;
  livenessChecks?: Record<string, () => string | undefined>;
}

export class HealthServer {
  private server?: Server;
  private readonly routes = new Map<string, Route>();

  constructor(private readonly options: HealthServerOptions) {}

  /** Registers a handler for a path prefix (e.g. "/api/", "/ui/"). */
  route(prefix: string, handler: Route): void {
    this.routes.set(prefix, handler);
  }

  private check(checks: Record<string, () => string | undefined>, res: ServerResponse, verbose: boolean): void {
    const failures: string[] = [];
    const lines: string[] = [];
    for (const [name, fn] of Object.entries(checks)) {
      const problem = fn();
      if (problem) failures.push(`${name}: ${problem}`);
      lines.push(problem ? `[-]${name} failed: ${problem}` : `[+]${name} ok`);
    }
    res.statusCode = failures.length ? 503 : 200;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(verbose || failures.length ? lines.join("\n") + "\n" : "ok\n");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.statusCode = 405;
      res.end("read-only\n");
      return;
    }
    const verbose = url.searchParams.has("verbose");
    switch (url.pathname) {
      case "/metrics": {
        res.setHeader("content-type", this.options.registry.contentType);
        res.end(await this.options.registry.metrics());
        return;
      }
      case "/healthz":
      case "/livez":
        return this.check(this.options.livenessChecks ?? {}, res, verbose);
      case "/readyz":
        return this.check(this.options.readinessChecks, res, verbose);
    }
    for (const [prefix, handler] of this.routes) {
      if (url.pathname === prefix || url.pathname.startsWith(prefix)) return handler(req, res, url);
    }
    res.statusCode = 404;
    res.end("not found\n");
  }

  listen(address: string): Promise<{ host: string; port: number }> {
    const m = /^(.*):(\d+)$/.exec(address);
    const host = m?.[1] || "0.0.0.0";
    const port = Number(m?.[2] ?? 8080);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.error({ err }, "http handler failed");
        if (!res.headersSent) res.statusCode = 500;
        res.end("internal error\n");
      });
    });
    return new Promise((resolve, reject) => {
      this.server?.once("error", reject);
      this.server?.listen(port, host, () => {
        const addr = this.server?.address();
        resolve({ host, port: typeof addr === "object" && addr ? addr.port : port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
