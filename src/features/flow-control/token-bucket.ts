/**
 * A byte budget refilled at `rate` bytes per second up to `capacity`. Bytes are taken as they come, so the
 * budget may go into debt; the debt, in milliseconds at the rate, is how long the taker is throttled. A throttle
 * served (by the proxy holding the connection, or by the client waiting on its own) repays exactly that debt, so
 * the two never add up, and the budget a pause lets grow is capped by `capacity` (the burst).
 */
export class TokenBucket {
  private rate: number;
  private capacity: number;
  private tokens: number;
  private updatedMs: number;

  constructor(rate: number, capacity: number, nowMs: number) {
    this.rate = rate;
    this.capacity = capacity;
    this.tokens = capacity;
    this.updatedMs = nowMs;
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  /** Changes the rate and burst from now on; the budget held so far stays (cut to the new capacity). */
  reshape(rate: number, capacity: number, nowMs: number): void {
    this.refill(nowMs);
    this.rate = rate;
    this.capacity = capacity;
    if (this.tokens > capacity) this.tokens = capacity;
  }

  /** Takes `bytes`; answers the throttle in milliseconds the budget's debt then amounts to (0 when none). */
  take(bytes: number, nowMs: number): number {
    this.refill(nowMs);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** The throttle in milliseconds the current debt amounts to, without taking anything. */
  debtMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.updatedMs;
    if (elapsed <= 0) return;
    this.updatedMs = nowMs;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rate) / 1000);
  }
}
