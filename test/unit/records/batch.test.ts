import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  BatchLayout,
  buildBatch,
  buildEmptyBatch,
  COMPRESSION_NAMES,
  type CompressionName,
  crc32c,
  decodeRecords,
  iterateBatches,
  iterateRecords,
  type KafkaRecord,
  RecordBatchError,
  RecordBatchView,
  type RecordInput,
  rebuildBatch,
  splitBatches,
  TimestampType,
  withBaseOffset,
  withPartitionLeaderEpoch,
  withProducerState,
} from "../../../src/records/index.ts";

const BASE_TIMESTAMP = 1_700_000_000_000n;

function sampleRecords(count: number, valueSize = 40): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    timestampDelta: i * 3,
    key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
    value: Buffer.alloc(valueSize, `value-${i}|`),
    headers: [
      { key: "h1", value: Buffer.from(`v${i}`) },
      { key: "", value: null },
    ],
  }));
}

function plain(record: KafkaRecord) {
  return {
    timestampDelta: record.timestampDelta,
    offsetDelta: record.offsetDelta,
    key: record.key?.toString("latin1") ?? null,
    value: record.value?.toString("latin1") ?? null,
    headers: record.headers.map((h) => [h.key, h.value?.toString("latin1") ?? null]),
  };
}

function plainInput(record: RecordInput, index: number) {
  const text = (b: Buffer | string | null | undefined) =>
    b === null || b === undefined ? null : Buffer.from(b).toString("latin1");
  return {
    timestampDelta: record.timestampDelta ?? 0,
    offsetDelta: record.offsetDelta ?? index,
    key: text(record.key),
    value: text(record.value),
    headers: (record.headers ?? []).map((h) => [h.key, text(h.value)]),
  };
}

