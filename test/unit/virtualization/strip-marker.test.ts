import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { stripHeaderFromEveryRecord } from "../../../src/features/virtualization/strip-marker.ts";
import {
  appendHeaderToEveryRecord,
  buildBatch,
  COMPRESSION_NAMES,
  decodeRecords,
  RecordBatchView,
} from "../../../src/records/index.ts";

const MARKER = "__kpp_vp";
const markerKey = Buffer.from(MARKER);

function original(codec: (typeof COMPRESSION_NAMES)[number]): RecordBatchView {
  return new RecordBatchView(
    buildBatch({
      baseOffset: 40n,
      compression: codec,
      baseTimestamp: 1_700_000_000_000n,
      producerId: 7n,
      producerEpoch: 1,
      baseSequence: 5,
      records: Array.from({ length: 150 }, (_, i) => ({
        timestampDelta: i,
        key: i % 4 ? Buffer.from(`key-${i}`) : null,
        value: i % 9 ? Buffer.alloc(50 + i, i) : null,
        headers: Array.from({ length: i === 3 ? 64 : i % 3 }, (_, h) => ({ key: `h${h}`, value: `x${h}` })),
      })),
    }),
  );
}

describe("stripHeaderFromEveryRecord", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: restores the records as they were before the marker was appended`, () => {
      const before = original(codec);
      const marked = new RecordBatchView(appendHeaderToEveryRecord(before, { key: MARKER, value: "17" }));
      const stripped = new RecordBatchView(stripHeaderFromEveryRecord(marked, markerKey));
      assert.ok(stripped.isValidCrc());
      assert.equal(stripped.compression, before.compression);
      assert.equal(stripped.baseOffset, before.baseOffset);
      assert.equal(stripped.lastOffsetDelta, before.lastOffsetDelta);
      assert.equal(stripped.producerId, before.producerId);
      assert.equal(stripped.baseSequence, before.baseSequence);
      assert.equal(stripped.maxTimestamp, before.maxTimestamp);
      assert.deepEqual(decodeRecords(stripped), decodeRecords(before));
      if (codec === "none") assert.deepEqual(stripped.buffer, before.buffer);
    });
  }

  test("a marker in the middle of the headers is removed, the others keep their order", () => {
    const batch = new RecordBatchView(
      buildBatch({
        records: [
          {
            value: "a",
            headers: [
              { key: "x", value: "1" },
              { key: MARKER, value: "5" },
              { key: "y", value: null },
            ],
          },
          { value: "b", headers: [] },
        ],
      }),
    );
    const stripped = decodeRecords(new RecordBatchView(stripHeaderFromEveryRecord(batch, markerKey)));
    assert.deepEqual(
      stripped[0]!.headers.map((h) => h.key),
      ["x", "y"],
    );
    assert.deepEqual(stripped[1]!.headers, []);
  });

  test("a batch without the marker is returned as its own bytes", () => {
    const batch = original("gzip");
    assert.equal(stripHeaderFromEveryRecord(batch, markerKey), batch.buffer);
  });

  test("a record repeating the marker loses every copy", () => {
    const batch = new RecordBatchView(
      buildBatch({
        compression: "lz4",
        records: [
          {
            value: "a",
            headers: [
              { key: MARKER, value: "1" },
              { key: "k", value: "v" },
              { key: MARKER, value: "1" },
            ],
          },
        ],
      }),
    );
    const view = new RecordBatchView(stripHeaderFromEveryRecord(batch, markerKey));
    assert.ok(view.isValidCrc());
    assert.deepEqual(
      decodeRecords(view)[0]!.headers.map((h) => h.key),
      ["k"],
    );
  });

  test("corrupt records raise a RecordBatchError", () => {
    const batch = Buffer.from(
      buildBatch({ records: [{ value: "a", headers: [{ key: MARKER, value: "1" }] }] }),
    );
    batch.writeInt8(0x7f, 61);
    assert.throws(() => stripHeaderFromEveryRecord(new RecordBatchView(batch), markerKey), {
      name: "RecordBatchError",
    });
  });
});
