import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { KafkaProtocolError } from "../../../src/protocol/errors.ts";
import { Reader } from "../../../src/protocol/primitives/reader.ts";
import {
  countTaggedFields,
  readTaggedFields,
  type TaggedField,
  writeTaggedFields,
} from "../../../src/protocol/primitives/tagged.ts";
import {
  sizeOfUnsignedVarint,
  Writer,
  ZERO_COPY_THRESHOLD,
} from "../../../src/protocol/primitives/writer.ts";

function bytesOf(write: (w: Writer) => void): Buffer {
  const w = new Writer(16);
  write(w);
  return w.finish();
}

function hex(write: (w: Writer) => void): string {
  return bytesOf(write).toString("hex");
}

function reader(hexText: string): Reader {
  return new Reader(Buffer.from(hexText, "hex"));
}

function assertProtocolError(run: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof KafkaProtocolError, `expected KafkaProtocolError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

describe("unsigned varint", () => {
  test("hand-computed encodings", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [1, "01"],
      [127, "7f"],
      [128, "8001"],
      [300, "ac02"],
      [16383, "ff7f"],
      [16384, "808001"],
      [2 ** 21 - 1, "ffff7f"],
      [2 ** 28, "8080808001"],
      [INT32_MAX, "ffffffff07"],
      [2 ** 32 - 1, "ffffffff0f"],
    ];
    for (const [value, expected] of cases) {
      assert.equal(
        hex((w) => w.unsignedVarint(value)),
        expected,
        `value ${value}`,
      );
      assert.equal(reader(expected).unsignedVarint(), value);
      assert.equal(sizeOfUnsignedVarint(value), expected.length / 2);
    }
  });

  test("round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (value) => {
        const b = bytesOf((w) => w.unsignedVarint(value));
        const r = new Reader(b);
        assert.equal(r.unsignedVarint(), value);
        assert.equal(r.remaining(), 0);
        assert.equal(b.length, sizeOfUnsignedVarint(value));
      }),
    );
  });

  test("rejects more than 32 bits, more than 5 bytes, truncation and bad values", () => {
    assertProtocolError(() => reader("ffffffff1f").unsignedVarint(), "INVALID_VARINT");
    assertProtocolError(() => reader("ffffffffff01").unsignedVarint(), "INVALID_VARINT");
    assertProtocolError(() => reader("8080").unsignedVarint(), "TRUNCATED");
    assertProtocolError(() => reader("").unsignedVarint(), "TRUNCATED");
    assertProtocolError(() => new Writer().unsignedVarint(-1), "INVALID_VALUE");
    assertProtocolError(() => new Writer().unsignedVarint(2 ** 32), "INVALID_VALUE");
    assertProtocolError(() => new Writer().unsignedVarint(1.5), "INVALID_VALUE");
  });
});

describe("varint (zigzag int32)", () => {
  test("hand-computed encodings", () => {
    const cases: [number, string][] = [
      [0, "00"],
      [-1, "01"],
      [1, "02"],
      [-64, "7f"],
      [64, "8001"],
      [2 ** 28, "8080808002"],
      [INT32_MAX, "feffffff0f"],
      [INT32_MIN, "ffffffff0f"],
    ];
    for (const [value, expected] of cases) {
      assert.equal(
        hex((w) => w.varint(value)),
        expected,
        `value ${value}`,
      );
      assert.equal(reader(expected).varint(), value);
    }
  });

  test("round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: INT32_MIN, max: INT32_MAX }), (value) => {
        assert.equal(new Reader(bytesOf((w) => w.varint(value))).varint(), value);
      }),
    );
  });
});

describe("varlong (zigzag int64)", () => {
  test("hand-computed encodings", () => {
    const cases: [bigint, string][] = [
      [0n, "00"],
      [-1n, "01"],
      [1n, "02"],
      [2n ** 28n, "8080808002"],
      [BigInt(INT32_MAX), "feffffff0f"],
      [BigInt(INT32_MIN), "ffffffff0f"],
      [2n ** 63n - 1n, "feffffffffffffffff01"],
      [-(2n ** 63n), "ffffffffffffffffff01"],
    ];
    for (const [value, expected] of cases) {
      assert.equal(
        hex((w) => w.varlong(value)),
        expected,
        `value ${value}`,
      );
      assert.equal(reader(expected).varlong(), value);
    }
  });

  test("round trip", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
        assert.equal(new Reader(bytesOf((w) => w.varlong(value))).varlong(), value);
      }),
    );
  });

  test("rejects more than 64 bits and out-of-range values", () => {
    assertProtocolError(() => reader("ffffffffffffffffff02").varlong(), "INVALID_VARINT");
    assertProtocolError(() => reader("ffffffffffffffffff8101").varlong(), "INVALID_VARINT");
    assertProtocolError(() => new Writer().varlong(2n ** 63n), "INVALID_VALUE");
  });
});

describe("fixed-width integers", () => {
  test("hand-computed encodings of edge values", () => {
    assert.equal(
      hex((w) => {
        w.int8(-1);
        w.int8(127);
        w.int16(-32768);
        w.uint16(65535);
        w.int32(INT32_MIN);
        w.int32(-1);
        w.uint32(2 ** 32 - 1);
        w.int64(-(2n ** 63n));
        w.int64(2n ** 63n - 1n);
        w.bool(true);
        w.float64(1.5);
      }),
      "ff7f" +
        "8000" +
        "ffff" +
        "80000000" +
        "ffffffff" +
        "ffffffff" +
        "8000000000000000" +
        "7fffffffffffffff" +
        "01" +
        "3ff8000000000000",
    );
    const r = reader(
      "ff7f" +
        "8000" +
        "ffff" +
        "80000000" +
        "ffffffff" +
        "ffffffff" +
        "8000000000000000" +
        "7fffffffffffffff" +
        "02" +
        "3ff8000000000000",
    );
    assert.equal(r.int8(), -1);
    assert.equal(r.int8(), 127);
    assert.equal(r.int16(), -32768);
    assert.equal(r.uint16(), 65535);
    assert.equal(r.int32(), INT32_MIN);
    assert.equal(r.int32(), -1);
    assert.equal(r.uint32(), 2 ** 32 - 1);
    assert.equal(r.int64(), -(2n ** 63n));
    assert.equal(r.int64(), 2n ** 63n - 1n);
    assert.equal(r.bool(), true, "any non-zero byte is true, as in Java");
    assert.equal(r.float64(), 1.5);
    assert.equal(r.remaining(), 0);
  });

  test("round trips", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -128, max: 127 }),
        fc.integer({ min: -32768, max: 32767 }),
        fc.integer({ min: INT32_MIN, max: INT32_MAX }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.double(),
        (i8, i16, i32, i64, f64) => {
          const r = new Reader(
            bytesOf((w) => {
              w.int8(i8);
              w.int16(i16);
              w.int32(i32);
              w.int64(i64);
              w.float64(f64);
            }),
          );
          assert.equal(r.int8(), i8);
          assert.equal(r.int16(), i16);
          assert.equal(r.int32(), i32);
          assert.equal(r.int64(), i64);
          assert.ok(Object.is(r.float64(), f64));
        },
      ),
    );
  });

  test("out-of-range and non-integer values are typed errors", () => {
    assertProtocolError(() => new Writer().int8(128), "INVALID_VALUE");
    assertProtocolError(() => new Writer().int16(40000), "INVALID_VALUE");
    assertProtocolError(() => new Writer().int32(INT32_MAX + 1), "INVALID_VALUE");
    assertProtocolError(() => new Writer().int32(0.5), "INVALID_VALUE");
    assertProtocolError(() => new Writer().int32(undefined as unknown as number), "INVALID_VALUE");
    assertProtocolError(() => new Writer().uint32(-1), "INVALID_VALUE");
    assertProtocolError(() => new Writer().int64(2n ** 63n), "INVALID_VALUE");
  });

  test("truncated reads are typed errors", () => {
    assertProtocolError(() => reader("").int8(), "TRUNCATED");
    assertProtocolError(() => reader("00").int16(), "TRUNCATED");
    assertProtocolError(() => reader("000000").int32(), "TRUNCATED", /needs 4 bytes, 3 left/);
    assertProtocolError(() => reader("00000000000000").int64(), "TRUNCATED");
    assertProtocolError(() => reader("00").float64(), "TRUNCATED");
  });
});

describe("uuid", () => {
  test("edge values", () => {
    for (const value of ["0".repeat(32), "f".repeat(32), "0123456789abcdef0123456789abcdef"]) {
      const b = bytesOf((w) => w.uuid(value));
      assert.equal(b.toString("hex"), value);
      assert.equal(new Reader(b).uuid(), value);
    }
  });

  test("round trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (raw) => {
        const value = Buffer.from(raw).toString("hex");
        assert.equal(new Reader(bytesOf((w) => w.uuid(value))).uuid(), value);
      }),
    );
  });

  test("uuids that share a slot of the text cache read back as themselves, in any order", () => {
    // The same four 32-bit words in another order: the same slot, a different uuid.
    const first = "00000001000000020000000300000004";
    const second = "00000004000000030000000200000001";
    const bytes = Buffer.from(first + second + first + first + second, "hex");
    const r = new Reader(bytes);
    assert.deepEqual(
      [r.uuid(), r.uuid(), r.uuid(), r.uuid(), r.uuid()],
      [first, second, first, first, second],
    );
  });

  test("rejects malformed text and short input", () => {
    assertProtocolError(() => new Writer().uuid("ABCDEF0123456789abcdef0123456789"), "INVALID_VALUE");
    assertProtocolError(() => new Writer().uuid("1234"), "INVALID_VALUE");
    assertProtocolError(() => reader("00".repeat(15)).uuid(), "TRUNCATED");
  });
});

/** Any Unicode scalar value (lone surrogates cannot be encoded as UTF-8). */
const codePoint = fc
  .oneof(
    fc.integer({ min: 0, max: 0x7f }),
    fc.integer({ min: 0x80, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0x10ffff }),
  )
  .map((c) => String.fromCodePoint(c));

describe("strings", () => {
  test("hand-computed encodings", () => {
    assert.equal(
      hex((w) => w.string("abc")),
      "0003616263",
    );
    assert.equal(
      hex((w) => w.compactString("abc")),
      "04616263",
    );
    assert.equal(
      hex((w) => w.nullableString(null)),
      "ffff",
    );
    assert.equal(
      hex((w) => w.compactNullableString(null)),
      "00",
    );
    assert.equal(
      hex((w) => w.compactString("")),
      "01",
    );
    assert.equal(
      hex((w) => w.string("é")),
      "0002c3a9",
    );
    const long = "x".repeat(200);
    assert.equal(
      hex((w) => w.compactString(long)),
      `c901${"78".repeat(200)}`,
    );
  });

  test("round trip of any Unicode text, classic and compact, nullable or not", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: codePoint, maxLength: 300 }),
        fc.option(fc.string({ maxLength: 20 })),
        (s, n) => {
          const r = new Reader(
            bytesOf((w) => {
              w.string(s);
              w.compactString(s);
              w.nullableString(n);
              w.compactNullableString(n);
            }),
          );
          assert.equal(r.string(), s);
          assert.equal(r.compactString(), s);
          assert.equal(r.nullableString(), n);
          assert.equal(r.compactNullableString(), n);
          assert.equal(r.remaining(), 0);
        },
      ),
    );
  });

  test("null where not nullable, negative lengths, lengths past the end, invalid UTF-8, too long", () => {
    assertProtocolError(() => reader("ffff").string(), "NULL_NOT_ALLOWED");
    assertProtocolError(() => reader("00").compactString(), "NULL_NOT_ALLOWED");
    assertProtocolError(() => reader("fffe").nullableString(), "NEGATIVE_LENGTH");
    assertProtocolError(
      () => reader("0384").string(),
      "TRUNCATED",
      /length 900 past end of frame \(0 bytes left\)/,
    );
    assertProtocolError(() => reader("0002c328").string(), "INVALID_UTF8");
    assertProtocolError(() => reader("03eda080").compactString(), "INVALID_UTF8", /not valid UTF-8/);
    assertProtocolError(() => reader("818002").compactString(), "TOO_LARGE");
    assertProtocolError(() => new Writer().string("x".repeat(0x8000)), "TOO_LARGE");
    assertProtocolError(() => new Writer().compactString("é".repeat(0x4000)), "TOO_LARGE");
    assertProtocolError(() => new Writer().string(null as unknown as string), "NULL_NOT_ALLOWED");
  });
});

describe("bytes", () => {
  test("encodings and zero-copy reads", () => {
    assert.equal(
      hex((w) => w.bytes(Buffer.from([1, 2]))),
      "000000020102",
    );
    assert.equal(
      hex((w) => w.compactBytes(Buffer.from([1, 2]))),
      "030102",
    );
    assert.equal(
      hex((w) => w.nullableBytes(null)),
      "ffffffff",
    );
    assert.equal(
      hex((w) => w.compactNullableBytes(null)),
      "00",
    );
    const frame = Buffer.from("00000003aabbcc", "hex");
    const slice = new Reader(frame).bytes();
    assert.equal(slice.buffer, frame.buffer, "bytes are a slice of the frame");
    assert.equal(slice.byteOffset, frame.byteOffset + 4);
  });

  test("round trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.option(fc.uint8Array({ maxLength: 20 })), (b, n) => {
        const r = new Reader(
          bytesOf((w) => {
            w.bytes(b);
            w.compactBytes(b);
            w.nullableBytes(n);
            w.compactNullableBytes(n);
          }),
        );
        assert.deepEqual(new Uint8Array(r.bytes()), b);
        assert.deepEqual(new Uint8Array(r.compactBytes()), b);
        const nb = r.nullableBytes();
        const cnb = r.compactNullableBytes();
        assert.deepEqual(nb === null ? null : new Uint8Array(nb), n);
        assert.deepEqual(cnb === null ? null : new Uint8Array(cnb), n);
      }),
    );
  });

  test("bad lengths", () => {
    assertProtocolError(() => reader("ffffffff").bytes(), "NULL_NOT_ALLOWED");
    assertProtocolError(() => reader("fffffffe").nullableBytes(), "NEGATIVE_LENGTH");
    assertProtocolError(() => reader("7fffffff00").bytes(), "TRUNCATED", /length 2147483647 past end/);
    assertProtocolError(() => reader("ffffffff0f").compactBytes(), "TRUNCATED");
  });
});

describe("array lengths", () => {
  test("classic and compact, null and checked against the bytes left", () => {
    assert.equal(reader("00000002" + "00".repeat(8)).arrayLength(4), 2);
    assert.equal(reader("ffffffff").arrayLength(1), -1);
    assert.equal(reader("03" + "0000").compactArrayLength(1), 2);
    assert.equal(reader("00").compactArrayLength(1), -1);
    assertProtocolError(() => reader("fffffffe").arrayLength(1), "NEGATIVE_LENGTH");
    assertProtocolError(() => reader("00000003" + "00".repeat(8)).arrayLength(4), "TRUNCATED", /3 elements/);
    assertProtocolError(() => reader("7fffffff").arrayLength(1), "TRUNCATED");
    assertProtocolError(() => reader("ffffffff0f").compactArrayLength(1), "TRUNCATED");
    assert.equal(
      hex((w) => {
        w.arrayLength(2);
        w.compactArrayLength(2);
        w.compactArrayLength(-1);
      }),
      "000000020300",
    );
  });
});

describe("tagged fields", () => {
  const taggedList = fc
    .uniqueArray(fc.integer({ min: 0, max: 100000 }), { maxLength: 5 })
    .chain((tags) =>
      fc.tuple(
        ...tags.sort((a, b) => a - b).map((tag) => fc.uint8Array({ maxLength: 30 }).map((d) => ({ tag, d }))),
      ),
    );

  test("round trip of raw tagged fields", () => {
    fc.assert(
      fc.property(taggedList, (entries) => {
        const fields: TaggedField[] = entries.map(({ tag, d }) => ({ tag, data: Buffer.from(d) }));
        const b = bytesOf((w) => writeTaggedFields(w, fields.length === 0 ? undefined : fields));
        const r = new Reader(b);
        const back = readTaggedFields(r);
        assert.equal(r.remaining(), 0);
        assert.deepEqual(back ?? [], fields);
      }),
    );
  });

  test("hand-computed encoding", () => {
    assert.equal(
      hex((w) =>
        writeTaggedFields(w, [
          { tag: 0, data: Buffer.from([0xaa]) },
          { tag: 300, data: Buffer.alloc(0) },
        ]),
      ),
      "02" + "0001aa" + "ac0200",
    );
    assert.equal(
      hex((w) => writeTaggedFields(w, undefined)),
      "00",
    );
  });

  test("unsorted tags are refused, truncated sections are typed errors", () => {
    assertProtocolError(
      () =>
        countTaggedFields([
          { tag: 5, data: Buffer.alloc(0) },
          { tag: 1, data: Buffer.alloc(0) },
        ]),
      "INVALID_TAG",
    );
    assertProtocolError(() => readTaggedFields(reader("010105")), "TRUNCATED");
    assertProtocolError(() => readTaggedFields(reader("0201")), "TRUNCATED");
  });
});

describe("Writer", () => {
  test("finished buffers survive later writes and resets", () => {
    const w = new Writer(64);
    w.int32(1);
    const first = w.finish();
    w.int32(2);
    w.reset();
    w.int32(3);
    const second = w.finish();
    for (let i = 0; i < 100; i++) w.int32(0x7f7f7f7f);
    w.finish();
    assert.equal(first.toString("hex"), "00000001");
    assert.equal(second.toString("hex"), "00000003");
  });

  test("large buffers become chunks by reference; finish() joins them", () => {
    const big = Buffer.alloc(ZERO_COPY_THRESHOLD * 2, 9);
    const w = new Writer(64);
    const mark = w.reserveInt32();
    w.int16(7);
    w.bytes(big);
    w.int8(1);
    w.fillLength(mark);
    const chunks = w.finishChunks();
    assert.ok(chunks.includes(big), "the big buffer is referenced, not copied");
    const joined = Buffer.concat(chunks);
    assert.equal(joined.readInt32BE(0), joined.length - 4);
    w.int16(7);
    w.bytes(big);
    const single = w.finish();
    assert.equal(single.length, 2 + 4 + big.length);
    assert.deepEqual(single.subarray(6), big);
  });

  test("grows across slabs and reports its length", () => {
    const w = new Writer(8);
    for (let i = 0; i < 10000; i++) w.int32(i);
    assert.equal(w.length, 40000);
    const b = w.finish();
    assert.equal(b.length, 40000);
    assert.equal(b.readInt32BE(4 * 9999), 9999);
  });
});
