const SMALLEST_POOLED_BYTES = 64 * 1024;
const LARGEST_POOLED_BYTES = 8 * 1024 * 1024;
const MAX_IDLE_BYTES = 16 * 1024 * 1024;

/**
 * Buffers for large frames that are forwarded unchanged and then dropped (pass-through Produce requests, Fetch
 * responses the proxy looked at but did not change), recycled once written instead of left to the garbage
 * collector, so a steady stream of them allocates nothing. A buffer is
 * released only by the code that knows nothing else holds it; one never released is simply collected.
 */
export class FramePool {
  private readonly idle = new Map<number, ArrayBuffer[]>();
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private idleBytes = 0;

  /** A buffer of exactly `size` bytes (contents undefined). */
  acquire(size: number): Buffer {
    if (size < SMALLEST_POOLED_BYTES || size > LARGEST_POOLED_BYTES) return Buffer.allocUnsafe(size);
    const capacity = 2 ** Math.ceil(Math.log2(size));
    const memory = this.idle.get(capacity)?.pop();
    if (memory) this.idleBytes -= capacity;
    const buffer = Buffer.from(memory ?? new ArrayBuffer(capacity), 0, size);
    this.lent.add(buffer.buffer);
    return buffer;
  }

  /** Takes back a buffer from `acquire`; anything else, or a second release, is ignored. */
  release(buffer: Buffer): void {
    const memory = buffer.buffer as ArrayBuffer;
    if (!this.lent.delete(memory)) return;
    if (this.idleBytes + memory.byteLength > MAX_IDLE_BYTES) return;
    let list = this.idle.get(memory.byteLength);
    if (!list) {
      list = [];
      this.idle.set(memory.byteLength, list);
    }
    list.push(memory);
    this.idleBytes += memory.byteLength;
  }

  get idleByteCount(): number {
    return this.idleBytes;
  }
}

/** The pool of frames read from clients and brokers. */
export const framePool = new FramePool();
