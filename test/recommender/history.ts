// Synthetic cAdvisor history in a Prometheus of the test's own: an OpenMetrics file written from usage
// functions, turned into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, and a Prometheus
// started on those blocks with a query log (so a test can prove which ranges were read) and its peak RSS.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { binDir, freePort } from "../../hack/lib/metacluster.js";

export interface SyntheticContainer {
  namespace: string;
  pod: string;
  container: string;
  /** Cores at time t (ms). */
  cpu: (t: number) => number;
  /** Working-set bytes at time t (ms). */
  memory: (t: number) => number;
  /** The pod's labels, for the pod-labels series (OpenMetricsOptions.podLabelsMetric). */
  podLabels?: Record<string, string>;
}

/** What the upstream VPA recommender's Prometheus history provider needs besides the plain cAdvisor series. */
export interface OpenMetricsOptions {
  /** A `job` label on the cAdvisor series (VPA's --prometheus-cadvisor-job-name). */
  job?: string;
  /** The CPU counter every this many seconds instead of `intervalS` (VPA's rate() over one resolution step needs two samples in it). */
  cpuIntervalS?: number;
  /**
   * A pod-labels info series with value 1 (e.g. kube_pod_labels{namespace,pod,pod_label_app="x"}), one per pod that
   * has podLabels, every `intervalS` over the last `podLabelsWindowS` seconds before endMs (default one day).
   */
  podLabelsMetric?: string;
  podLabelsWindowS?: number;
}

const labels = (c: SyntheticContainer, job?: string) =>
  `{${job === undefined ? "" : `job="${job}",`}namespace="${c.namespace}",pod="${c.pod}",container="${c.container}"}`;

/**
 * Writes the OpenMetrics file: a CPU counter (integrated from cpu(t)) and a memory gauge every `intervalS`, and the
 * optional series of `options`.
 */
export async function writeOpenMetrics(
  file: string,
  containers: readonly SyntheticContainer[],
  startMs: number,
  endMs: number,
  intervalS: number,
  options: OpenMetricsOptions = {},
): Promise<{ samples: number }> {
  const out = createWriteStream(file);
  let buffer = "";
  let samples = 0;
  const write = async (s: string) => {
    buffer += s;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await new Promise<void>((r) => out.once("drain", () => r()));
      buffer = "";
    }
  };
  const step = intervalS * 1000;
  const cpuIntervalS = options.cpuIntervalS ?? intervalS;
  await write("# HELP container_cpu_usage_seconds Cumulative cpu time consumed in seconds.\n");
  await write("# TYPE container_cpu_usage_seconds counter\n");
  for (const c of containers) {
    let total = 0;
    const l = labels(c, options.job);
    for (let t = startMs; t <= endMs; t += cpuIntervalS * 1000) {
      total += c.cpu(t) * cpuIntervalS;
      await write(`container_cpu_usage_seconds_total${l} ${total.toFixed(6)} ${t / 1000}\n`);
      samples++;
    }
  }
  await write("# HELP container_memory_working_set_bytes Current working set in bytes.\n");
  await write("# TYPE container_memory_working_set_bytes gauge\n");
  for (const c of containers) {
    const l = labels(c, options.job);
    for (let t = startMs; t <= endMs; t += step) {
      await write(`container_memory_working_set_bytes${l} ${Math.round(c.memory(t))} ${t / 1000}\n`);
      samples++;
    }
  }
  if (options.podLabelsMetric) {
    await write(`# HELP ${options.podLabelsMetric} Labels of the pod.\n`);
    await write(`# TYPE ${options.podLabelsMetric} gauge\n`);
    const from = endMs - (options.podLabelsWindowS ?? 86_400) * 1000;
    const seen = new Set<string>();
    for (const c of containers) {
      const key = `${c.namespace}/${c.pod}`;
      if (!c.podLabels || seen.has(key)) continue;
      seen.add(key);
      const extra = Object.entries(c.podLabels)
        .map(([k, v]) => `,pod_label_${k.replace(/[^a-zA-Z0-9_]/g, "_")}="${v}"`)
        .join("");
      const l = `{namespace="${c.namespace}",pod="${c.pod}"${extra}}`;
      // The same grid as the other series, from the first step inside the window.
      for (let t = startMs + Math.max(0, Math.ceil((from - startMs) / step)) * step; t <= endMs; t += step) {
        await write(`${options.podLabelsMetric}${l} 1 ${t / 1000}\n`);
        samples++;
      }
    }
  }
  await write("# EOF\n");
  out.end(buffer);
  await new Promise<void>((r) => out.once("finish", () => r()));
  return { samples };
}

