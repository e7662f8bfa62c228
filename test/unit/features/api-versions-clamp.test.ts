import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiVersionsClamp } from "../../../src/features/api-versions/api-versions-clamp.ts";
import { API_KEYS, ApiKey, ErrorCode, REMOVED_API_KEYS, type ResponseOf } from "../../../src/protocol/api.ts";
import { decodeResponse } from "../../../src/protocol/frame.ts";
import { answerUnsupportedApiVersions } from "../../../src/proxy/connection/unsupported-api-versions.ts";
import { exchange } from "../../helpers/chain-harness.ts";

const codec = new Map(API_KEYS.map((api) => [api.apiKey, api]));
const REMOVED_KEY = REMOVED_API_KEYS[0]!.apiKey;

function brokerVersions(errorCode: number = ErrorCode.NONE): ResponseOf<typeof ApiKey.ApiVersions> {
  return {
    errorCode,
    apiKeys: [
      { apiKey: ApiKey.Produce, minVersion: 0, maxVersion: 99 },
      { apiKey: ApiKey.Fetch, minVersion: 0, maxVersion: 2 },
      { apiKey: REMOVED_KEY, minVersion: 0, maxVersion: 7 },
      { apiKey: ApiKey.Metadata, minVersion: 1, maxVersion: 12 },
    ],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
  };
}

const request = { clientSoftwareName: "t", clientSoftwareVersion: "1", clusterId: null, nodeId: -1 };

test("advertises the intersection of the broker's and the codec's versions, under the configured limits", async () => {
  const clamp = new ApiVersionsClamp(new Map([[ApiKey.Metadata, 9]]));
  const { response } = await exchange([clamp], ApiKey.ApiVersions, 3, request, () => brokerVersions());
  const produce = codec.get(ApiKey.Produce)!;
  assert.deepEqual(
    response!.apiKeys.map((a) => [a.apiKey, a.minVersion, a.maxVersion]),
    [
      [ApiKey.Produce, produce.minVersion, produce.maxVersion],
      [ApiKey.Metadata, 1, 9],
    ],
  );
});

test("an error answer is passed on as the broker sent it", async () => {
  const { response } = await exchange([new ApiVersionsClamp()], ApiKey.ApiVersions, 3, request, () =>
    brokerVersions(ErrorCode.UNSUPPORTED_VERSION),
  );
  assert.equal(response!.apiKeys.length, 4);
});

test("an ApiVersions request newer than the codec gets UNSUPPORTED_VERSION in the oldest version", () => {
  const own = codec.get(ApiKey.ApiVersions)!;
  assert.equal(answerUnsupportedApiVersions(ApiKey.ApiVersions, own.maxVersion, 1), undefined);
  assert.equal(answerUnsupportedApiVersions(ApiKey.Metadata, 99, 1), undefined);
  const frame = answerUnsupportedApiVersions(ApiKey.ApiVersions, own.maxVersion + 1, 42)!;
  const decoded = decodeResponse(ApiKey.ApiVersions, own.minVersion, frame.subarray(4));
  assert.equal(decoded.correlationId, 42);
  const body = decoded.body as ResponseOf<typeof ApiKey.ApiVersions>;
  assert.equal(body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.deepEqual(
    body.apiKeys.map((a) => [a.apiKey, a.minVersion, a.maxVersion]),
    [[ApiKey.ApiVersions, own.minVersion, own.maxVersion]],
  );
});