describe("buildBatch / RecordBatchView round trip", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: header fields and records survive`, () => {
      const records = sampleRecords(2000);
      const batch = buildBatch({
        baseOffset: 42n,
        partitionLeaderEpoch: 7,
        compression: codec,
        producerId: 1234n,
        producerEpoch: 3,
        baseSequence: 99,
        isTransactional: true,
        baseTimestamp: BASE_TIMESTAMP,
        records,
      });
      const view = RecordBatchView.parse(batch);
      assert.equal(view.baseOffset, 42n);
      assert.equal(view.partitionLeaderEpoch, 7);
      assert.equal(view.magic, 2);
      assert.equal(view.compressionName, codec);
      assert.equal(view.timestampType, TimestampType.createTime);
      assert.equal(view.isTransactional, true);
      assert.equal(view.isControl, false);
      assert.equal(view.hasDeleteHorizon, false);
      assert.equal(view.lastOffsetDelta, 1999);
      assert.equal(view.lastOffset, 42n + 1999n);
      assert.equal(view.nextOffset, 42n + 2000n);
      assert.equal(view.baseTimestamp, BASE_TIMESTAMP);
      assert.equal(view.maxTimestamp, BASE_TIMESTAMP + 1999n * 3n);
      assert.equal(view.producerId, 1234n);
      assert.equal(view.producerEpoch, 3);
      assert.equal(view.baseSequence, 99);
      assert.equal(view.recordsCount, 2000);
      assert.equal(view.sizeInBytes, batch.length);
      assert.ok(view.isValidCrc());
      if (codec !== "none") assert.ok(view.recordsData.length < 2000 * 40, "compressed");
      assert.deepEqual(decodeRecords(view).map(plain), records.map(plainInput));
    });
  }

  test("uncompressed record fields are slices of the batch, not copies", () => {
    const batch = buildBatch({ baseTimestamp: 0n, records: [{ key: "k", value: "v" }] });
    const [record] = decodeRecords(new RecordBatchView(batch));
    assert.equal(record.value!.buffer, batch.buffer);
  });

  test("header edge cases: empty key, unicode key, null vs empty value, many headers", () => {
    const headers = [
      { key: "", value: Buffer.alloc(0) },
      { key: "ключ-🔑", value: null },
      { key: "x".repeat(300), value: Buffer.alloc(70000, 1) },
      ...Array.from({ length: 200 }, (_, i) => ({ key: `h${i}`, value: Buffer.from([i & 0xff]) })),
    ];
    const records: RecordInput[] = [
      { key: Buffer.alloc(0), value: null, headers },
      { key: null, value: Buffer.alloc(0), headers: [] },
    ];
    for (const codec of COMPRESSION_NAMES) {
      const view = new RecordBatchView(buildBatch({ baseTimestamp: 1n, compression: codec, records }));
      const [first, second] = decodeRecords(view);
      assert.equal(first.key!.length, 0);
      assert.equal(first.value, null);
      assert.equal(first.headers.length, headers.length);
      assert.equal(first.headers[0].key, "");
      assert.equal(first.headers[0].value!.length, 0);
      assert.equal(first.headers[1].key, "ключ-🔑");
      assert.equal(first.headers[1].value, null);
      assert.equal(first.headers[2].value!.length, 70000);
      assert.equal(first.headers[202].value![0], 199);
      assert.equal(second.key, null);
      assert.equal(second.value!.length, 0);
      assert.deepEqual(second.headers, []);
    }
  });

  test("LogAppendTime, control and delete-horizon attributes", () => {
    const view = new RecordBatchView(
      buildBatch({
        timestampType: TimestampType.logAppendTime,
        isControl: true,
        hasDeleteHorizon: true,
        baseTimestamp: 5n,
        maxTimestamp: 9n,
        records: [{ value: "x" }],
      }),
    );
    assert.equal(view.timestampType, TimestampType.logAppendTime);
    assert.ok(view.isControl && view.hasDeleteHorizon && !view.isTransactional);
    assert.equal(view.maxTimestamp, 9n);
    assert.equal(view.attributes, 0x08 | 0x20 | 0x40);
  });

  test("lazy iteration stops early without decoding the rest", () => {
    const view = new RecordBatchView(buildBatch({ baseTimestamp: 0n, records: sampleRecords(10) }));
    const iterator = iterateRecords(view);
    assert.equal(iterator.next().value?.offsetDelta, 0);
    assert.equal(iterator.next().value?.offsetDelta, 1);
  });
});

describe("empty batches", () => {
  test("buildEmptyBatch spans offsets with no records and a valid CRC", () => {
    const batch = buildEmptyBatch({ baseOffset: 100n, lastOffsetDelta: 9, partitionLeaderEpoch: 2 });
    const view = RecordBatchView.parse(batch);
    assert.equal(batch.length, 61);
    assert.equal(view.recordsCount, 0);
    assert.equal(view.lastOffset, 109n);
    assert.equal(view.nextOffset, 110n);
    assert.equal(view.compression, 0);
    assert.ok(view.isValidCrc());
    assert.deepEqual(decodeRecords(view), []);
  });

  test("a compressed batch with no records is written uncompressed", () => {
    const view = new RecordBatchView(buildBatch({ compression: "gzip", records: [] }));
    assert.equal(view.compression, 0);
    assert.equal(view.recordsCount, 0);
  });
});

describe("CRC and in-place rewrites", () => {
  const batch = buildBatch({ baseTimestamp: BASE_TIMESTAMP, compression: "lz4", records: sampleRecords(20) });

  test("crc covers attributes through the end", () => {
    const view = new RecordBatchView(batch);
    assert.equal(view.crc, crc32c(batch.subarray(BatchLayout.attributes)));
    for (const position of [BatchLayout.attributes, BatchLayout.producerId + 3, batch.length - 1]) {
      const corrupt = Buffer.from(batch);
      corrupt[position] ^= 0x10;
      const corruptView = new RecordBatchView(corrupt);
      assert.equal(corruptView.isValidCrc(), false);
      assert.throws(() => corruptView.ensureValidCrc(), /batch at offset 0: crc mismatch/);
    }
  });

  test("withProducerState copies, rewrites and recomputes the CRC without touching records", () => {
    const view = new RecordBatchView(batch);
    const next = withProducerState(view, { producerId: 77n, producerEpoch: 4, baseSequence: 500 });
    assert.notEqual(next.buffer, batch);
    assert.equal(view.producerId, 0n - 1n, "original untouched");
    assert.equal(next.producerId, 77n);
    assert.equal(next.producerEpoch, 4);
    assert.equal(next.baseSequence, 500);
    assert.ok(next.isValidCrc());
    assert.ok(next.recordsData.equals(view.recordsData));
    const inPlace = withProducerState(
      new RecordBatchView(Buffer.from(batch)),
      {
        producerId: 1n,
        producerEpoch: 0,
        baseSequence: 0,
      },
      { inPlace: true },
    );
    assert.ok(inPlace.isValidCrc());
  });

  test("withBaseOffset and withPartitionLeaderEpoch keep the CRC", () => {
    const view = withPartitionLeaderEpoch(withBaseOffset(new RecordBatchView(batch), 1n << 40n), 12);
    assert.equal(view.baseOffset, 1n << 40n);
    assert.equal(view.partitionLeaderEpoch, 12);
    assert.equal(view.crc, new RecordBatchView(batch).crc);
    assert.ok(view.isValidCrc());
  });
});

describe("rebuildBatch", () => {
  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: adds a header to every record and recompresses with the same codec`, () => {
      const original = new RecordBatchView(
        buildBatch({
          baseOffset: 500n,
          compression: codec,
          producerId: 9n,
          producerEpoch: 1,
          baseSequence: 10,
          baseTimestamp: BASE_TIMESTAMP,
          records: sampleRecords(50),
        }),
      );
      const rebuilt = RecordBatchView.parse(
        rebuildBatch(original, (record) => ({
          ...record,
          headers: [...record.headers, { key: "__vp", value: Buffer.from([0, 0, 0, 3]) }],
        })),
      );
      assert.equal(rebuilt.compressionName, codec);
      assert.ok(rebuilt.isValidCrc());
      for (const field of [
        "baseOffset",
        "lastOffsetDelta",
        "producerId",
        "baseSequence",
        "maxTimestamp",
      ] as const) {
        assert.equal(rebuilt[field], original[field], field);
      }
      const records = decodeRecords(rebuilt);
      assert.equal(records.length, 50);
      for (const record of records) {
        assert.equal(record.headers.length, 3);
        assert.equal(record.headers[2].key, "__vp");
      }
    });
  }

  test("dropping records keeps the offset span and the remaining offset deltas", () => {
    const original = new RecordBatchView(buildBatch({ baseTimestamp: 0n, records: sampleRecords(10) }));
    const rebuilt = new RecordBatchView(
      rebuildBatch(original, (record) =>
        record.offsetDelta % 3 === 0 && record.offsetDelta < 9 ? record : null,
      ),
    );
    assert.deepEqual(
      decodeRecords(rebuilt).map((r) => r.offsetDelta),
      [0, 3, 6],
    );
    assert.equal(rebuilt.lastOffsetDelta, 9);
    assert.equal(rebuilt.recordsCount, 3);
  });

  test("can recompress with another codec", () => {
    const original = new RecordBatchView(buildBatch({ baseTimestamp: 0n, records: sampleRecords(10) }));
    const rebuilt = new RecordBatchView(rebuildBatch(original, (r) => r, { compression: "zstd" }));
    assert.equal(rebuilt.compressionName, "zstd");
    assert.deepEqual(decodeRecords(rebuilt).map(plain), decodeRecords(original).map(plain));
  });
});

