import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { RecordBatchError } from "../../../src/records/errors.ts";
import { readVarint, readVarlong, varintSize, writeVarint } from "../../../src/records/varint.ts";

function encode(value: number): Buffer {
  const buf = Buffer.alloc(10);
  return buf.subarray(0, writeVarint(buf, 0, value));
}

function cursor(hex: string) {
  const buf = Buffer.from(hex, "hex");
  return { buf, pos: 0, end: buf.length };
}

describe("zigzag varints", () => {
  const known: [number, string][] = [
    [0, "00"],
    [-1, "01"],
    [1, "02"],
    [63, "7e"],
    [-64, "7f"],
    [64, "8001"],
    [2147483647, "feffffff0f"],
    [-2147483648, "ffffffff0f"],
  ];
  for (const [value, hex] of known) {
    test(`${value} <-> ${hex}`, () => {
      assert.equal(encode(value).toString("hex"), hex);
      assert.equal(readVarint(cursor(hex), "x"), value);
      assert.equal(readVarlong(cursor(hex), "x"), value);
      assert.equal(varintSize(value), hex.length / 2);
    });
  }

  test("int32 round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const c = { buf: encode(value), pos: 0, end: 0 };
        c.end = c.buf.length;
        assert.equal(readVarint(c, "x"), value);
        assert.equal(c.pos, c.end);
      }),
    );
  });

  test("safe-integer varlong round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 - 1 }), (value) => {
        const c = { buf: encode(value), pos: 0, end: 0 };
        c.end = c.buf.length;
        assert.equal(readVarlong(c, "x"), value);
        assert.equal(varintSize(value), c.end);
      }),
    );
  });

  test("truncated and overlong inputs raise typed errors", () => {
    assert.throws(() => readVarint(cursor("80"), "f"), RecordBatchError);
    assert.throws(() => readVarint(cursor("ffffffffff01"), "f"), /longer than 5 bytes/);
    assert.throws(() => readVarlong(cursor("ffffffffffffffffffff01"), "f"), /longer than 10 bytes/);
    assert.throws(() => readVarlong(cursor("ffffffffffffffff7f"), "f"), /beyond 2\^52/);
  });
});
