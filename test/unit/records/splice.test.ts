import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  appendHeaderToEveryRecord,
  BatchLayout,
  buildBatch,
  COMPRESSION_NAMES,
  decodeRecords,
  RecordBatchError,
  RecordBatchView,
  rebuildBatch,
  splitBatches,
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

describe("appendHeaderToEveryRecord", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: same records as rebuildBatch, header fields kept, valid CRC`, () => {
      const view = sample(codec);
      const spliced = RecordBatchView.parse(appendHeaderToEveryRecord(view, marker));
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
        const spliced = new RecordBatchView(appendHeaderToEveryRecord(view, marker));
        assert.deepEqual(decodeRecords(spliced), decodeRecords(new RecordBatchView(viaRebuild(view))), name);
      }
    }
  });

  test("a corrupt record raises a located error", () => {
    const batch = Buffer.from(sample("none").buffer);
    batch[BatchLayout.records] = 0x7f;
    assert.throws(
      () => appendHeaderToEveryRecord(new RecordBatchView(batch), marker),
      (error: unknown) =>
        error instanceof RecordBatchError && /batch at offset 10: records\[0\]\./.test(error.message),
    );
  });
});
