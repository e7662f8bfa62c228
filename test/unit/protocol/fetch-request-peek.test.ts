import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, apiInfo, hasField, ZERO_UUID } from "../../../src/protocol/api.ts";
import { fetchNamesTopic } from "../../../src/protocol/fetch-request-peek.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";

const ids = { plain: "11".repeat(16), virtual: "22".repeat(16) };
const fetchVersions = apiInfo(ApiKey.Fetch)!;
const has = (path: Parameters<typeof hasField<"FetchRequest">>[1], version: number) =>
  hasField("FetchRequest", path, version);

function fetchFrame(version: number, topics: string[], forgotten: string[] = []): Buffer {
  const key = (name: string) => ({
    topic: has("topics.topicId", version) ? "" : name,
    topicId: has("topics.topicId", version) ? ids[name as keyof typeof ids] : ZERO_UUID,
  });
  return encodeRequest(
    { apiKey: ApiKey.Fetch, apiVersion: version, correlationId: 1, clientId: "peek" },
    {
      clusterId: null,
      replicaId: -1,
      replicaState: { replicaId: -1, replicaEpoch: -1n },
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: topics.map((name) => ({
        ...key(name),
        partitions: [0, 1].map((partition) => ({
          partition,
          currentLeaderEpoch: has("topics.partitions.currentLeaderEpoch", version) ? 3 : -1,
          fetchOffset: 42n,
          lastFetchedEpoch: has("topics.partitions.lastFetchedEpoch", version) ? 2 : -1,
          logStartOffset: -1n,
          partitionMaxBytes: 1 << 20,
          replicaDirectoryId: ZERO_UUID,
          highWatermark: 9223372036854775807n,
        })),
      })),
      forgottenTopicsData: (has("forgottenTopicsData", version) ? forgotten : []).map((name) => ({
        ...key(name),
        partitions: [0, 1, 2],
      })),
      rackId: has("rackId", version) ? "rack-a" : "",
    },
  );
}

const isVirtual = (key: string, byId: boolean) => (byId ? key === ids.virtual : key === "virtual");

test("finds a virtualized topic among fetched or forgotten ones at every Fetch version, without decoding", () => {
  for (let version = fetchVersions.minVersion; version <= fetchVersions.maxVersion; version++) {
    const at = `v${version}`;
    assert.equal(fetchNamesTopic(fetchFrame(version, ["plain", "virtual"]), version, isVirtual), true, at);
    assert.equal(fetchNamesTopic(fetchFrame(version, ["plain", "plain"]), version, isVirtual), false, at);
    assert.equal(fetchNamesTopic(fetchFrame(version, []), version, isVirtual), false, at);
    assert.equal(
      fetchNamesTopic(fetchFrame(version, ["plain"], ["virtual"]), version, isVirtual),
      has("forgottenTopicsData", version),
      `${at} forgotten`,
    );
  }
});

test("a truncated Fetch frame is left to the full decoder", () => {
  const version = fetchVersions.maxVersion;
  const frame = fetchFrame(version, ["plain", "plain"]);
  assert.equal(
    fetchNamesTopic(frame.subarray(0, frame.length - 30), version, () => false),
    true,
  );
});
