// A policy's timeline, kept in columns until the report: typed arrays for the numbers and codes, and each summary as
// UTF-8 in large buffers. The timeline holds every change of the fleet until the report (615 k at 500 tenants × 14
// days, two policies); as objects (an entry, its time and summary strings, two sizes) they were most of the main
// thread's heap at the end of a run, and every major GC marked them again: in about half the runs the main thread
// spent 13-19 s in incremental marking alone, and V8's helper threads 40-60 CPU-s (bench/README.md). Here they are a few dozen heap objects,
// and the entries are built once, when the report asks for them.
import type { DisruptionReason } from "../api/index.js";
import type { Size } from "../scaler/types.js";

/** What the timeline keeps of a plan that changed or blocked something. */
export interface ActedFields {
  action: "change" | "blocked";
  direction: "Up" | "Down";
  category: string;
  scaler: string;
  summary: string;
  before: Size;
  after: Size;
  blockedBy?: string;
}

/** A change (or a change held back) of the timeline. */
export interface TimelineEntry extends ActedFields {
  at: string;
  workload: string;
  component: string;
}

/** One change the replay made, as the disruption budgets count it. */
export interface BudgetedChange {
  at: number;
  tenant: string;
  oom: boolean;
  reasons: readonly DisruptionReason[];
}

/** A Size's fields, in the order an entry's sizes are given back (undefined ones left out). */
const sizeFields = ["replicas", "cpuRequest", "cpuLimit", "memoryRequest", "memoryLimit"] as const;
const perSize = sizeFields.length;

/** A change's disruption reasons, by direction and whether it restarts the pods: one array each, shared by every change. */
const changeReasons: Record<"Up" | "Down", readonly [readonly DisruptionReason[], readonly DisruptionReason[]]> = {
  Up: [["ScaleUp"], ["ScaleUp", "RestartRequiring"]],
  Down: [["ScaleDown"], ["ScaleDown", "RestartRequiring"]],
};

const blockedFlag = 1;
const downFlag = 2;
const rollingFlag = 4;

const surrogate = /[\uD800-\uDFFF]/;

/** The bytes of a summary chunk: large enough that few are made, small enough not to hold much unused. */
const chunkBytes = 8 * 1024 * 1024;

/** A copy of `a` in an array of `length` values (at least a's). */
function grown<T extends Float64Array | Int32Array | Uint32Array | Uint8Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}

/**
 * Strings kept once each, by number: the few categories, scalers, blocked-by messages, workloads and tenants of a
 * timeline (0 is none).
 */
class Strings {
  private readonly ids = new Map<string, number>();
  readonly list: string[] = [""];

  /** The id of `s`, or 0 where it was never given one. */
  find(s: string): number {
    return this.ids.get(s) ?? 0;
  }

  id(s: string | undefined): number {
    if (s === undefined) return 0;
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}

export class TimelineStore {
  private count = 0;
  /** Entries the columns have room for. */
  private capacity = 1024;
  private at = new Float64Array(this.capacity);
  private workload = new Int32Array(this.capacity);
  private flags = new Uint8Array(this.capacity);
  private category = new Uint32Array(this.capacity);
  private scaler = new Uint32Array(this.capacity);
  private blockedBy = new Uint32Array(this.capacity);
  /** Before, then after, perSize values each (NaN for a field the size does not have: a NaN comes back as none). */
  private sizes = new Float64Array(this.capacity * 2 * perSize);
  /** Each summary's chunk, and where its bytes start and end in it. */
  private summaryChunk = new Uint32Array(this.capacity);
  private summaryStart = new Uint32Array(this.capacity);
  private summaryEnd = new Uint32Array(this.capacity);
  private readonly chunks: Buffer[] = [];
  /** Bytes used of the last chunk (as if full before the first: the first summary makes one). */
  private used = chunkBytes;
  /** Summaries with a UTF-16 surrogate (UTF-8 would not carry a lone one exactly), by entry: kept as they are. */
  private readonly odd = new Map<number, string>();
  private readonly strings = new Strings();
  /** Per workload (its number): its tenant's, workload's and component's string ids. */
  private readonly workloads: number[] = [];
  /** The tenants in the order they were first added, as the report lists them. */
  private readonly tenantOrder: number[] = [];
  private readonly tenantSeen = new Set<number>();

  /** A workload whose entries follow; its tenant is in the timeline from now on, even without any. */
  addWorkload(tenant: string, workload: string, component: string): number {
    const t = this.strings.id(tenant);
    if (!this.tenantSeen.has(t)) {
      this.tenantSeen.add(t);
      this.tenantOrder.push(t);
    }
    this.workloads.push(t, this.strings.id(workload), this.strings.id(component));
    return this.workloads.length / 3 - 1;
  }