export class HistoryPrometheus {
  readonly dir: string;
  readonly dataDir: string;
  readonly queryLog: string;
  port = 0;
  private child?: ChildProcess;
  private peakRss = 0;
  private sampler?: NodeJS.Timeout;

  /**
   * `parent`: where its temporary directory is made (default: the system's temporary directory); `dir`: a directory
   * of its own instead (made if missing), e.g. one that holds a history backfilled before.
   */
  constructor(parent = tmpdir(), dir?: string) {
    mkdirSync(dir ?? parent, { recursive: true });
    this.dir = dir ?? mkdtempSync(path.join(parent, "metapilot-history-"));
    this.dataDir = path.join(this.dir, "data");
    this.queryLog = path.join(this.dir, "queries.log");
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** promtool tsdb create-blocks-from openmetrics, into this Prometheus' data directory. */
  async backfill(openMetricsFile: string): Promise<void> {
    await promisify(execFile)(
      path.join(binDir, "promtool"),
      ["tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=48h", openMetricsFile, this.dataDir],
      { maxBuffer: 64 << 20 },
    );
  }

  /** `extraArgs`: more Prometheus flags, e.g. --query.lookback-delta for sparse synthetic series. */
  async start(extraArgs: readonly string[] = []): Promise<void> {
    if (!this.port) this.port = await freePort();
    writeFileSync(
      path.join(this.dir, "prometheus.yml"),
      stringify({ global: { scrape_interval: "1m", query_log_file: this.queryLog }, scrape_configs: [] }),
    );
    const log = openSync(path.join(this.dir, "prometheus.log"), "a");
    this.child = spawn(
      path.join(binDir, "prometheus"),
      [
        `--config.file=${path.join(this.dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${this.dataDir}`,
        "--storage.tsdb.retention.time=30d",
        `--web.listen-address=127.0.0.1:${this.port}`,
        "--log.level=warn",
        ...extraArgs,
      ],
      { stdio: ["ignore", log, log] },
    );
    this.sampler = setInterval(() => this.sampleRss(), 250);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.url}/-/ready`)).ok) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Prometheus did not start; see ${this.dir}/prometheus.log`);
  }

  private sampleRss(): void {
    const pid = this.child?.pid;
    if (!pid) return;
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
      if (hwm) this.peakRss = Math.max(this.peakRss, Number(hwm[1]) * 1024);
    } catch {
      // exited
    }
  }

  /** Peak resident memory of the Prometheus process (VmHWM), in bytes. */
  peakRssBytes(): number {
    this.sampleRss();
    return this.peakRss;
  }

  /** The query log's range queries: query, start and end (ms). */
  rangeQueries(): Array<{ query: string; startMs: number; endMs: number; step: number; at: number }> {
    if (!existsSync(this.queryLog)) return [];
    return (
      readFileSync(this.queryLog, "utf8")
        .split("\n")
        .filter(Boolean)
        .map(
          (l) => JSON.parse(l) as { params: { query: string; start: string; end: string; step: number }; ts: string },
        )
        // Range queries carry a step; instant queries do not.
        .filter((e) => e.params.step !== undefined && e.params.start !== undefined)
        .map((e) => ({
          query: e.params.query,
          startMs: Date.parse(e.params.start),
          endMs: Date.parse(e.params.end),
          step: e.params.step,
          at: Date.parse(e.ts),
        }))
    );
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    this.sampleRss();
    await new Promise<void>((r) => {
      c.once("exit", () => r());
      c.kill("SIGTERM");
    });
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
