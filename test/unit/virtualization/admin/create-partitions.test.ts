import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, ErrorCode, type RequestOf, type ResponseOf } from "../../../../src/protocol/api.ts";
import { exchange, type UpstreamCall } from "../../../helpers/chain-harness.ts";
import { adminFeature, defined, PLAIN, TOPIC, testContext } from "../test-context.ts";

type CreatePartitionsRequest = RequestOf<typeof ApiKey.CreatePartitions>;
type CreatePartitionsResponse = ResponseOf<typeof ApiKey.CreatePartitions>;

const VERSION = apiInfo(ApiKey.CreatePartitions)!.maxVersion;

function request(names: string[]): CreatePartitionsRequest {
  return {
    topics: names.map((name) => ({ name, count: 16, assignments: null })),
    timeoutMs: 30_000,
    validateOnly: false,
  };
}

function broker(call: UpstreamCall): CreatePartitionsResponse {
  return {
    throttleTimeMs: 5,
    results: (call.request as CreatePartitionsRequest).topics.map((topic) => ({
      name: topic.name,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
    })),
  };
}

const refusal = {
  name: TOPIC,
  errorCode: ErrorCode.INVALID_PARTITIONS,
  errorMessage: `topic ${TOPIC} is virtualized: its 8 partitions are fixed by the proxy's rule (4 physical); adding partitions would move data between virtual partitions`,
};

describe("CreatePartitions", () => {
  test("a virtualized topic is refused with INVALID_PARTITIONS and nothing is sent", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.CreatePartitions,
      VERSION,
      request([TOPIC]),
      broker,
    );
    assert.deepEqual(calls, []);
    assert.deepEqual(defined(response), { throttleTimeMs: 0, results: [refusal] });
  });

  test("plain topics of the same request are passed on", async () => {
    const { calls, response } = await exchange(
      adminFeature(testContext()),
      ApiKey.CreatePartitions,
      VERSION,
      request([PLAIN, TOPIC]),
      broker,
    );
    assert.deepEqual(defined(calls.map((call) => call.request)), [request([PLAIN])]);
    assert.deepEqual(defined(response), {
      throttleTimeMs: 5,
      results: [{ name: PLAIN, errorCode: ErrorCode.NONE, errorMessage: null }, refusal],
    });
  });
});
