import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, ErrorCode, type RequestOf, type ResponseOf } from "../../../../src/protocol/api.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import { dataFeature, defined, PLAIN, TOPIC, testContext } from "../test-context.ts";

type ListOffsetsRequest = RequestOf<typeof ApiKey.ListOffsets>;
type ListOffsetsResponse = ResponseOf<typeof ApiKey.ListOffsets>;

const VERSION = apiInfo(ApiKey.ListOffsets)!.maxVersion;

function request(topics: { name: string; partitions: number[] }[]): ListOffsetsRequest {
  return {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 1000,
    topics: topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partitionIndex) => ({
        partitionIndex,
        currentLeaderEpoch: -1,
        timestamp: -1n,
      })),
    })),
  };
}

/** The broker's answer: partition p of the nth request is at offset 100 * n + p, leader epoch 3. */
function brokerAnswer() {
  let calls = 0;
  return (call: UpstreamCall): ListOffsetsResponse => {
    const nth = ++calls;
    return {
      throttleTimeMs: 10 * nth,
      topics: (call.request as ListOffsetsRequest).topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          errorCode: ErrorCode.NONE,
          timestamp: -1n,
          offset: BigInt(100 * nth + partition.partitionIndex),
          leaderEpoch: 3,
        })),
      })),
    };
  };
}

function sentPartitions(call: UpstreamCall) {
  return (call.request as ListOffsetsRequest).topics.map((topic) => [
    topic.name,
    topic.partitions.map((partition) => partition.partitionIndex),
  ]);
}

describe("ListOffsets", () => {
  test("v is answered from p, one upstream request per group; partitions renumbered to v", async () => {
    const { intercepted, calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.ListOffsets,
      VERSION,
      request([
        { name: TOPIC, partitions: [1, 5, 9, 6] },
        { name: PLAIN, partitions: [0] },
      ]),
      brokerAnswer(),
    );
    assert.equal(intercepted, true);
    assert.deepEqual(calls.map(sentPartitions), [
      [
        [TOPIC, [1]],
        [PLAIN, [0]],
      ],
      [[TOPIC, [1, 2]]],
    ]);
    assert.deepEqual(defined(response), {
      throttleTimeMs: 20,
      topics: [
        {
          name: TOPIC,
          partitions: [
            { partitionIndex: 1, errorCode: ErrorCode.NONE, timestamp: -1n, offset: 101n, leaderEpoch: 3 },
            { partitionIndex: 5, errorCode: ErrorCode.NONE, timestamp: -1n, offset: 201n, leaderEpoch: 3 },
            { partitionIndex: 6, errorCode: ErrorCode.NONE, timestamp: -1n, offset: 202n, leaderEpoch: 3 },
            {
              partitionIndex: 9,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              timestamp: -1n,
              offset: -1n,
              leaderEpoch: -1,
            },
          ],
        },
        {
          name: PLAIN,
          partitions: [
            { partitionIndex: 0, errorCode: ErrorCode.NONE, timestamp: -1n, offset: 100n, leaderEpoch: 3 },
          ],
        },
      ],
    });
  });

  test("a request of plain topics is passed on unchanged", async () => {
    const body = request([{ name: PLAIN, partitions: [0, 3] }]);
    const { calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.ListOffsets,
      VERSION,
      body,
      brokerAnswer(),
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(defined(calls[0]!.request), body);
    assert.deepEqual(
      response!.topics[0]!.partitions.map((p) => [p.partitionIndex, p.offset]),
      [
        [0, 100n],
        [3, 103n],
      ],
    );
  });
});
