/** An error answered by the apiserver (or the transport), with what a caller needs to decide on a retry. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason?: string,
    readonly retryAfterSeconds?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get isNotFound(): boolean {
    return this.statusCode === 404;
  }
  get isConflict(): boolean {
    return this.statusCode === 409;
  }
  get isGone(): boolean {
    return this.statusCode === 410;
  }
  get isTooManyRequests(): boolean {
    return this.statusCode === 429;
  }
  /** Refused by this process's own write guard: the leader's last Lease renewal is older than renewDeadline. */
  get isNotLeader(): boolean {
    return this.reason === "NotLeader";
  }
  /** 429, 5xx and transport failures (statusCode 0) are worth retrying; other 4xx are the caller's fault. */
  get isRetryable(): boolean {
    if (this.isNotLeader) return false;
    return this.statusCode === 0 || this.statusCode === 429 || this.statusCode >= 500;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.isNotFound;
}

/** A write refused by the leader's own fence, here or as the cause of an error a reconciler wrapped it in. */
export function isNotLeader(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ApiError && e.isNotLeader) return true;
  }
  return false;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.isConflict;
}

/**
 * A reconcile error that retrying cannot fix (an invalid spec, say). The work queue forgets the key instead of
 * backing off; the next change to the object brings it back.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TerminalError";
  }
}
