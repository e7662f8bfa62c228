/**
 * The frame reader's memory for a peer that announces a large frame and sends little of it: with
 * `allocationAheadFactor` (client connections) it allocates at most that many times the bytes received, and
 * bytes trickling in one at a time are gathered instead of kept one buffer each.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FrameReader } from "../../../src/net/frame-reader.ts";

const MiB = 1024 * 1024;

function lengthPrefix(frameBytes: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(frameBytes - 4);
  return out;
}

function patternedFrame(frameBytes: number, seed = 1): Buffer {
  const frame = Buffer.allocUnsafe(frameBytes);
  frame.writeInt32BE(frameBytes - 4, 0);
  for (let i = 4; i < frameBytes; i++) frame[i] = (i * 7 + seed) & 0xff;
  return frame;
}

/** A reader whose frame allocations are recorded. */
function recordingReader(factor: number | undefined, borrowsChunks = true) {
  const allocations: number[] = [];
  const reader = new FrameReader(200 * MiB, true, {
    borrowsChunks,
    allocationAheadFactor: factor,
    allocateFrame: (size) => {
      allocations.push(size);
      return Buffer.allocUnsafe(size);
    },
  });
  return { reader, allocations };
}

/** Feeds a chunk the way shared reads do: a buffer overwritten after the call. */
function pushBorrowed(reader: FrameReader, bytes: Buffer, onFrame: (frame: Buffer) => void): void {
  const scratch = Buffer.from(bytes);
  reader.push(scratch, onFrame);
  scratch.fill(0xee);
}

test("a 4-byte length alone allocates nothing, for a 2 MiB frame as for a 100 MiB one", () => {
  for (const frameBytes of [2 * MiB - 64, 100 * MiB]) {
    const { reader, allocations } = recordingReader(4);
    reader.push(lengthPrefix(frameBytes), () => assert.fail("no frame"));
    assert.deepEqual(allocations, [], `${frameBytes}-byte frame`);
    assert.equal(reader.bufferedBytes, 4);
  }
});

test("without a bound (brokers) the frame's buffer is allocated when its length arrives, as before", () => {
  const { reader, allocations } = recordingReader(undefined);
  reader.push(lengthPrefix(MiB), () => assert.fail("no frame"));
  assert.deepEqual(allocations, [MiB]);
});

test("the buffer is allocated once a quarter of the frame has arrived, then filled in place", () => {
  const frameBytes = 2 * MiB - 64;
  const frame = patternedFrame(frameBytes);
  const { reader, allocations } = recordingReader(4);
  const seen: Buffer[] = [];
  let offset = 0;
  const step = 64 * 1024;
  while (offset < frameBytes) {
    const end = Math.min(frameBytes, offset + step);
    pushBorrowed(reader, frame.subarray(offset, end), (f) => seen.push(Buffer.from(f)));
    offset = end;
    if (offset < frameBytes / 4) assert.deepEqual(allocations, [], `after ${offset} bytes`);
    else assert.deepEqual(allocations, [frameBytes], `after ${offset} bytes`);
    if (allocations.length > 0 && offset < frameBytes) {
      const target = reader.readTarget();
      assert.ok(target && target.length === frameBytes - offset, "the rest is read in place");
    }
  }
  assert.equal(seen.length, 1);
  assert.ok(seen[0]!.equals(frame));
  assert.equal(reader.bufferedBytes, 0);
});

test("a first chunk carrying a quarter of the frame allocates at once", () => {
  const frame = patternedFrame(256 * 1024);
  const { reader, allocations } = recordingReader(4);
  pushBorrowed(reader, frame.subarray(0, 64 * 1024), () => assert.fail("incomplete"));
  assert.deepEqual(allocations, [256 * 1024]);
});

test("10,000 peers each announcing 2 MiB and sending 100 bytes hold about their bytes, not 20 GB", () => {
  const readers: FrameReader[] = [];
  let allocated = 0;
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 10_000; i++) {
    const reader = new FrameReader(200 * MiB, true, {
      borrowsChunks: true,
      allocationAheadFactor: 4,
      allocateFrame: (size) => {
        allocated += size;
        return Buffer.allocUnsafe(size);
      },
    });
    pushBorrowed(reader, Buffer.concat([lengthPrefix(2 * MiB - 64), Buffer.alloc(96, 1)]), () => {});
    readers.push(reader);
  }
  const held = process.memoryUsage().arrayBuffers - before;
  assert.equal(allocated, 0);
  assert.ok(held < 16 * MiB, `${held} bytes of buffers held`);
  assert.equal(
    readers.reduce((sum, r) => sum + r.bufferedBytes, 0),
    10_000 * 100,
  );
});

test("bytes trickling in one at a time are gathered: a few buffers, not one per byte", () => {
  const frame = patternedFrame(40 * 1024);
  const { reader } = recordingReader(4);
  const seen: Buffer[] = [];
  // One byte per push up to an eighth of the frame (still below the quarter that allocates).
  for (let i = 0; i < frame.length / 8; i++)
    pushBorrowed(reader, frame.subarray(i, i + 1), (f) => seen.push(f));
  const pending = (reader as unknown as { pending: Buffer[] }).pending;
  assert.ok(pending.length <= 8, `${pending.length} pending buffers for ${frame.length / 8} bytes`);
  pushBorrowed(reader, frame.subarray(frame.length / 8), (f) => seen.push(Buffer.from(f)));
  assert.equal(seen.length, 1);
  assert.ok(seen[0]!.equals(frame));
});

test("frames come out whole and in order whatever the chunking, with the bound and borrowed chunks", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 30_000 }), { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      (sizes, cuts, borrowed) => {
        const frames = sizes.map((size, i) => patternedFrame(size + 4, i));
        const stream = Buffer.concat(frames);
        const { reader } = recordingReader(4, borrowed);
        const seen: Buffer[] = [];
        let offset = 0;
        let i = 0;
        while (offset < stream.length) {
          const end = Math.min(stream.length, offset + cuts[i++ % cuts.length]!);
          const chunk = stream.subarray(offset, end);
          if (borrowed) pushBorrowed(reader, chunk, (f) => seen.push(Buffer.from(f)));
          else reader.push(Buffer.from(chunk), (f) => seen.push(Buffer.from(f)));
          offset = end;
        }
        assert.equal(seen.length, frames.length);
        for (const [n, frame] of frames.entries()) assert.ok(seen[n]!.equals(frame), `frame ${n}`);
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
    { numRuns: 200 },
  );
});
