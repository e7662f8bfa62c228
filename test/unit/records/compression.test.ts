import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import {
  COMPRESSION_NAMES,
  compress,
  decompress,
  inspectLz4Frame,
  snappyCompressRaw,
  XERIAL_BLOCK_SIZE,
  XERIAL_MAGIC,
} from "../../../src/records/compression/index.ts";
import { RecordBatchError } from "../../../src/records/errors.ts";

function sampleData(size: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 7)) % 97;
  return data;
}

describe("codecs", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: round trip of sizes around block boundaries`, () => {
      for (const size of [
        0,
        1,
        100,
        XERIAL_BLOCK_SIZE - 1,
        XERIAL_BLOCK_SIZE,
        XERIAL_BLOCK_SIZE + 1,
        300_000,
      ]) {
        const data = sampleData(size);
        assert.ok(decompress(codec, compress(codec, data)).equals(data), `${codec} ${size}`);
      }
    });

    test(`${codec}: random data round trip`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
          const data = Buffer.from(bytes);
          assert.ok(decompress(codec, compress(codec, data)).equals(data));
        }),
        { numRuns: 100 },
      );
    });

    if (codec !== "none") {
      test(`${codec}: refuses output beyond the limit with a typed error`, () => {
        const bomb = compress(codec, Buffer.alloc(4 * 1024 * 1024));
        assert.throws(
          () => decompress(codec, bomb, "records", { maxOutputBytes: 1024 * 1024 }),
          (error: unknown) => error instanceof RecordBatchError && /exceeds the limit/.test(error.message),
        );
        assert.equal(decompress(codec, bomb, "records", { maxOutputBytes: 4 * 1024 * 1024 }).length, 4 << 20);
      });

      test(`${codec}: garbage raises RecordBatchError`, () => {
        for (const garbage of [
          Buffer.from("not compressed at all"),
          Buffer.alloc(0),
          Buffer.alloc(64, 0xff),
        ]) {
          assert.throws(() => decompress(codec, garbage, "records"), RecordBatchError);
        }
      });
    }
  }

  test("gzip and zstd honour a compression level", () => {
    const data = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `w${(i * 7919) % 1013}`).join(" "));
    for (const codec of ["gzip", "zstd"] as const) {
      const fast = compress(codec, data, "records", { level: 1 });
      const small = compress(codec, data, "records", { level: 19 - (codec === "gzip" ? 10 : 0) });
      assert.ok(small.length < fast.length, `${codec} ${small.length} < ${fast.length}`);
      assert.ok(decompress(codec, fast).equals(data) && decompress(codec, small).equals(data));
    }
  });

  test("unknown codec id is a typed error", () => {
    assert.throws(() => decompress(5, Buffer.alloc(1)), /unknown compression codec 5/);
  });
});

describe("snappy framing", () => {
  test("writes xerial framing with 32 KiB blocks, as snappy-java's SnappyOutputStream", () => {
    const data = sampleData(XERIAL_BLOCK_SIZE * 2 + 10);
    const framed = compress("snappy", data);
    assert.ok(framed.subarray(0, 8).equals(XERIAL_MAGIC));
    assert.equal(framed.readInt32BE(8), 1);
    assert.equal(framed.readInt32BE(12), 1);
    let position = 16;
    const blockSizes: number[] = [];
    while (position < framed.length) {
      const length = framed.readInt32BE(position);
      blockSizes.push(decompress("snappy", framed.subarray(position + 4, position + 4 + length)).length);
      position += 4 + length;
    }
    assert.equal(position, framed.length);
    assert.deepEqual(blockSizes, [XERIAL_BLOCK_SIZE, XERIAL_BLOCK_SIZE, 10]);
  });

  test("reads raw snappy (as librdkafka writes)", () => {
    const data = sampleData(100_000);
    assert.ok(decompress("snappy", snappyCompressRaw(data)).equals(data));
  });

  test("reads concatenated xerial streams", () => {
    const a = sampleData(1000);
    const b = sampleData(50_000);
    const joined = Buffer.concat([compress("snappy", a), compress("snappy", b)]);
    assert.ok(decompress("snappy", joined).equals(Buffer.concat([a, b])));
  });

  test("a xerial block length past the end is a typed error", () => {
    const framed = compress("snappy", sampleData(1000));
    framed.writeInt32BE(1 << 30, 16);
    assert.throws(() => decompress("snappy", framed), /runs past end/);
  });
});

describe("lz4 framing", () => {
  test("writes a frame Kafka's Lz4BlockInputStream accepts: v1, independent blocks, 64K..4M blocks", () => {
    const frame = compress("lz4", sampleData(600_000));
    const layout = inspectLz4Frame(frame, "records");
    assert.equal(frame[4] >> 6, 1);
    assert.ok(frame[4] & 0x20);
    assert.equal(frame[4] & 0x03, 0);
    assert.ok(layout.blockMaxSize >= 65536 && layout.blockMaxSize <= 4 << 20);
    assert.equal(layout.frameLength, frame.length);
  });

  test("reads a hand-made Kafka-style frame with a stored (incompressible) block", () => {
    const payload = Buffer.from("hello kafka");
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]),
      Buffer.from([payload.length, 0, 0, 0x80]),
      payload,
      Buffer.alloc(4),
    ]);
    assert.ok(decompress("lz4", frame).equals(payload));
  });

  test("compressible and incompressible data round-trip over many 64 KiB blocks; blocks that do not shrink are stored", () => {
    const compressible = sampleData(300_000);
    assert.ok(decompress("lz4", compress("lz4", compressible)).equals(compressible));
    const random = Buffer.alloc(200_000);
    for (let i = 0; i < random.length; i++) random[i] = (Math.random() * 256) | 0;
    const frame = compress("lz4", random);
    assert.ok(decompress("lz4", frame).equals(random));
    assert.equal(frame.readUInt32LE(7), (65536 | 0x80000000) >>> 0, "the first block is stored");
    assert.equal(frame.length, 7 + 4 * 4 + random.length + 4);
    assert.equal(compress("lz4", Buffer.alloc(0)).length, 11);
    const stored = compress("lz4", compressible, "records", { incompressible: true, headroom: 61 });
    assert.equal(stored.length, 61 + 7 + 5 * 4 + compressible.length + 4);
    assert.ok(decompress("lz4", stored.subarray(61)).equals(compressible));
  });

  test("dependent blocks are refused", () => {
    const frame = compress("lz4", sampleData(1000));
    frame[4] &= ~0x20;
    assert.throws(() => decompress("lz4", frame), /dependent blocks/);
  });
});

describe("gzip", () => {
  test("reads concatenated gzip members", () => {
    const joined = Buffer.concat([gzipSync(Buffer.from("ab")), gzipSync(Buffer.from("cd"))]);
    assert.equal(decompress("gzip", joined).toString(), "abcd");
  });
});
