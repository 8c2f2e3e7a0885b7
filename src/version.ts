import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findPackageVersion(): string {
  // Works from src/ (tsx) and from dist/src/ (compiled): walk up to the package.json named metapilot.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "metapilot" && pkg.version) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "0.0.0-unknown";
}

export const version = process.env.METAPILOT_VERSION ?? findPackageVersion();
export const userAgent = `metapilot/${version} (${process.platform}/${process.arch}) node/${process.versions.node}`;
