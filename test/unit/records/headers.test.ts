import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  decimalHeaderOfFirstRecord,
  encodeRecords,
  NO_HEADER,
  RECORD_SLOTS,
  REPEATED_HEADER,
  RecordBatchError,
  type RecordInput,
  RecordSlot,
  scanRecords,
} from "../../../src/records/index.ts";

const MARKER = "__kpp_vp";
const markerKey = Buffer.from(MARKER);

/** One record: key "k", value "vv", headers a=1 and the marker 42 (body 25 bytes after a 1-byte length). */
const marked: RecordInput = {
  key: "k",
  value: "vv",
  headers: [
    { key: "a", value: "1" },
    { key: MARKER, value: "42" },
  ],
};

function slots(layout: Int32Array, record: number): number[] {
  return [...layout.subarray(record * RECORD_SLOTS, (record + 1) * RECORD_SLOTS)];
}

describe("scanRecords", () => {
  test("locates each record's body, header count and the header named by the key", () => {
    const data = encodeRecords([marked, { value: "x", headers: [] }]);
    const { layout, found } = scanRecords(data, 2, markerKey);
    assert.equal(found, 1);
    // length varint (1) | attributes, timestampDelta, offsetDelta (3) | key (2) | value (3) | count (1) |
    // a=1 (4) | marker: key length (1), key (8), value length (1), value (2)
    assert.deepEqual(slots(layout, 0), [1, 26, 9, 10, 2, 14, 24, 26]);
    assert.equal(data.toString("latin1", 24, 26), "42");
    const second = slots(layout, 1);
    assert.deepEqual(second.slice(0, RecordSlot.headerStart + 1), [27, 34, 33, 34, 0, NO_HEADER]);
  });

  test("without a key, headers are only counted", () => {
    const data = encodeRecords([marked]);
    const { layout, found } = scanRecords(data, 1);
    assert.equal(found, 0);
    assert.deepEqual(slots(layout, 0).slice(0, RecordSlot.headerStart + 1), [1, 26, 9, 10, 2, NO_HEADER]);
  });

  test("a record holding the key twice is marked REPEATED_HEADER", () => {
    const data = encodeRecords([
      {
        value: "a",
        headers: [
          { key: MARKER, value: "1" },
          { key: MARKER, value: "1" },
        ],
      },
    ]);
    const { layout, found } = scanRecords(data, 1, markerKey);
    assert.equal(found, 1);
    assert.equal(layout[RecordSlot.headerStart], REPEATED_HEADER);
  });

  test("errors name the record and header", () => {
    const data = encodeRecords([marked]);
    // The marker's key length (at 14) claims 60 bytes (zigzag 120), past the record's end.
    data[14] = 120;
    assert.throws(() => scanRecords(data, 1, markerKey), {
      name: "RecordBatchError",
      message: "records[0].headers[1].key: length past end",
    });
    assert.throws(() => scanRecords(encodeRecords([marked]), 2, markerKey), {
      message: "records[1].length: varint past end",
    });
    const extra = Buffer.concat([encodeRecords([marked]), Buffer.from([0])]);
    assert.throws(() => scanRecords(extra, 1, markerKey), {
      message: "records: 1 bytes left after the 1 records",
    });
  });
});

describe("decimalHeaderOfFirstRecord", () => {
  const firstWith = (value: string | null, rest: RecordInput[] = []) =>
    encodeRecords([
      {
        value: "v",
        headers: [
          { key: "x", value: "9" },
          { key: MARKER, value },
        ],
      },
      ...rest,
    ]);

  test("reads the first record's header as a decimal number", () => {
    assert.equal(decimalHeaderOfFirstRecord(firstWith("17"), markerKey), 17);
    assert.equal(decimalHeaderOfFirstRecord(firstWith("0"), markerKey), 0);
    assert.equal(decimalHeaderOfFirstRecord(firstWith("999999999"), markerKey), 999_999_999);
  });

  test("no such header, or a value that is no decimal of at most 9 digits: undefined", () => {
    assert.equal(
      decimalHeaderOfFirstRecord(encodeRecords([{ value: "v", headers: [] }]), markerKey),
      undefined,
    );
    assert.equal(decimalHeaderOfFirstRecord(firstWith("1000000000"), markerKey), undefined);
    assert.equal(decimalHeaderOfFirstRecord(firstWith("-1"), markerKey), undefined);
    assert.equal(decimalHeaderOfFirstRecord(firstWith("1a"), markerKey), undefined);
    assert.equal(decimalHeaderOfFirstRecord(firstWith(""), markerKey), undefined);
    assert.equal(decimalHeaderOfFirstRecord(firstWith(null), markerKey), undefined);
  });

  test("only the first record is read, and only up to the header", () => {
    const data = encodeRecords([
      {
        value: "v",
        headers: [
          { key: MARKER, value: "5" },
          { key: "x", value: "9" },
        ],
      },
    ]);
    // The last header's key length now runs past the record, and bytes follow the record.
    data[data.length - 4] = 120;
    const corrupt = Buffer.concat([data, Buffer.from([0xff, 0xff])]);
    assert.throws(() => scanRecords(corrupt, 1, markerKey), RecordBatchError);
    assert.equal(decimalHeaderOfFirstRecord(corrupt, markerKey), 5);
    const later = encodeRecords([
      { value: "v", headers: [] },
      { value: "w", headers: [{ key: MARKER, value: "3" }] },
    ]);
    assert.equal(decimalHeaderOfFirstRecord(later, markerKey), undefined);
  });

  test("a first record malformed before the header raises a located error", () => {
    assert.throws(
      () => decimalHeaderOfFirstRecord(Buffer.alloc(0), markerKey),
      (error: unknown) => error instanceof RecordBatchError && error.path === "records[0].length",
    );
  });
});
