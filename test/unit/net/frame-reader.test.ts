import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FrameError, FrameReader } from "../../../src/net/frame-reader.ts";

const frame = (payload: Buffer) => {
  const out = Buffer.alloc(4 + payload.length);
  out.writeInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
};

test("splits frames across arbitrary chunk boundaries", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((p) => frame(Buffer.from(p))));
        const reader = new FrameReader(1 << 20, true);
        const seen: Buffer[] = [];
        let offset = 0;
        let i = 0;
        while (offset < stream.length) {
          const size = cuts[i++ % cuts.length]!;
          reader.push(stream.subarray(offset, offset + size), (f) => seen.push(Buffer.from(f.subarray(4))));
          offset += size;
        }
        assert.deepEqual(
          seen,
          payloads.map((p) => Buffer.from(p)),
        );
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
  );
});

const firstError = (bytes: Buffer): FrameError => {
  const reader = new FrameReader(1 << 20, true);
  try {
    reader.push(bytes, () => {});
  } catch (error) {
    assert.ok(error instanceof FrameError);
    return error;
  }
  assert.fail("expected a FrameError");
};

test("names TLS and HTTP clients on a plaintext port", () => {
  assert.equal(firstError(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])).kind, "TLS_ON_PLAINTEXT");
  assert.match(
    firstError(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])).message,
    /TLS client on a plaintext listener/,
  );
  assert.equal(firstError(Buffer.from("GET / HTTP/1.1\r\n")).kind, "HTTP_ON_PLAINTEXT");
});

test("rejects absurd and negative lengths before buffering them", () => {
  const huge = Buffer.alloc(8);
  huge.writeInt32BE(0x7fffffff, 0);
  assert.equal(firstError(huge).kind, "TOO_LARGE");
  const negative = Buffer.alloc(8);
  negative.writeInt32BE(-5, 0);
  assert.equal(firstError(negative).kind, "NEGATIVE_LENGTH");
});

test("keeps a frame that arrives in one chunk as a slice of it", () => {
  const chunk = frame(Buffer.from("hello"));
  const reader = new FrameReader(1024, true);
  const frames: Buffer[] = [];
  reader.push(chunk, (f) => frames.push(f));
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.buffer, chunk.buffer, "the frame shares the chunk's memory");
  assert.deepEqual(frames[0], chunk);
  assert.equal(reader.bufferedBytes, 0);
});

test("streams large incomplete frames to a sink and buffers the rest, whatever the chunking", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      (payloads, cuts, accepts) => {
        const stream = Buffer.concat(payloads.map((p) => frame(Buffer.from(p))));
        const reader = new FrameReader(1 << 20, true);
        const arrived: Buffer[] = [];
        let offers = 0;
        reader.streamFramesFrom(100, (frameBytes, head) => {
          assert.ok(frameBytes >= 100 && head.length >= 8 && head.length < frameBytes);
          if (!accepts[offers++ % accepts.length]) return undefined;
          const parts: Buffer[] = [];
          return {
            write: (bytes) => parts.push(Buffer.from(bytes)),
            end: () => arrived.push(Buffer.concat(parts).subarray(4)),
          };
        });
        let offset = 0;
        let i = 0;
        while (offset < stream.length) {
          const size = cuts[i++ % cuts.length]!;
          reader.push(stream.subarray(offset, offset + size), (f) =>
            arrived.push(Buffer.from(f.subarray(4))),
          );
          offset += size;
        }
        assert.deepEqual(
          arrived,
          payloads.map((p) => Buffer.from(p)),
        );
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
  );
});

