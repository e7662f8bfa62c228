import assert from "node:assert/strict";
import { test } from "node:test";
import { FramePool } from "../../../src/net/frame-pool.ts";

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
