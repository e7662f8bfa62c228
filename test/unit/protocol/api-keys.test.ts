import assert from "node:assert/strict";
import { test } from "node:test";
import { KafkaProtocolError } from "../../../src/protocol/errors.ts";
import {
  API_KEYS,
  ApiKey,
  apiName,
  REMOVED_API_KEYS,
  REQUEST_CODECS,
  RESPONSE_CODECS,
  requestHeaderVersion,
  responseHeaderVersion,
} from "../../../src/protocol/generated/index.ts";

test("the API table lists every key with valid versions, in order, with codecs for each", () => {
  assert.ok(API_KEYS.length >= 85);
  let previous = -1;
  for (const api of API_KEYS) {
    assert.ok(api.apiKey > previous, `sorted at ${api.apiKey}`);
    previous = api.apiKey;
    assert.ok(api.minVersion <= api.maxVersion, api.name);
    assert.equal(REQUEST_CODECS[api.apiKey]?.maxVersion, api.maxVersion, api.name);
    assert.equal(RESPONSE_CODECS[api.apiKey]?.minVersion, api.minVersion, api.name);
    assert.equal(REQUEST_CODECS[api.apiKey]?.label, `${api.name} request`);
  }
  assert.deepEqual(
    REMOVED_API_KEYS.map((a) => a.apiKey),
    [4, 5, 6, 7],
  );
  for (const removed of REMOVED_API_KEYS) assert.equal(REQUEST_CODECS[removed.apiKey], undefined);
  assert.equal(apiName(3), "Metadata");
  assert.equal(apiName(4), undefined);
  assert.equal(apiName(9999), undefined);
});

test("versions of well-known APIs (kafka-clients 4.4.0)", () => {
  const byName = new Map(API_KEYS.map((a) => [a.name, a]));
  const expect = (name: string, min: number, max: number, flexible: number) => {
    const api = byName.get(name)!;
    assert.deepEqual([api.minVersion, api.maxVersion, api.flexibleMinVersion], [min, max, flexible], name);
  };
  expect("Produce", 3, 13, 9);
  expect("Fetch", 4, 18, 12);
  expect("ListOffsets", 1, 11, 6);
  expect("Metadata", 0, 13, 9);
  expect("OffsetCommit", 2, 10, 8);
  expect("OffsetFetch", 1, 10, 6);
  expect("ApiVersions", 0, 5, 3);
  expect("SaslHandshake", 0, 1, -1);
});

test("header versions follow flexible versions, with Kafka's exceptions", () => {
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  // ApiVersions responses always use header v0 (KIP-511), requests follow the flexible rule,
  // also for versions newer than the codec knows.
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 5), 0);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 2), 1);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 99), 2);
  assert.equal(requestHeaderVersion(ApiKey.SaslHandshake, 1), 1);
  assert.equal(responseHeaderVersion(ApiKey.SaslHandshake, 1), 0);
  // ControlledShutdown v0 used request header v0.
  assert.equal(requestHeaderVersion(7, 0), 0);
  assert.throws(() => requestHeaderVersion(9999, 0), KafkaProtocolError);
  assert.throws(() => responseHeaderVersion(4, 0), KafkaProtocolError);
});
