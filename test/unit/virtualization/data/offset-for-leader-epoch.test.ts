import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, ErrorCode, type RequestOf, type ResponseOf } from "../../../../src/protocol/api.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import { dataFeature, defined, PLAIN, TOPIC, testContext } from "../test-context.ts";

type OffsetForLeaderEpochRequest = RequestOf<typeof ApiKey.OffsetForLeaderEpoch>;
type OffsetForLeaderEpochResponse = ResponseOf<typeof ApiKey.OffsetForLeaderEpoch>;

const VERSION = apiInfo(ApiKey.OffsetForLeaderEpoch)!.maxVersion;

function request(topics: { topic: string; partitions: number[] }[]): OffsetForLeaderEpochRequest {
  return {
    replicaId: -1,
    topics: topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => ({ partition, currentLeaderEpoch: 4, leaderEpoch: 2 })),
    })),
  };
}

/** The broker's answer: epoch 2 of partition p in the nth request ends at 1000 * n + p. */
function brokerAnswer() {
  let calls = 0;
  return (call: UpstreamCall): OffsetForLeaderEpochResponse => {
    const nth = ++calls;
    return {
      throttleTimeMs: nth,
      topics: (call.request as OffsetForLeaderEpochRequest).topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((partition) => ({
          errorCode: ErrorCode.NONE,
          partition: partition.partition,
          leaderEpoch: partition.leaderEpoch,
          endOffset: BigInt(1000 * nth + partition.partition),
        })),
      })),
    };
  };
}

describe("OffsetForLeaderEpoch", () => {
  test("v is answered from p, one upstream request per group; partitions renumbered to v", async () => {
    const { intercepted, calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.OffsetForLeaderEpoch,
      VERSION,
      request([
        { topic: PLAIN, partitions: [0] },
        { topic: TOPIC, partitions: [7, 3, 12] },
      ]),
      brokerAnswer(),
    );
    assert.equal(intercepted, true);
    assert.deepEqual(
      calls.map((call) =>
        (call.request as OffsetForLeaderEpochRequest).topics.map((topic) => [
          topic.topic,
          topic.partitions.map((p) => [p.partition, p.currentLeaderEpoch, p.leaderEpoch]),
        ]),
      ),
      [
        [
          [PLAIN, [[0, 4, 2]]],
          [TOPIC, [[3, 4, 2]]],
        ],
        [[TOPIC, [[3, 4, 2]]]],
      ],
    );
    assert.deepEqual(defined(response), {
      throttleTimeMs: 2,
      topics: [
        {
          topic: PLAIN,
          partitions: [{ errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 2, endOffset: 1000n }],
        },
        {
          topic: TOPIC,
          partitions: [
            { errorCode: ErrorCode.NONE, partition: 3, leaderEpoch: 2, endOffset: 1003n },
            { errorCode: ErrorCode.NONE, partition: 7, leaderEpoch: 2, endOffset: 2003n },
            {
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              partition: 12,
              leaderEpoch: -1,
              endOffset: -1n,
            },
          ],
        },
      ],
    });
  });

  test("a request of plain topics is passed on unchanged", async () => {
    const body = request([{ topic: PLAIN, partitions: [0] }]);
    const { calls, response } = await exchange(
      dataFeature(testContext()),
      ApiKey.OffsetForLeaderEpoch,
      VERSION,
      body,
      brokerAnswer(),
    );
    assert.equal(calls.length, 1);
    assert.deepEqual(defined(calls[0]!.request), body);
    assert.deepEqual(
      response!.topics[0]!.partitions.map((p) => [p.partition, p.endOffset]),
      [[0, 1000n]],
    );
  });
});
