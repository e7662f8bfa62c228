import assert from "node:assert/strict";
import { test } from "node:test";
import { writeCorrelationId } from "../../../src/net/upstream.ts";

test("the correlation id lands at bytes 8-11 of a chunked request frame, wherever the chunks split", () => {
  const frame = Buffer.alloc(20);
  for (let first = 1; first < 16; first++) {
    for (let second = first; second < 18; second++) {
      frame.fill(0xaa);
      const chunks = [frame.subarray(0, first), frame.subarray(first, second), frame.subarray(second)];
      writeCorrelationId(chunks, 0x01020304);
      assert.equal(frame.readInt32BE(8), 0x01020304);
      assert.equal(frame.readUInt32BE(4), 0xaaaaaaaa);
      assert.equal(frame.readUInt32BE(12), 0xaaaaaaaa);
    }
  }
});
