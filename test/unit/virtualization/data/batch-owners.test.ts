import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BatchClassifier,
  EVERY_OWNER,
  NO_OWNER,
} from "../../../../src/features/virtualization/data/batch-owners.ts";
import type { VirtualLayout } from "../../../../src/features/virtualization/mapping/rules.ts";
import {
  buildBatch,
  buildEmptyBatch,
  type CompressionName,
  RecordBatchView,
} from "../../../../src/records/index.ts";

const MARKER = "__kpp_vp";
const layout: VirtualLayout = { topic: "t", virtualPartitions: 32, physicalPartitions: 4, groups: 8 };

/** One batch of `count` records for v at `baseOffset` (v undefined: no marker). */
function batchFor(
  v: number | undefined,
  baseOffset: bigint,
  count = 2,
  compression: CompressionName = "none",
): Buffer {
  return buildBatch({
    baseOffset,
    compression,
    records: Array.from({ length: count }, (_, i) => ({
      value: `v${v}-o${baseOffset + BigInt(i)}`,
      headers:
        v === undefined
          ? [{ key: "other", value: "x" }]
          : [
              { key: "a", value: "b" },
              { key: MARKER, value: String(v) },
            ],
    })),
  });
}

describe("BatchClassifier", () => {
  const classify = (classifier: BatchClassifier, batch: Buffer) =>
    classifier.classify("t", 1, layout, new RecordBatchView(batch)).owner;
  test("marker names the owner; no marker or a marker of another p means v = p", () => {
    const classifier = new BatchClassifier({ markerHeader: MARKER });
    assert.equal(classify(classifier, batchFor(13, 0n)), 13);
    assert.equal(classify(classifier, batchFor(undefined, 0n)), 1);
    assert.equal(classify(classifier, batchFor(2, 0n)), 1);
    assert.equal(classify(classifier, batchFor(33, 0n)), 1);
    const notDecimal = buildBatch({ records: [{ value: "x", headers: [{ key: MARKER, value: "5x" }] }] });
    assert.equal(classify(classifier, notDecimal), 1);
  });
  test("control batches go to everyone, empty batches to no one", () => {
    const classifier = new BatchClassifier({ markerHeader: MARKER });
    assert.equal(
      classify(
        classifier,
        buildBatch({ isControl: true, records: [{ key: Buffer.from([0, 0, 0, 1]), value: null }] }),
      ),
      EVERY_OWNER,
    );
    assert.equal(classify(classifier, buildEmptyBatch({ baseOffset: 5n, lastOffsetDelta: 3 })), NO_OWNER);
  });
  test("compressed batches are decompressed once, then answered from the cache", () => {
    const classifier = new BatchClassifier({ markerHeader: MARKER, cacheEntries: 2 });
    const batch = batchFor(9, 100n, 3, "zstd");
    const first = classifier.classify("t", 1, layout, new RecordBatchView(batch));
    assert.equal(first.owner, 9);
    assert.ok(first.data, "first classification decompresses");
    const second = classifier.classify("t", 1, layout, new RecordBatchView(batch));
    assert.equal(second.owner, 9);
    assert.equal(second.data, undefined, "second classification is cached");
    classifier.classify("t", 1, layout, new RecordBatchView(batchFor(5, 200n, 1, "gzip")));
    classifier.classify("t", 1, layout, new RecordBatchView(batchFor(5, 300n, 1, "gzip")));
    assert.equal(classifier.cachedBatches, 2, "the cache is bounded");
  });
});