describe("iterateBatches", () => {
  const batches = [
    buildBatch({ baseOffset: 0n, baseTimestamp: 0n, records: sampleRecords(3) }),
    buildBatch({ baseOffset: 3n, baseTimestamp: 0n, compression: "gzip", records: sampleRecords(4) }),
    buildEmptyBatch({ baseOffset: 7n, lastOffsetDelta: 2 }),
  ];
  const blob = Buffer.concat(batches);

  test("splits a blob into views over slices", () => {
    const split = splitBatches(blob);
    assert.equal(split.trailingPartial, null);
    assert.deepEqual(
      split.batches.map((b) => b.baseOffset),
      [0n, 3n, 7n],
    );
    assert.equal(split.batches[1].buffer.buffer, blob.buffer);
    assert.equal(split.hasLegacy, false);
  });

  test("every truncation point yields the complete batches and a partial tail", () => {
    const boundaries = [0, batches[0].length, batches[0].length + batches[1].length, blob.length];
    for (let cut = 0; cut <= blob.length; cut++) {
      const split = splitBatches(blob.subarray(0, cut));
      const complete = boundaries.filter((b) => b > 0 && b <= cut).length;
      assert.equal(split.batches.length, complete, `cut ${cut}`);
      const tail = cut - (boundaries[complete] ?? 0);
      assert.equal(split.trailingPartial?.length ?? 0, tail, `cut ${cut}`);
    }
  });

  test("legacy magic 0/1 entries pass through untouched", () => {
    const legacy = Buffer.alloc(12 + 26);
    legacy.writeBigInt64BE(5n, 0);
    legacy.writeInt32BE(26, 8);
    legacy.writeInt8(1, 16);
    const entries = [...iterateBatches(Buffer.concat([legacy, batches[0]]))];
    assert.equal(entries[0].kind, "legacy");
    assert.ok(entries[0].buffer.equals(legacy));
    assert.equal(entries[1].kind, "batch");
    assert.equal(splitBatches(legacy).hasLegacy, true);
  });

  test("corrupt framing raises typed errors", () => {
    const badMagic = Buffer.from(batches[0]);
    badMagic[16] = 3;
    assert.throws(() => splitBatches(badMagic), /batch at byte 0: unknown magic 3/);
    const shortLength = Buffer.from(batches[0]);
    shortLength.writeInt32BE(10, 8);
    assert.throws(() => splitBatches(shortLength), /below the minimum/);
  });
});

