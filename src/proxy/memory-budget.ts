import type { ByteAccount } from "../net/upstream.ts";

/**
 * Bytes the proxy holds for its clients across every connection: responses waiting to be written or sitting in
 * socket buffers, and broker responses being received. Past `limitBytes` every client connection stops taking
 * requests (none is failed) until the total falls back under `resumeBelowBytes`.
 */
export class MemoryBudget implements ByteAccount {
  readonly limitBytes: number;
  readonly resumeBelowBytes: number;
  private used = 0;
  private over = false;
  private readonly listeners = new Set<(over: boolean) => void>();
  /** How many times the budget was exhausted. */
  exhaustions = 0;

  constructor(limitBytes: number, resumeBelowBytes = Math.floor(limitBytes * 0.75)) {
    this.limitBytes = limitBytes;
    this.resumeBelowBytes = resumeBelowBytes;
  }

  get usedBytes(): number {
    return this.used;
  }

  get isExhausted(): boolean {
    return this.over;
  }

  add(bytes: number): void {
    this.used += bytes;
    if (!this.over && this.used > this.limitBytes) {
      this.exhaustions++;
      this.announce(true);
    }
  }

  remove(bytes: number): void {
    this.used -= bytes;
    if (this.over && this.used <= this.resumeBelowBytes) this.announce(false);
  }

  /** Calls `listener` each time the budget is exhausted (true) or recovers (false); returns the unsubscribe. */
  onChange(listener: (over: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private announce(over: boolean): void {
    this.over = over;
    for (const listener of this.listeners) listener(over);
  }
}
