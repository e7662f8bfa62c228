import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, ErrorCode, type RequestOf, type ResponseOf } from "../../../../src/protocol/api.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import { adminFeature, defined, PLAIN, TOPIC, testContext } from "../test-context.ts";

type DeleteRecordsRequest = RequestOf<typeof ApiKey.DeleteRecords>;
type DeleteRecordsResponse = ResponseOf<typeof ApiKey.DeleteRecords>;

const VERSION = apiInfo(ApiKey.DeleteRecords)!.maxVersion;

function request(topics: { name: string; partitions: number[] }[]): DeleteRecordsRequest {
  return {
    topics: topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partitionIndex) => ({ partitionIndex, offset: 50n })),
    })),
    timeoutMs: 30_000,
  };
}

function broker(call: UpstreamCall): DeleteRecordsResponse {
  return {
    throttleTimeMs: 0,
    topics: (call.request as DeleteRecordsRequest).topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        lowWatermark: partition.offset,
        errorCode: ErrorCode.NONE,
      })),
    })),
  };
}

describe("DeleteRecords", () => {
  test("every partition of a virtualized topic is refused with POLICY_VIOLATION; plain topics are passed on", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.DeleteRecords,
      VERSION,
      request([
        { name: TOPIC, partitions: [1, 6] },
        { name: PLAIN, partitions: [0] },
      ]),
      broker,
    );
    assert.deepEqual(defined(calls.map((call) => call.request)), [
      request([{ name: PLAIN, partitions: [0] }]),
    ]);
    assert.deepEqual(defined(response), {
      throttleTimeMs: 0,
      topics: [
        { name: PLAIN, partitions: [{ partitionIndex: 0, lowWatermark: 50n, errorCode: ErrorCode.NONE }] },
        {
          name: TOPIC,
          partitions: [
            { partitionIndex: 1, lowWatermark: -1n, errorCode: ErrorCode.POLICY_VIOLATION },
            { partitionIndex: 6, lowWatermark: -1n, errorCode: ErrorCode.POLICY_VIOLATION },
          ],
        },
      ],
    });
  });

  test("a request of virtualized topics only sends nothing", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.DeleteRecords,
      VERSION,
      request([{ name: TOPIC, partitions: [2] }]),
      broker,
    );
    assert.deepEqual(calls, []);
    assert.deepEqual(
      response!.topics.map((topic) => [
        topic.name,
        topic.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      ]),
      [[TOPIC, [[2, ErrorCode.POLICY_VIOLATION]]]],
    );
  });

  test("a request of plain topics is passed on unchanged", async () => {
    const body = request([{ name: PLAIN, partitions: [0] }]);
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.DeleteRecords,
      VERSION,
      body,
      broker,
    );
    assert.deepEqual(defined(calls.map((call) => call.request)), [body]);
    assert.deepEqual(defined(response), broker(calls[0]!));
  });
});
