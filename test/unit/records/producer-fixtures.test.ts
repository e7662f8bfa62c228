import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  COMPRESSION_NAMES,
  decodeRecords,
  inspectLz4Frame,
  type KafkaRecord,
  rebuildBatch,
  snappyBlockLengths,
  splitBatches,
  withProducerState,
  XERIAL_MAGIC,
} from "../../../src/records/index.ts";
import { sampleRecords } from "../../fixtures/records/sample-records.ts";

const FIXTURES = new URL("../../fixtures/records/", import.meta.url);
const expected = sampleRecords(600);

function asText(record: KafkaRecord) {
  return {
    key: record.key?.toString("utf8") ?? null,
    value: record.value?.toString("utf8") ?? null,
    headers: record.headers.map((h) => [h.key, h.value?.toString("utf8") ?? null]),
  };
}

function load(producer: string, codec: string) {
  const split = splitBatches(readFileSync(new URL(`${producer}-${codec}.bin`, FIXTURES)));
  assert.equal(split.trailingPartial, null);
  return split.batches.filter((b) => !b.isControl);
}

describe("batches written by real producers (stored by a Kafka 4.4.0 broker)", () => {
  for (const producer of ["java", "librdkafka"]) {
    for (const codec of COMPRESSION_NAMES) {
      test(`${producer} ${codec}: valid CRC, exact records, re-encodable`, () => {
        const batches = load(producer, codec);
        const records = batches.flatMap((batch) => {
          assert.ok(batch.isValidCrc());
          assert.equal(batch.compressionName, codec);
          return decodeRecords(batch).map(asText);
        });
        assert.deepEqual(records, expected);
        for (const batch of batches) {
          const rebuilt = rebuildBatch(batch, (record) => record);
          if (codec === "none") assert.ok(rebuilt.equals(batch.buffer), "byte-identical re-encoding");
          const again = splitBatches(rebuilt).batches[0];
          assert.deepEqual(decodeRecords(again).map(asText), decodeRecords(batch).map(asText));
          const restamped = withProducerState(batch, { producerId: 5n, producerEpoch: 1, baseSequence: 0 });
          assert.ok(restamped.isValidCrc());
        }
      });
    }
  }

  test("framing as each client writes it", () => {
    const javaSnappy = load("java", "snappy")[0].recordsData;
    assert.ok(javaSnappy.subarray(0, 8).equals(XERIAL_MAGIC));
    assert.deepEqual(snappyBlockLengths(javaSnappy).slice(0, 2), [32768, 32768]);
    assert.ok(!load("librdkafka", "snappy")[0].recordsData.subarray(0, 8).equals(XERIAL_MAGIC));
    const javaLz4 = load("java", "lz4")[0].recordsData;
    assert.equal(javaLz4[4], 0x60, "FLG: version 1, independent blocks, no checksums");
    assert.equal(javaLz4[5], 0x40, "BD: 64 KiB blocks");
    assert.ok(inspectLz4Frame(javaLz4, "records").blockCount > 1);
  });
});
