import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PRODUCER_ID_GROUP_STRIDE } from "../../../../src/features/virtualization/data/produce.ts";
import {
  ApiKey,
  ErrorCode,
  firstVersion,
  lastVersion,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import type { PartitionProduceResponse } from "../../../../src/protocol/generated/messages/produce-response.ts";
import {
  buildBatch,
  type CompressionName,
  decodeRecords,
  RecordBatchView,
} from "../../../../src/records/index.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import {
  dataFeature,
  defined,
  MARKER,
  PLAIN,
  PLAIN_ID,
  TOPIC,
  TOPIC_ID,
  testContext,
} from "../test-context.ts";

type ProduceRequest = RequestOf<typeof ApiKey.Produce>;
type ProduceResponse = ResponseOf<typeof ApiKey.Produce>;

const BY_NAME = lastVersion("ProduceRequest", "topicData.name")!;
const BY_ID = firstVersion("ProduceRequest", "topicData.topicId");

/** An idempotent batch (producer id 7, epoch 1, sequence 10) of `values`. */
function batch(values: string[], compression: CompressionName = "none"): Buffer {
  return buildBatch({
    compression,
    producerId: 7n,
    producerEpoch: 1,
    baseSequence: 10,
    records: values.map((value) => ({ value, headers: [{ key: "h", value: "x" }] })),
  });
}

function request(
  topics: { name: string; partitions: { index: number; records: Buffer }[] }[],
  overrides: Partial<ProduceRequest> = {},
): ProduceRequest {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: topics.map((topic) => ({
      name: topic.name,
      topicId: ZERO_UUID,
      partitionData: topic.partitions,
    })),
    ...overrides,
  };
}

/** The broker's answer: each partition appended at offset 1000 * (call number) + p. */
function brokerAnswer(calls: number) {
  return (call: UpstreamCall): ProduceResponse => {
    const sent = call.request as ProduceRequest;
    const nth = ++calls;
    return {
      throttleTimeMs: nth,
      nodeEndpoints: [],
      responses: sent.topicData.map((topic) => ({
        name: topic.name,
        topicId: topic.topicId,
        partitionResponses: topic.partitionData.map((partition) => ({
          index: partition.index,
          errorCode: ErrorCode.NONE,
          baseOffset: BigInt(1000 * nth + partition.index),
          logAppendTimeMs: -1n,
          logStartOffset: 0n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        })),
      })),
    };
  };
}

function outcome(partition: PartitionProduceResponse) {
  return [partition.index, partition.errorCode, partition.baseOffset, partition.errorMessage];
}

/** Each upstream partition as [p, producer id, the records' values and marker values]. */
function written(call: UpstreamCall) {
  return (call.request as ProduceRequest).topicData.flatMap((topic) =>
    topic.partitionData.map((partition) => {
      const view = RecordBatchView.parse(partition.records!);
      assert.ok(view.isValidCrc());
      return [
        topic.name,
        partition.index,
        view.producerId,
        decodeRecords(view).map((record) => [
          record.value!.toString(),
          record.headers.map((header) => `${header.key}=${header.value?.toString()}`),
        ]),
      ];
    }),
  );
}

