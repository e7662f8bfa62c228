import assert from "node:assert/strict";
import { test } from "node:test";
import { framePool } from "../../../src/net/frame-pool.ts";
import { ReplyArena } from "../../../src/net/reply-arena.ts";

test("a reply arena carves small buffers from shared blocks, holds large ones whole, and its blocks are reused", () => {
  const arena = new ReplyArena();
  const small = Array.from({ length: 40 }, (_, i) => arena.allocate(60_000 + i));
  small.forEach((buffer, i) => {
    buffer.fill(i);
  });
  small.forEach((buffer, i) => {
    assert.equal(buffer.length, 60_000 + i);
    assert.ok(
      buffer.every((byte) => byte === i),
      `buffer ${i} overlaps another`,
    );
  });
  const blocks = new Set(small.map((buffer) => buffer.buffer));
  assert.equal(blocks.size, 3, "40 buffers of ~60 KB fit in three 1 MiB blocks");
  const large = arena.allocate(3_000_000);
  assert.equal(large.length, 3_000_000);
  const frame = framePool.acquire(500_000);
  arena.hold(frame);
  assert.equal(arena.held.length, 5);

  framePool.releaseAll(arena.held);
  const reusedBefore = framePool.reused;
  const next = new ReplyArena();
  const again = next.allocate(1000);
  assert.ok(blocks.has(again.buffer), "a block given back is the next reply's block");
  assert.equal(framePool.reused, reusedBefore + 1);
  framePool.releaseAll(next.held);
});
