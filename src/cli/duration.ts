// Durations are parsed by parseDuration in src/api/common.ts, the one parser of metapilot (Go syntax).

/** The shortest of "2h", "90m", "15s" or "500ms" that writes `ms` exactly. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
