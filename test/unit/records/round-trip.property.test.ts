import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  buildBatch,
  COMPRESSION_NAMES,
  decodeRecords,
  type RecordBatchView,
  type RecordInput,
  splitBatches,
} from "../../../src/records/index.ts";

const bytes = fc.option(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  { nil: null },
);
const record: fc.Arbitrary<RecordInput> = fc.record({
  timestampDelta: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  key: bytes,
  value: bytes,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 12, unit: "grapheme" }), value: bytes }), {
    maxLength: 4,
  }),
});

test("any records survive build -> split -> decode with every codec", () => {
  fc.assert(
    fc.property(
      fc.array(record, { maxLength: 30 }),
      fc.constantFrom(...COMPRESSION_NAMES),
      fc.bigInt({ min: 0n, max: 2n ** 62n }),
      (records, codec, baseOffset) => {
        const batch = buildBatch({ baseOffset, baseTimestamp: 1_000n, compression: codec, records });
        const split = splitBatches(Buffer.concat([batch, batch.subarray(0, 20)]));
        assert.equal(split.batches.length, 1);
        assert.equal(split.trailingPartial?.length, 20);
        const view: RecordBatchView = split.batches[0];
        assert.ok(view.isValidCrc());
        assert.equal(view.baseOffset, baseOffset);
        const decoded = decodeRecords(view);
        assert.equal(decoded.length, records.length);
        decoded.forEach((got, index) => {
          const want = records[index];
          assert.equal(got.offsetDelta, index);
          assert.equal(got.timestampDelta, want.timestampDelta);
          assert.deepEqual(got.key, want.key);
          assert.deepEqual(got.value, want.value);
          assert.deepEqual(
            got.headers,
            (want.headers ?? []).map((h) => ({ key: h.key, value: h.value })),
          );
        });
      },
    ),
    { numRuns: 300, interruptAfterTimeLimit: 10_000 },
  );
});
