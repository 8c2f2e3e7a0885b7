import { parseQuantity } from "../api/index.js";

/** Cores → a CPU quantity in whole millicores, rounded up so a bump never rounds to nothing. */
export function formatCpu(cores: number): string {
  return `${Math.max(1, Math.ceil(cores * 1000 - 1e-9))}m`;
}

/** Bytes → a memory quantity in whole MiB, rounded up. */
export function formatMemory(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / 2 ** 20 - 1e-9))}Mi`;
}

export function cores(q: string | undefined): number | undefined {
  return q === undefined ? undefined : parseQuantity(q);
}

export function bytes(q: string | undefined): number | undefined {
  return q === undefined ? undefined : parseQuantity(q);
}

export const MiB = 2 ** 20;