describe("corrupted inputs", () => {
  function decodeAll(blob: Buffer): void {
    for (const entry of iterateBatches(blob)) {
      if (entry.kind === "batch") for (const _ of iterateRecords(entry, { maxOutputBytes: 1 << 22 })) void _;
    }
  }

  test("truncated record fields name their path", () => {
    const batch = buildBatch({ baseTimestamp: 0n, records: sampleRecords(6) });
    // Lie about the record count: the 7th record runs past the end.
    const lying = Buffer.from(batch);
    lying.writeInt32BE(7, BatchLayout.recordsCount);
    assert.throws(() => decodeRecords(new RecordBatchView(lying)), /batch at offset 0: records\[6\]\.length/);
    const fewer = Buffer.from(batch);
    fewer.writeInt32BE(5, BatchLayout.recordsCount);
    assert.throws(() => decodeRecords(new RecordBatchView(fewer)), /bytes left after the 5 records/);
    // A header key length that runs past the record end.
    const headerKeyOffset = batch.lastIndexOf(Buffer.from("h1")) - 1;
    const broken = Buffer.from(batch);
    broken[headerKeyOffset] = 0x7e;
    assert.throws(
      () => decodeRecords(new RecordBatchView(broken)),
      /records\[5\]\.headers\[0\]\.key: length past end/,
    );
  });

  for (const codec of COMPRESSION_NAMES) {
    test(`${codec}: random corruption raises RecordBatchError or decodes, never anything else`, () => {
      const batch = buildBatch({ baseTimestamp: 0n, compression: codec, records: sampleRecords(30, 200) });
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(batch.length - 1), fc.integer({ min: 1, max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          fc.nat(batch.length),
          (flips, cut) => {
            const corrupt = Buffer.from(batch);
            for (const [position, mask] of flips) corrupt[position] ^= mask;
            for (const blob of [corrupt, corrupt.subarray(0, cut)]) {
              try {
                decodeAll(blob);
              } catch (error) {
                if (!(error instanceof RecordBatchError)) throw error;
              }
            }
          },
        ),
        { numRuns: 300, interruptAfterTimeLimit: 5000 },
      );
    });
  }

  test("random bytes never crash the decoder", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom(...COMPRESSION_NAMES),
        (bytes, codec) => {
          const header = buildEmptyBatch({ baseOffset: 0n, lastOffsetDelta: 0 });
          const batch = Buffer.concat([header, bytes]);
          batch.writeInt32BE(batch.length - 12, 8);
          batch.writeUInt16BE(COMPRESSION_NAMES.indexOf(codec as CompressionName), BatchLayout.attributes);
          batch.writeInt32BE(bytes.length % 7, BatchLayout.recordsCount);
          try {
            decodeAll(batch);
          } catch (error) {
            if (!(error instanceof RecordBatchError)) throw error;
          }
        },
      ),
      { numRuns: 1000, interruptAfterTimeLimit: 5000 },
    );
  });
});
