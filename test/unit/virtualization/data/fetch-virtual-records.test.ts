import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchClassifier } from "../../../../src/features/virtualization/data/batch-owners.ts";
import {
  finishCursor,
  splitPhysicalRecords,
  VirtualCursor,
} from "../../../../src/features/virtualization/data/fetch-virtual-records.ts";
import type { VirtualLayout } from "../../../../src/features/virtualization/mapping/rules.ts";
import {
  buildBatch,
  buildEmptyBatch,
  type CompressionName,
  decodeRecords,
  iterateBatches,
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
    partitionLeaderEpoch: 3,
    baseTimestamp: 1_700_000_000_000n,
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

function split(
  blob: Buffer,
  cursors: VirtualCursor[],
  strip = true,
  classifier = new BatchClassifier({ markerHeader: MARKER }),
) {
  return splitPhysicalRecords(blob, cursors, {
    topicKey: "t",
    physicalPartition: 1,
    layout,
    classifier,
    stripKey: strip ? Buffer.from(MARKER) : undefined,
  });
}

interface Seen {
  base: bigint;
  last: bigint;
  count: number;
  control: boolean;
  values: string[];
  headerKeys: string[][];
}

function describeBlob(blob: Buffer): Seen[] {
  const out: Seen[] = [];
  for (const entry of iterateBatches(blob)) {
    assert.equal(entry.kind, "batch");
    const view = entry as RecordBatchView;
    assert.ok(view.isValidCrc(), "every batch has a valid crc");
    const records = decodeRecords(view);
    out.push({
      base: view.baseOffset,
      last: view.lastOffset,
      count: view.recordsCount,
      control: view.isControl,
      values: view.isControl ? [] : records.map((r) => r.value!.toString()),
      headerKeys: view.isControl ? [] : records.map((r) => r.headers.map((h) => h.key)),
    });
  }
  return out;
}

describe("splitPhysicalRecords", () => {
  test("each v gets its own batches; runs of others become one empty batch; a trailing run ends in a control record", () => {
    // p = 1: v1 (no marker, offsets 0-1), v5 (2-3), v9 (4-5), v5 (6-7), v1 marked (8-9), v13 (10-11), v9 (12-13)
    const blob = Buffer.concat([
      batchFor(undefined, 0n),
      batchFor(5, 2n),
      batchFor(9, 4n),
      batchFor(5, 6n),
      batchFor(1, 8n),
      batchFor(13, 10n),
      batchFor(9, 12n),
    ]);
    const v1 = new VirtualCursor(1, 0n);
    const v5 = new VirtualCursor(5, 0n);
    const v9 = new VirtualCursor(9, 0n);
    const v17 = new VirtualCursor(17, 0n);
    const result = split(blob, [v1, v5, v9, v17]);
    assert.equal(result.entries, 7);
    assert.equal(result.lastLeaderEpoch, 3);

    const seen1 = describeBlob(finishCursor(v1));
    assert.deepEqual(
      seen1.map((b) => [b.base, b.last, b.count, b.control]),
      [
        [0n, 1n, 2, false],
        [2n, 7n, 0, false],
        [8n, 9n, 2, false],
        [10n, 13n, 1, true],
      ],
    );
    assert.deepEqual(seen1[2]!.values, ["v1-o8", "v1-o9"]);
    assert.deepEqual(seen1[2]!.headerKeys, [["a"], ["a"]], "marker stripped");
    assert.deepEqual(seen1[0]!.headerKeys, [["other"], ["other"]]);

    const seen5 = describeBlob(finishCursor(v5));
    assert.deepEqual(
      seen5.map((b) => [b.base, b.last, b.count, b.control]),
      [
        [0n, 1n, 0, false],
        [2n, 3n, 2, false],
        [4n, 5n, 0, false],
        [6n, 7n, 2, false],
        [8n, 13n, 1, true],
      ],
    );
    const seen9 = describeBlob(finishCursor(v9));
    assert.deepEqual(
      seen9.map((b) => [b.base, b.last, b.count]),
      [
        [0n, 3n, 0],
        [4n, 5n, 2],
        [6n, 11n, 0],
        [12n, 13n, 2],
      ],
    );
    const seen17 = describeBlob(finishCursor(v17));
    assert.deepEqual(
      seen17.map((b) => [b.base, b.last, b.count, b.control]),
      [[0n, 13n, 1, true]],
    );
    for (const cursor of [v1, v5, v9, v17]) assert.equal(cursor.position, 14n);
    assert.equal(v17.ownBytes, 0);
    assert.ok(v5.ownBytes > 0);
  });

  test("batches before a v's fetch offset are left out, runs start at the fetch offset", () => {
    const blob = Buffer.concat([batchFor(5, 0n), batchFor(9, 2n), batchFor(5, 4n), batchFor(9, 6n)]);
    const v5 = new VirtualCursor(5, 5n);
    const v9 = new VirtualCursor(9, 8n);
    split(blob, [v5, v9]);
    assert.deepEqual(
      describeBlob(finishCursor(v5)).map((b) => [b.base, b.last, b.count, b.control]),
      [
        [4n, 5n, 2, false],
        [6n, 7n, 1, true],
      ],
    );
    assert.equal(v9.chunks.length, 0);
    assert.equal(v9.run, undefined);
    assert.equal(v9.position, 8n);
  });

  test("keepMarker leaves v's batches byte for byte", () => {
    const own = batchFor(5, 0n, 3, "snappy");
    const v5 = new VirtualCursor(5, 0n);
    split(Buffer.concat([own, batchFor(9, 3n)]), [v5], false);
    assert.deepEqual(v5.chunks[0], own);
  });

  test("compressed batches are stripped and recompressed with their codec", () => {
    for (const codec of ["gzip", "snappy", "lz4", "zstd"] as const) {
      const v5 = new VirtualCursor(5, 0n);
      split(Buffer.concat([batchFor(5, 0n, 4, codec), batchFor(9, 4n, 4, codec)]), [v5]);
      const view = new RecordBatchView(v5.chunks[0]!);
      assert.equal(view.compressionName, codec);
      assert.ok(view.isValidCrc());
      assert.deepEqual(
        decodeRecords(view).map((r) => r.headers.map((h) => h.key)),
        [["a"], ["a"], ["a"], ["a"]],
      );
    }
  });

  test("a trailing partial batch is dropped; runs carry over to the next round", () => {
    const whole = Buffer.concat([batchFor(9, 0n), batchFor(13, 2n)]);
    const partial = batchFor(5, 4n).subarray(0, 30);
    const v5 = new VirtualCursor(5, 0n);
    const first = split(Buffer.concat([whole, partial]), [v5]);
    assert.equal(first.entries, 2);
    assert.equal(v5.chunks.length, 0);
    assert.deepEqual(v5.run && [v5.run.start, v5.run.end], [0n, 3n]);
    assert.equal(v5.position, 4n);
    split(Buffer.concat([batchFor(9, 4n), batchFor(5, 6n)]), [v5]);
    assert.deepEqual(
      describeBlob(finishCursor(v5)).map((b) => [b.base, b.last, b.count]),
      [
        [0n, 5n, 0],
        [6n, 7n, 2],
      ],
    );
  });

  test("control batches reach every v; empty batches of the log join runs", () => {
    const control = buildBatch({
      baseOffset: 2n,
      isControl: true,
      producerId: 4n,
      records: [{ key: Buffer.from([0, 0, 0, 1]), value: Buffer.from([0, 0, 0, 0, 0, 0]) }],
    });
    const blob = Buffer.concat([
      batchFor(9, 0n),
      control,
      buildEmptyBatch({ baseOffset: 3n, lastOffsetDelta: 4 }),
      batchFor(5, 8n),
    ]);
    const v5 = new VirtualCursor(5, 0n);
    split(blob, [v5]);
    assert.deepEqual(
      describeBlob(finishCursor(v5)).map((b) => [b.base, b.last, b.count, b.control]),
      [
        [0n, 1n, 0, false],
        [2n, 2n, 1, true],
        [3n, 7n, 0, false],
        [8n, 9n, 2, false],
      ],
    );
  });

  test("legacy entries belong to v = p", () => {
    const legacy = Buffer.alloc(12 + 14);
    legacy.writeBigInt64BE(0n, 0);
    legacy.writeInt32BE(14, 8);
    legacy.writeInt8(0, 16);
    legacy.writeInt32BE(-1, 18);
    legacy.writeInt32BE(-1, 22);
    const v1 = new VirtualCursor(1, 0n);
    const v5 = new VirtualCursor(5, 0n);
    split(Buffer.concat([legacy, batchFor(5, 1n)]), [v1, v5]);
    assert.deepEqual(v1.chunks[0], legacy);
    assert.deepEqual(
      describeBlob(finishCursor(v5)).map((b) => [b.base, b.last, b.count]),
      [
        [0n, 0n, 0],
        [1n, 2n, 2],
      ],
    );
  });

  test("an unreadable batch is given to no virtual partition: cursors that reach it stop there", () => {
    const bad = Buffer.from(batchFor(5, 0n, 2, "gzip"));
    bad.fill(0xff, 70, 80);
    const errors: Error[] = [];
    const v1 = new VirtualCursor(1, 0n);
    const v5 = new VirtualCursor(5, 0n);
    splitPhysicalRecords(Buffer.concat([bad, batchFor(1, 2n)]), [v1, v5], {
      topicKey: "t",
      physicalPartition: 1,
      layout,
      classifier: new BatchClassifier({ markerHeader: MARKER }),
      stripKey: Buffer.from(MARKER),
      onBadBatch: (error) => errors.push(error),
    });
    assert.equal(errors.length, 1);
    for (const cursor of [v1, v5]) {
      assert.equal(cursor.corrupt, true);
      assert.deepEqual(cursor.chunks, []);
      assert.equal(cursor.run, undefined);
      assert.equal(cursor.position, 0n);
    }
  });

  test("a batch whose CRC is wrong is never re-signed nor routed: its v gets what came before, then stops", () => {
    const corrupt = Buffer.from(batchFor(5, 2n));
    corrupt[corrupt.length - 1] ^= 0x01;
    assert.equal(new RecordBatchView(corrupt).isValidCrc(), false);
    const errors: Error[] = [];
    const v5 = new VirtualCursor(5, 0n);
    const v9 = new VirtualCursor(9, 10n);
    splitPhysicalRecords(Buffer.concat([batchFor(5, 0n), corrupt, batchFor(5, 4n)]), [v5, v9], {
      topicKey: "t",
      physicalPartition: 1,
      layout,
      classifier: new BatchClassifier({ markerHeader: MARKER }),
      stripKey: Buffer.from(MARKER),
      onBadBatch: (error) => errors.push(error),
    });
    assert.match(errors[0]!.message, /crc mismatch/);
    assert.equal(v5.corrupt, true);
    assert.equal(v5.position, 2n, "stops at the corrupt batch");
    assert.deepEqual(
      v5.chunks.map((chunk) => new RecordBatchView(chunk).baseOffset),
      [0n],
    );
    assert.ok(!v5.chunks.some((chunk) => chunk.equals(corrupt)));
    assert.equal(v9.corrupt, false, "a cursor past the batch is not affected");
  });
});
