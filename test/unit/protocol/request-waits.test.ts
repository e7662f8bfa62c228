import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, firstVersion, ZERO_UUID } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { fetchMaxWaitMs, produceAcks, produceTimeoutMs } from "../../../src/protocol/request-peek.ts";
import { frameWaitMs, requestWaitMs } from "../../../src/protocol/request-waits.ts";
import { randomMessage, seededRng } from "../../../src/protocol/testing/random-message.ts";

function randomRequest(apiKey: ApiKey, version: number, seed: number): Record<string, unknown> {
  return randomMessage(apiKey, "request", version, seededRng(seed));
}

function frame(apiKey: ApiKey, apiVersion: number, body: unknown): Buffer {
  return encodeRequest({ apiKey, apiVersion, correlationId: 9, clientId: "waits" }, body);
}

function versions(apiKey: ApiKey): number[] {
  const info = apiInfo(apiKey)!;
  return Array.from({ length: info.maxVersion - info.minVersion + 1 }, (_, i) => info.minVersion + i);
}

describe("request waits", () => {
  test("Produce: acks and timeoutMs are peeked at every version", () => {
    for (const version of versions(ApiKey.Produce)) {
      const body = {
        ...(randomRequest(ApiKey.Produce, version, version) as object),
        acks: -1,
        timeoutMs: 45_000,
      };
      const bytes = frame(ApiKey.Produce, version, body);
      assert.equal(produceAcks(bytes, version), -1, `v${version}`);
      assert.equal(produceTimeoutMs(bytes, version), 45_000, `v${version}`);
      assert.equal(frameWaitMs(bytes, ApiKey.Produce, version), 45_000, `v${version}`);
    }
  });

  test("Fetch: maxWaitMs is peeked at every version, with or without a replica id", () => {
    for (const version of versions(ApiKey.Fetch)) {
      const body = { ...(randomRequest(ApiKey.Fetch, version, version) as object), maxWaitMs: 40_000 };
      const bytes = frame(ApiKey.Fetch, version, body);
      assert.equal(fetchMaxWaitMs(bytes, version), 40_000, `v${version}`);
      assert.equal(frameWaitMs(bytes, ApiKey.Fetch, version), 40_000, `v${version}`);
    }
  });

  test("JoinGroup waits for its rebalance timeout, or its session timeout before rebalance timeouts existed", () => {
    const first = firstVersion("JoinGroupRequest", "rebalanceTimeoutMs");
    for (const version of versions(ApiKey.JoinGroup)) {
      const body = {
        ...(randomRequest(ApiKey.JoinGroup, version, version) as object),
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 300_000,
      };
      const expected = version >= first ? 300_000 : 10_000;
      assert.equal(frameWaitMs(frame(ApiKey.JoinGroup, version, body), ApiKey.JoinGroup, version), expected);
    }
  });

  test("admin requests wait for their timeoutMs; heartbeats and metadata are answered at once", () => {
    const version = apiInfo(ApiKey.CreateTopics)!.maxVersion;
    const create = { topics: [], timeoutMs: 120_000, validateOnly: false };
    assert.equal(
      frameWaitMs(frame(ApiKey.CreateTopics, version, create), ApiKey.CreateTopics, version),
      120_000,
    );
    assert.equal(
      requestWaitMs(ApiKey.ConsumerGroupHeartbeat, { rebalanceTimeoutMs: 300_000, groupId: "g" }),
      0,
      "a heartbeat's rebalance timeout is not a wait",
    );
    const metadata = {
      topics: [{ topicId: ZERO_UUID, name: "t" }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    };
    const metadataVersion = apiInfo(ApiKey.Metadata)!.maxVersion;
    assert.equal(
      frameWaitMs(frame(ApiKey.Metadata, metadataVersion, metadata), ApiKey.Metadata, metadataVersion),
      0,
    );
  });

  test("a truncated frame waits for nothing instead of throwing", () => {
    const version = apiInfo(ApiKey.Fetch)!.maxVersion;
    const bytes = frame(ApiKey.Fetch, version, randomRequest(ApiKey.Fetch, version, 1));
    assert.equal(frameWaitMs(bytes.subarray(0, 20), ApiKey.Fetch, version), 0);
  });
});
