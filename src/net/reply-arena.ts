import { framePool } from "./frame-pool.ts";

const ARENA_BLOCK_BYTES = 1024 * 1024;
const LARGEST_CARVED_BYTES = ARENA_BLOCK_BYTES / 4;

/**
 * The buffers one reply is built from, all given back to `framePool` together once the reply is written. Small
 * buffers are carved from pooled blocks of one size, so a steady stream of replies reuses the same blocks
 * instead of leaving a buffer per batch to the garbage collector.
 */
export class ReplyArena {
  /** Pooled buffers to give back after the reply: the blocks, large allocations, and frames handed over. */
  readonly held: Buffer[] = [];
  private block: Buffer | undefined;
  private used = 0;

  allocate(size: number): Buffer {
    if (size > LARGEST_CARVED_BYTES) {
      const buffer = framePool.acquire(size);
      this.held.push(buffer);
      return buffer;
    }
    if (!this.block || this.used + size > this.block.length) {
      this.block = framePool.acquire(ARENA_BLOCK_BYTES);
      this.held.push(this.block);
      this.used = 0;
    }
    const buffer = this.block.subarray(this.used, this.used + size);
    this.used += size;
    return buffer;
  }

  /** Holds a pooled buffer (e.g. a response frame the reply points into) until the reply is written. */
  hold(buffer: Buffer): void {
    this.held.push(buffer);
  }
}
