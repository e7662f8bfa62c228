import assert from "node:assert/strict";
import { test } from "node:test";
import { FramePool, freeNow } from "../../../src/net/frame-pool.ts";

test("a released frame buffer is lent again, once, and foreign or small buffers are never pooled", () => {
  const pool = new FramePool();
  const first = pool.acquire(200_000);
  assert.equal(first.length, 200_000);
  pool.release(first);
  pool.release(first);
  pool.release(Buffer.alloc(262_144));
  assert.equal(pool.idleByteCount, 212_992, "sized to the frame, rounded up to 16 KiB");
  assert.notEqual(
    pool.acquire(90_000).buffer,
    first.buffer,
    "an idle buffer over twice the size is left alone",
  );
  const second = pool.acquire(150_000);
  assert.equal(second.buffer, first.buffer, "the idle buffer is reused");
  const third = pool.acquire(150_000);
  assert.notEqual(third.buffer, first.buffer, "a buffer is lent to one holder at a time");
  const small = pool.acquire(1000);
  pool.release(small);
  assert.equal(pool.idleByteCount, 0);
});

test("a discarded buffer's memory is freed at once and never lent again", () => {
  const pool = new FramePool();
  const lent = pool.acquire(100_000);
  const memory = lent.buffer;
  pool.discard(lent);
  assert.equal(memory.byteLength, 0, "detached");
  assert.equal(lent.length, 0, "views of freed memory read as empty");
  pool.release(lent);
  assert.equal(pool.idleByteCount, 0);
  const next = pool.acquire(100_000);
  assert.notEqual(next.buffer, memory);
  assert.equal(next.length, 100_000);
});

test("only a buffer covering all its memory is freed; slices and slab-carved buffers are left alone", () => {
  const whole = Buffer.allocUnsafe(64 * 1024);
  freeNow(whole);
  assert.equal(whole.length, 0);
  const parent = Buffer.allocUnsafe(64 * 1024);
  const slice = parent.subarray(0, 32 * 1024);
  freeNow(slice);
  assert.equal(parent.length, 64 * 1024);
  const small = Buffer.allocUnsafe(100);
  const neighbour = Buffer.allocUnsafe(100);
  freeNow(small);
  assert.equal(small.length, 100);
  assert.equal(neighbour.length, 100);
  const other = new FramePool();
  other.discard(Buffer.allocUnsafe(8 * 1024));
});
