import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildBatch,
  hasHighProducerIds,
  RecordBatchView,
  remapProducerIds,
} from "../../../src/records/index.ts";

const batchOf = (producerId: bigint, isTransactional = false) =>
  buildBatch({
    producerId,
    producerEpoch: 2,
    baseSequence: 7,
    isTransactional,
    baseTimestamp: 0n,
    records: [{ key: "k", value: "v" }],
  });

test("remapProducerIds rewrites each idempotent batch's producer id and signs it again", () => {
  const records = Buffer.concat([batchOf(5n), batchOf(-1n), batchOf(9n, true)]);
  const seen: [bigint, boolean][] = [];
  const changed = remapProducerIds(records, (producerId, transactional) => {
    seen.push([producerId, transactional]);
    return transactional ? undefined : producerId + (1n << 56n);
  });
  assert.equal(changed, 1);
  assert.deepEqual(seen, [
    [5n, false],
    [9n, true],
  ]);
  const first = new RecordBatchView(records.subarray(0, batchOf(5n).length));
  assert.equal(first.producerId, 5n + (1n << 56n));
  assert.equal(first.producerEpoch, 2);
  assert.equal(first.baseSequence, 7);
  assert.ok(first.isValidCrc(), "the changed batch carries a valid CRC");
});

test("a batch whose CRC is already wrong keeps its producer id and its wrong CRC", () => {
  const batch = batchOf(5n);
  batch[batch.length - 1]! ^= 0xff;
  const before = Buffer.from(batch);
  assert.equal(
    remapProducerIds(batch, (producerId) => producerId + 1n),
    0,
  );
  assert.deepEqual(batch, before);
});

test("truncated bytes after the last whole batch are left alone", () => {
  const whole = batchOf(5n);
  const records = Buffer.concat([whole, whole.subarray(0, 30)]);
  assert.equal(
    remapProducerIds(records, (producerId) => producerId + 1n),
    1,
  );
  assert.deepEqual(records.subarray(whole.length), whole.subarray(0, 30));
});

test("hasHighProducerIds tells batches of ids at 2^56 and above from the rest, without reading them as numbers", () => {
  assert.equal(hasHighProducerIds(Buffer.concat([batchOf(5n), batchOf(-1n)])), false);
  assert.equal(hasHighProducerIds(Buffer.concat([batchOf(5n), batchOf((1n << 56n) + 5n)])), true);
  assert.equal(hasHighProducerIds(batchOf((1n << 62n) + 1n)), true);
});
