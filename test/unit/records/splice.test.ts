import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  BatchLayout,
  buildBatch,
  COMPRESSION_NAMES,
  decodeRecords,
  RecordBatchError,
  RecordBatchView,
  rebuildBatch,
  setHeaderOnEveryRecord,
  splitBatches,
  stripHeaderFromEveryRecord,
} from "../../../src/records/index.ts";

const marker = { key: "__vp", value: Buffer.from([0, 0, 0, 9]) };

function viaRebuild(view: RecordBatchView): Buffer {
  return rebuildBatch(view, (record) => ({ ...record, headers: [...record.headers, marker] }));
}

function sample(codec: (typeof COMPRESSION_NAMES)[number]): RecordBatchView {
  return new RecordBatchView(
    buildBatch({
      baseOffset: 10n,
      compression: codec,
      baseTimestamp: 1_700_000_000_000n,
      producerId: 3n,
      producerEpoch: 0,
      baseSequence: 0,
      records: Array.from({ length: 200 }, (_, i) => ({
        timestampDelta: i,
        key: i % 3 ? Buffer.from(`k${i}`) : null,
        value: i % 11 ? Buffer.alloc(100 + i, i) : null,
        // 63 existing headers make the count varint grow from one byte to two.
        headers: Array.from({ length: i === 5 ? 63 : i % 3 }, (_, h) => ({ key: `h${h}`, value: null })),
      })),
    }),
  );
}

describe("setHeaderOnEveryRecord", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: same records as rebuildBatch, header fields kept, valid CRC`, () => {
      const view = sample(codec);
      const spliced = RecordBatchView.parse(setHeaderOnEveryRecord(view, marker));
      assert.ok(spliced.isValidCrc());
      assert.equal(spliced.compressionName, codec);
      assert.ok(
        spliced.buffer
          .subarray(BatchLayout.attributes, BatchLayout.records)
          .equals(view.buffer.subarray(BatchLayout.attributes, BatchLayout.records)),
      );
      const rebuilt = new RecordBatchView(viaRebuild(view));
      assert.deepEqual(decodeRecords(spliced), decodeRecords(rebuilt));
      if (codec === "none")
        assert.ok(spliced.buffer.equals(rebuilt.buffer), "byte-identical to rebuildBatch");
    });
  }

  test("batches from real producers", () => {
    for (const name of ["java-none", "librdkafka-none", "java-zstd", "librdkafka-lz4"]) {
      const blob = readFileSync(new URL(`../../fixtures/records/${name}.bin`, import.meta.url));
      for (const view of splitBatches(blob).batches) {
        const spliced = new RecordBatchView(setHeaderOnEveryRecord(view, marker));
        assert.deepEqual(decodeRecords(spliced), decodeRecords(new RecordBatchView(viaRebuild(view))), name);
      }
    }
  });

  test("a corrupt record raises a located error", () => {
    const batch = Buffer.from(sample("none").buffer);
    batch[BatchLayout.records] = 0x7f;
    assert.throws(
      () => setHeaderOnEveryRecord(new RecordBatchView(batch), marker),
      (error: unknown) =>
        error instanceof RecordBatchError && /batch at offset 10: records\[0\]\./.test(error.message),
    );
  });
});

const MARKER = "__kpp_vp";
const markerKey = Buffer.from(MARKER);

function unmarked(codec: (typeof COMPRESSION_NAMES)[number]): RecordBatchView {
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
      const before = unmarked(codec);
      const marked = new RecordBatchView(setHeaderOnEveryRecord(before, { key: MARKER, value: "17" }));
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
    const batch = unmarked("gzip");
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
