const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses Go-style durations ("1m30s", "15s", "3h", "500ms", "2d") into milliseconds. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (!s) throw new Error("empty duration");
  let total = 0;
  let rest = s;
  const re = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/;
  while (rest.length) {
    const m = re.exec(rest);
    if (!m?.[1] || !m[2]) throw new Error(`invalid duration "${text}": use forms like 30s, 5m, 1h30m`);
    total += Number(m[1]) * (units[m[2]] ?? 0);
    rest = rest.slice(m[0].length);
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
