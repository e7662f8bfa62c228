const SMALLEST_POOLED_BYTES = 64 * 1024;
const LARGEST_POOLED_BYTES = 8 * 1024 * 1024;
const CAPACITY_STEP_BYTES = 16 * 1024;
const MAX_IDLE_BYTES = 32 * 1024 * 1024;

/**
 * Buffers for large frames that are forwarded unchanged and then dropped (pass-through Produce requests, Fetch
 * responses the proxy looked at but did not change), recycled once written instead of left to the garbage
 * collector, so a steady stream of them allocates nothing. A buffer is released only by the code that knows
 * nothing else holds it; one never released is simply collected, so a new buffer is sized close to its frame.
 */
export class FramePool {
  private readonly idle: ArrayBuffer[] = [];
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private idleBytes = 0;
  /** Frames read into a buffer that was written and given back before (a buffer allocation saved). */
  reused = 0;

  /** A buffer of exactly `size` bytes (contents undefined): the smallest idle one that fits, or a new one. */
  acquire(size: number): Buffer {
    if (size < SMALLEST_POOLED_BYTES || size > LARGEST_POOLED_BYTES) return Buffer.allocUnsafe(size);
    let best = -1;
    for (let i = 0; i < this.idle.length; i++) {
      const capacity = this.idle[i]!.byteLength;
      if (capacity >= size && capacity <= 2 * size && (best < 0 || capacity < this.idle[best]!.byteLength))
        best = i;
    }
    let memory: ArrayBuffer;
    if (best >= 0) {
      this.reused++;
      memory = this.idle[best]!;
      this.idle[best] = this.idle[this.idle.length - 1]!;
      this.idle.pop();
      this.idleBytes -= memory.byteLength;
    } else {
      memory = Buffer.allocUnsafeSlow(Math.ceil(size / CAPACITY_STEP_BYTES) * CAPACITY_STEP_BYTES)
        .buffer as ArrayBuffer;
    }
    this.lent.add(memory);
    return Buffer.from(memory, 0, size);
  }

  /** Takes back a buffer from `acquire`; anything else, or a second release, is ignored. */
  release(buffer: Buffer): void {
    const memory = buffer.buffer as ArrayBuffer;
    if (!this.lent.delete(memory)) return;
    if (this.idleBytes + memory.byteLength > MAX_IDLE_BYTES) return;
    this.idle.push(memory);
    this.idleBytes += memory.byteLength;
  }

  /** Whether `buffer` came from `acquire` and has not been released. */
  lends(buffer: Buffer): boolean {
    return this.lent.has(buffer.buffer);
  }

  releaseAll(buffers: readonly Buffer[]): void {
    for (const buffer of buffers) this.release(buffer);
  }

  /**
   * Frees a buffer's memory now instead of at a later garbage collection, for a buffer nothing reads or writes
   * again: a pooled one (from `acquire`) is forgotten by the pool, and any other must be the only view of its
   * memory (see `freeNow`).
   */
  discard(buffer: Buffer): void {
    const memory = buffer.buffer as ArrayBuffer;
    if (this.lent.delete(memory)) detach(memory);
    else freeNow(buffer);
  }

  get idleByteCount(): number {
    return this.idleBytes;
  }
}

/** Below this size `Buffer.allocUnsafe` carves buffers from a shared slab, which must not be freed. */
const SMALLEST_FREED_BYTES = 4 * 1024;

/**
 * Frees the memory of a buffer that covers all of it, now rather than at the next garbage collection. Only for
 * buffers nothing reads or writes again, sockets included (call it after the write's callback): views of the
 * memory read as empty afterwards. Slices of larger memory are left to the collector.
 */
export function freeNow(buffer: Buffer): void {
  const memory = buffer.buffer;
  if (
    memory instanceof ArrayBuffer &&
    buffer.byteOffset === 0 &&
    buffer.byteLength === memory.byteLength &&
    buffer.byteLength >= SMALLEST_FREED_BYTES
  ) {
    detach(memory);
  }
}

function detach(memory: ArrayBuffer): void {
  try {
    (memory as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
  } catch {
    // Memory that cannot be detached (e.g. owned by a native module) is left to the collector.
  }
}

/** The pool of frames read from clients and brokers. */
export const framePool = new FramePool();
