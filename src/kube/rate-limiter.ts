/**
 * A token bucket: `qps` tokens a second, at most `burst` saved up. Waiters are served in order, so a flood of
 * requests queues in the client instead of hitting the apiserver (client-go's flowcontrol, in spirit).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`invalid rate limit qps=${qps} burst=${burst}`);
    this.tokens = burst;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
  }

  /** Resolves when a token is available; returns how long the caller waited, in ms. */
  acquire(): Promise<number> {
    const started = this.now();
    const turn = this.chain.then(async () => {
      this.refill();
      if (this.tokens < 1) {
        await this.sleep(((1 - this.tokens) / this.qps) * 1000);
        this.refill();
      }
      this.tokens -= 1;
    });
    this.chain = turn.catch(() => undefined);
    return turn.then(() => this.now() - started);
  }
}