  /**
   * An entry of `workload` (addWorkload's number) at `at` (ms); `rolling`: a change that restarts the pods (a rolling
   * update), as the budgets count RestartRequiring.
   */
  add(workload: number, at: number, rolling: boolean, e: ActedFields): void {
    if (this.count === this.capacity) this.grow(this.capacity * 2);
    const k = this.count++;
    this.at[k] = at;
    this.workload[k] = workload;
    this.flags[k] =
      (e.action === "blocked" ? blockedFlag : 0) |
      (e.direction === "Down" ? downFlag : 0) |
      (rolling ? rollingFlag : 0);
    this.category[k] = this.strings.id(e.category);
    this.scaler[k] = this.strings.id(e.scaler);
    this.blockedBy[k] = this.strings.id(e.blockedBy);
    const s = k * 2 * perSize;
    for (let f = 0; f < perSize; f++) {
      this.sizes[s + f] = e.before[sizeFields[f] as keyof Size] ?? Number.NaN;
      this.sizes[s + perSize + f] = e.after[sizeFields[f] as keyof Size] ?? Number.NaN;
    }
    this.putSummary(k, e.summary);
  }

  private grow(capacity: number): void {
    this.capacity = capacity;
    this.at = grown(this.at, capacity);
    this.workload = grown(this.workload, capacity);
    this.flags = grown(this.flags, capacity);
    this.category = grown(this.category, capacity);
    this.scaler = grown(this.scaler, capacity);
    this.blockedBy = grown(this.blockedBy, capacity);
    this.sizes = grown(this.sizes, capacity * 2 * perSize);
    this.summaryChunk = grown(this.summaryChunk, capacity);
    this.summaryStart = grown(this.summaryStart, capacity);
    this.summaryEnd = grown(this.summaryEnd, capacity);
  }

  private putSummary(k: number, summary: string): void {
    if (surrogate.test(summary)) {
      this.odd.set(k, summary);
      return;
    }
    // At most 3 bytes per UTF-16 unit; a summary longer than a chunk gets a chunk of its own.
    const most = summary.length * 3;
    if (this.used + most > chunkBytes) {
      this.chunks.push(Buffer.allocUnsafe(Math.max(chunkBytes, most)));
      this.used = 0;
    }
    const chunk = this.chunks.length - 1;
    const start = this.used;
    this.used += (this.chunks[chunk] as Buffer).write(summary, start, "utf8");
    this.summaryChunk[k] = chunk;
    this.summaryStart[k] = start;
    this.summaryEnd[k] = this.used;
  }

  private size(k: number, after: boolean): Size {
    const s = k * 2 * perSize + (after ? perSize : 0);
    const out: Size = { replicas: this.sizes[s] as number };
    for (let f = 1; f < perSize; f++) {
      const v = this.sizes[s + f] as number;
      if (!Number.isNaN(v)) out[sizeFields[f] as Exclude<keyof Size, "replicas">] = v;
    }
    return out;
  }

  private entry(k: number): TimelineEntry {
    const w = (this.workload[k] as number) * 3;
    const flags = this.flags[k] as number;
    const blockedBy = this.blockedBy[k] as number;
    const summary =
      this.odd.get(k) ??
      (this.chunks[this.summaryChunk[k] as number] as Buffer).toString(
        "utf8",
        this.summaryStart[k],
        this.summaryEnd[k],
      );
    return {
      at: new Date(this.at[k] as number).toISOString(),
      workload: this.strings.list[this.workloads[w + 1] as number] as string,
      component: this.strings.list[this.workloads[w + 2] as number] as string,
      action: flags & blockedFlag ? "blocked" : "change",
      direction: flags & downFlag ? "Down" : "Up",
      category: this.strings.list[this.category[k] as number] as string,
      scaler: this.strings.list[this.scaler[k] as number] as string,
      summary,
      before: this.size(k, false),
      after: this.size(k, true),
      ...(blockedBy ? { blockedBy: this.strings.list[blockedBy] as string } : {}),
    };
  }

  /** The entries by tenant (the tenants in the order they were added), each tenant's in time order (by workload where equal). */
  timeline(): Record<string, TimelineEntry[]> {
    const byTenant = new Map<number, number[]>(this.tenantOrder.map((t) => [t, []]));
    for (let k = 0; k < this.count; k++)
      byTenant.get(this.workloads[(this.workload[k] as number) * 3] as number)?.push(k);
    const out: Record<string, TimelineEntry[]> = {};
    for (const [t, ks] of byTenant) {
      // Stable: entries of one time stay in the order they were added.
      ks.sort((a, b) => (this.at[a] as number) - (this.at[b] as number));
      out[this.strings.list[t] as string] = ks.map((k) => this.entry(k));
    }
    return out;
  }

  /** The changes (not those held back), in the order they were added, as budgetHitsOf counts them. */
  changes(): BudgetedChange[] {
    const out: BudgetedChange[] = [];
    const oom = this.strings.find("OOMKilled");
    for (let k = 0; k < this.count; k++) {
      const flags = this.flags[k] as number;
      if (flags & blockedFlag) continue;
      out.push({
        at: this.at[k] as number,
        tenant: this.strings.list[this.workloads[(this.workload[k] as number) * 3] as number] as string,
        oom: oom !== 0 && this.category[k] === oom,
        reasons: changeReasons[flags & downFlag ? "Down" : "Up"][flags & rollingFlag ? 1 : 0],
      });
    }
    return out;
  }
}