test("a frame arriving in many chunks is copied once, into one buffer of its size", (t) => {
  const payload = Buffer.alloc(1 << 20, 7);
  const stream = frame(payload);
  for (const offering of [false, true]) {
    let allocated = 0;
    const allocUnsafe = Buffer.allocUnsafe;
    const concat = Buffer.concat;
    t.mock.method(Buffer, "allocUnsafe", (size: number) => {
      allocated += size;
      return allocUnsafe(size);
    });
    t.mock.method(Buffer, "concat", (list: readonly Uint8Array[], length?: number) => {
      const out = concat(list, length);
      allocated += out.length;
      return out;
    });
    const reader = new FrameReader(1 << 30, false);
    if (offering) reader.streamFramesFrom(64 * 1024, () => undefined);
    const seen: Buffer[] = [];
    for (let offset = 0; offset < stream.length; offset += 4096) {
      reader.push(stream.subarray(offset, offset + 4096), (f) => seen.push(f));
    }
    t.mock.restoreAll();
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0], stream);
    assert.equal(allocated, stream.length, `${allocated} bytes allocated for a ${stream.length}-byte frame`);
  }
});

test("with borrowed chunks, frames and streamed bytes survive the reuse of the read buffer", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 400 }),
      (payloads, cuts, accepts, preallocateUpTo) => {
        const stream = Buffer.concat(payloads.map((p) => frame(Buffer.from(p))));
        const reader = new FrameReader(1 << 20, true, { borrowsChunks: true, preallocateUpTo });
        const readBuffer = Buffer.alloc(64);
        const kept: Buffer[] = [];
        let offers = 0;
        reader.streamFramesFrom(100, () => {
          if (!accepts[offers++ % accepts.length]) return undefined;
          const parts: Buffer[] = [];
          let assembled: Buffer | undefined;
          return {
            assembling: (frame) => {
              assembled = frame;
            },
            write: (bytes, borrowed) => {
              assert.equal(borrowed, assembled === undefined);
              if (assembled) assert.equal(bytes.buffer, assembled.buffer);
              parts.push(Buffer.from(bytes));
            },
            end: (frame) => {
              assert.equal(frame, assembled);
              kept.push(Buffer.concat(parts).subarray(4));
            },
          };
        });
        let offset = 0;
        let i = 0;
        while (offset < stream.length) {
          const size = Math.min(cuts[i++ % cuts.length]!, stream.length - offset);
          stream.copy(readBuffer, 0, offset, offset + size);
          reader.push(readBuffer.subarray(0, size), (f) => kept.push(f.subarray(4)));
          readBuffer.fill(0xee);
          offset += size;
        }
        assert.deepEqual(
          kept.map((k) => Buffer.from(k)),
          payloads.map((p) => Buffer.from(p)),
        );
        assert.equal(reader.bufferedBytes, 0);
      },
    ),
  );
});

test("bytes read into the read target are taken in place: the frame is that buffer, never copied", (t) => {
  const payload = Buffer.alloc(300 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  const stream = Buffer.concat([frame(payload), frame(Buffer.from("next"))]);
  for (const streaming of [false, true]) {
    const reader = new FrameReader(1 << 30, false, { borrowsChunks: true });
    const written: Buffer[] = [];
    if (streaming) {
      reader.streamFramesFrom(64 * 1024, () => ({
        write: (bytes) => written.push(bytes),
        end: (assembled) => seen.push(assembled!),
      }));
    }
    const seen: Buffer[] = [];
    const readBuffer = Buffer.alloc(64 * 1024);
    let offset = 0;
    let inPlace = 0;
    while (offset < stream.length) {
      const target = reader.readTarget() ?? readBuffer;
      const size = Math.min(target.length, 50_000, stream.length - offset);
      if (target !== readBuffer) inPlace += size;
      stream.copy(target, 0, offset, offset + size);
      const copy = t.mock.method(Buffer.prototype, "copy");
      reader.push(target.subarray(0, size), (f) => seen.push(Buffer.from(f)));
      if (target !== readBuffer) assert.equal(copy.mock.callCount(), 0);
      t.mock.restoreAll();
      offset += size;
    }
    assert.ok(inPlace > 200 * 1024, `${inPlace} bytes read in place`);
    assert.deepEqual(seen, [frame(payload), frame(Buffer.from("next"))]);
    if (streaming) assert.deepEqual(Buffer.concat(written), frame(payload));
  }
});