describe("Produce", () => {
  test("a request of plain topics only passes through raw", async () => {
    const body = request([{ name: PLAIN, partitions: [{ index: 0, records: batch(["a"]) }] }]);
    const { intercepted, calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_NAME,
      body,
      brokerAnswer(0),
    );
    assert.equal(intercepted, false);
    assert.equal(calls.length, 1);
    assert.deepEqual(defined(calls[0]!.request), body);
    assert.deepEqual(response!.responses[0]!.partitionResponses.map(outcome), [
      [0, ErrorCode.NONE, 1000n, null],
    ]);
  });

  test("split by group: each v goes to p = v mod P, with the marker on every record; answers renumbered to v", async () => {
    const body = request([
      {
        name: TOPIC,
        partitions: [
          { index: 1, records: batch(["one", "uno"]) },
          { index: 5, records: batch(["five"], "gzip") },
          { index: 6, records: batch(["six"]) },
        ],
      },
      { name: PLAIN, partitions: [{ index: 0, records: batch(["plain"]) }] },
    ]);
    const { intercepted, calls, response, discardedAfterReply } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_NAME,
      body,
      brokerAnswer(0),
    );
    assert.equal(intercepted, true);
    assert.equal(calls.length, 2, "one upstream request per group");
    assert.deepEqual(written(calls[0]!), [
      [
        TOPIC,
        1,
        7n,
        [
          ["one", ["h=x", `${MARKER}=1`]],
          ["uno", ["h=x", `${MARKER}=1`]],
        ],
      ],
      [PLAIN, 0, 7n, [["plain", ["h=x"]]]],
    ]);
    assert.deepEqual(written(calls[1]!), [
      [TOPIC, 1, 7n + PRODUCER_ID_GROUP_STRIDE, [["five", ["h=x", `${MARKER}=5`]]]],
      [TOPIC, 2, 7n + PRODUCER_ID_GROUP_STRIDE, [["six", ["h=x", `${MARKER}=6`]]]],
    ]);
    const gzipped = RecordBatchView.parse(
      (calls[1]!.request as ProduceRequest).topicData[0]!.partitionData[0]!.records!,
    );
    assert.equal(gzipped.compressionName, "gzip");
    assert.equal(gzipped.producerEpoch, 1);
    assert.equal(gzipped.baseSequence, 10);
    for (const call of calls) {
      assert.equal(call.apiVersion, BY_NAME);
      assert.equal(call.options?.expectResponse, true);
    }
    assert.equal(response!.throttleTimeMs, 2);
    assert.deepEqual(
      response!.responses.map((topic) => [topic.name, topic.partitionResponses.map(outcome)]),
      [
        [
          TOPIC,
          [
            [1, ErrorCode.NONE, 1001n, null],
            [5, ErrorCode.NONE, 2001n, null],
            [6, ErrorCode.NONE, 2002n, null],
          ],
        ],
        [PLAIN, [[0, ErrorCode.NONE, 1000n, null]]],
      ],
    );
    // The rebuilt batches, then the client's request frame, are freed once the reply is written.
    const rebuilt = calls.flatMap((call) =>
      (call.request as ProduceRequest).topicData
        .filter((topic) => topic.name === TOPIC)
        .flatMap((topic) => topic.partitionData.map((partition) => partition.records)),
    );
    assert.equal(discardedAfterReply.length, 4);
    assert.deepEqual(
      discardedAfterReply.slice(0, 3).map((buffer) => rebuilt.indexOf(buffer)),
      [0, 1, 2],
    );
  });

  test("topics named by id: matched by id, answers keep the id", async () => {
    const body: ProduceRequest = {
      ...request([]),
      topicData: [{ name: "", topicId: TOPIC_ID, partitionData: [{ index: 7, records: batch(["seven"]) }] }],
    };
    const { calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_ID,
      body,
      brokerAnswer(0),
    );
    assert.equal(calls.length, 1);
    const sent = calls[0]!.request as ProduceRequest;
    assert.deepEqual(
      sent.topicData.map((topic) => [topic.topicId, topic.partitionData.map((partition) => partition.index)]),
      [[TOPIC_ID, [3]]],
    );
    assert.deepEqual(
      response!.responses.map((topic) => [topic.topicId, topic.partitionResponses.map(outcome)]),
      [[TOPIC_ID, [[7, ErrorCode.NONE, 1003n, null]]]],
    );
  });

  test("acks=0: the parts are sent without waiting for an answer, and the client gets none", async () => {
    const body = request(
      [
        {
          name: TOPIC,
          partitions: [
            { index: 2, records: batch(["two"]) },
            { index: 6, records: batch(["six"]) },
          ],
        },
      ],
      { acks: 0 },
    );
    const { calls, response, discardedAfterReply } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_NAME,
      body,
      brokerAnswer(0),
    );
    assert.equal(response, undefined);
    assert.deepEqual(
      calls.map((call) => [call.options?.expectResponse, written(call).map((partition) => partition[1])]),
      [
        [false, [2]],
        [false, [2]],
      ],
    );
    assert.deepEqual(discardedAfterReply, [], "nothing is freed: the requests may still be on their way");
  });

  test("refusals: v out of range, record batches before v2, transactions; nothing of them is sent", async () => {
    const legacy = Buffer.alloc(40);
    legacy.writeInt8(1, 16);
    const refusals = async (body: ProduceRequest) => {
      const { calls, response } = await exchange(
        dataFeature(testContext()),
        ApiKey.Produce,
        BY_NAME,
        body,
        brokerAnswer(0),
      );
      assert.equal(calls.length, 0);
      return response!.responses.map((topic) => [topic.name, topic.partitionResponses.map(outcome)]);
    };
    assert.deepEqual(
      await refusals(
        request([
          {
            name: TOPIC,
            partitions: [
              { index: 8, records: batch(["eight"]) },
              { index: -1, records: batch(["minus"]) },
              { index: 3, records: legacy },
            ],
          },
        ]),
      ),
      [
        [
          TOPIC,
          [
            [8, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, `topic ${TOPIC} has 8 partitions`],
            [-1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, `topic ${TOPIC} has 8 partitions`],
            [
              3,
              ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
              -1n,
              `topic ${TOPIC} is virtualized: its records carry a header, so producers must write record batches v2 (Kafka 0.11+ clients)`,
            ],
          ],
        ],
      ],
    );
    const transactional = `transactions are not supported on virtualized topic ${TOPIC}; write it without a transactional.id`;
    assert.deepEqual(
      await refusals(
        request([{ name: TOPIC, partitions: [{ index: 4, records: batch(["txn"]) }] }], {
          transactionalId: "tx",
        }),
      ),
      [[TOPIC, [[4, ErrorCode.INVALID_RECORD, -1n, transactional]]]],
    );
    const inTransaction = buildBatch({
      isTransactional: true,
      producerId: 3n,
      producerEpoch: 0,
      baseSequence: 0,
      records: [{ value: "t" }],
    });
    assert.deepEqual(
      await refusals(request([{ name: TOPIC, partitions: [{ index: 4, records: inTransaction }] }])),
      [[TOPIC, [[4, ErrorCode.INVALID_RECORD, -1n, transactional]]]],
    );
  });

  test("refused partitions are answered next to the written ones", async () => {
    const { calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_NAME,
      request([
        {
          name: TOPIC,
          partitions: [
            { index: 9, records: batch(["nine"]) },
            { index: 0, records: batch(["zero"]) },
          ],
        },
      ]),
      brokerAnswer(0),
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(response!.responses[0]!.partitionResponses.map(outcome), [
      [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1n, `topic ${TOPIC} has 8 partitions`],
      [0, ErrorCode.NONE, 1000n, null],
    ]);
  });

  test("a batch whose CRC is wrong is refused with CORRUPT_MESSAGE and never re-encoded", async () => {
    const corrupt = batch(["a", "b"]);
    corrupt[corrupt.length - 1] ^= 0x01;
    const { calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.Produce,
      BY_NAME,
      request([{ name: TOPIC, partitions: [{ index: 5, records: corrupt }] }]),
      brokerAnswer(0),
    );
    assert.equal(calls.length, 0);
    const answer = response!.responses[0]!.partitionResponses[0]!;
    assert.equal(answer.index, 5);
    assert.equal(answer.errorCode, ErrorCode.CORRUPT_MESSAGE);
  });

  test("a record that already carries the marker header gets the proxy's marker instead, once", async () => {
    const forged = buildBatch({
      records: [
        {
          value: "x",
          headers: [
            { key: MARKER, value: "7" },
            { key: "h", value: "1" },
          ],
        },
        {
          value: "y",
          headers: [
            { key: "h", value: "2" },
            { key: MARKER, value: "7" },
            { key: MARKER, value: "1" },
          ],
        },
      ],
    });
    for (const compression of ["none", "lz4"] as const) {
      const records =
        compression === "none"
          ? forged
          : buildBatch({ compression, records: decodeRecords(new RecordBatchView(forged)) });
      const { calls } = await exchange(
        dataFeature(testContext()),
        ApiKey.Produce,
        BY_NAME,
        request([{ name: TOPIC, partitions: [{ index: 3, records }] }]),
        brokerAnswer(0),
      );
      assert.deepEqual(written(calls[0]!), [
        [
          TOPIC,
          3,
          -1n,
          [
            ["x", ["h=1", `${MARKER}=3`]],
            ["y", ["h=2", `${MARKER}=3`]],
          ],
        ],
      ]);
    }
  });

  test("an id the proxy cannot resolve is refused (UNKNOWN_TOPIC_ID), never written as it is", async () => {
    const unknown = "c".repeat(32);
    const context = testContext();
    let lookups = 0;
    context.topics.resolveIds = async () => {
      lookups++;
      throw new Error("broker unreachable");
    };
    const { intercepted, calls, response } = await exchange(
      dataFeature(context),
      ApiKey.Produce,
      BY_ID,
      {
        transactionalId: null,
        acks: -1,
        timeoutMs: 5000,
        topicData: [
          { name: "", topicId: unknown, partitionData: [{ index: 3, records: batch(["a"]) }] },
          { name: "", topicId: PLAIN_ID, partitionData: [{ index: 0, records: batch(["b"]) }] },
        ],
      },
      brokerAnswer(0),
    );
    assert.equal(intercepted, true);
    assert.equal(lookups, 1);
    assert.deepEqual(
      calls.map((call) => (call.request as ProduceRequest).topicData.map((topic) => topic.topicId)),
      [[PLAIN_ID]],
    );
    assert.deepEqual(
      response!.responses.map((topic) => [
        topic.topicId,
        topic.partitionResponses.map((partition) => [partition.index, partition.errorCode]),
      ]),
      [
        [unknown, [[3, ErrorCode.UNKNOWN_TOPIC_ID]]],
        [PLAIN_ID, [[0, ErrorCode.NONE]]],
      ],
    );
  });

  test("a physical topic whose partition count disagrees with its rule is refused, as Fetch refuses it", async () => {
    const context = testContext();
    context.topics.learn([
      { errorCode: ErrorCode.NONE, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}] },
    ]);
    const { calls, response } = await exchange(
      dataFeature(context),
      ApiKey.Produce,
      BY_NAME,
      request([{ name: TOPIC, partitions: [{ index: 1, records: batch(["a"]) }] }]),
      brokerAnswer(0),
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(
      response!.responses[0]!.partitionResponses.map((partition) => [partition.index, partition.errorCode]),
      [[1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    );
  });

  test("a virtualized topic whose partition count is not known yet is looked up first", async () => {
    const context = testContext();
    context.topics.forget(TOPIC);
    const asked: string[][] = [];
    context.topics.refreshNames = async (names) => {
      asked.push(names);
      context.topics.learn([
        { errorCode: ErrorCode.NONE, name: TOPIC, topicId: TOPIC_ID, partitions: [{}, {}, {}, {}] },
      ]);
    };
    const { calls } = await exchange(
      dataFeature(context),
      ApiKey.Produce,
      BY_NAME,
      request([{ name: TOPIC, partitions: [{ index: 6, records: batch(["a"]) }] }]),
      brokerAnswer(0),
    );
    assert.deepEqual(asked, [[TOPIC]]);
    assert.equal((calls[0]!.request as ProduceRequest).topicData[0]!.partitionData[0]!.index, 2);
  });

  test("a batch that decompresses beyond the limit is refused with MESSAGE_TOO_LARGE, never rebuilt", async () => {
    const bomb = buildBatch({ compression: "gzip", records: [{ value: Buffer.alloc(1 << 20) }] });
    assert.ok(bomb.length < 4096, "a small compressed batch");
    const { calls, response } = await exchange(
      dataFeature(testContext({ maxDecompressedBatchBytes: 64 * 1024 })),
      ApiKey.Produce,
      BY_NAME,
      request([{ name: TOPIC, partitions: [{ index: 2, records: bomb }] }]),
      brokerAnswer(0),
    );
    assert.equal(calls.length, 0);
    const answer = response!.responses[0]!.partitionResponses[0]!;
    assert.equal(answer.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assert.match(answer.errorMessage ?? "", /max_decompressed_batch_bytes/);
  });
});
