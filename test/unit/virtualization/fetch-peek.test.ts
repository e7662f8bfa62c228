import assert from "node:assert/strict";
import { test } from "node:test";
import { fetchNamesTopic } from "../../../src/features/virtualization/fetch-peek.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";

const ids = { plain: "11".repeat(16), virtual: "22".repeat(16) };
const ZERO_UUID = "0".repeat(32);

function fetchFrame(version: number, topics: string[], forgotten: string[] = []): Buffer {
  const key = (name: string) => ({
    topic: version >= 13 ? "" : name,
    topicId: version >= 13 ? ids[name as keyof typeof ids] : ZERO_UUID,
  });
  return encodeRequest(
    { apiKey: 1, apiVersion: version, correlationId: 1, clientId: "peek" },
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
          currentLeaderEpoch: version >= 9 ? 3 : -1,
          fetchOffset: 42n,
          lastFetchedEpoch: version >= 12 ? 2 : -1,
          logStartOffset: -1n,
          partitionMaxBytes: 1 << 20,
          replicaDirectoryId: ZERO_UUID,
          highWatermark: 9223372036854775807n,
        })),
      })),
      forgottenTopicsData: (version >= 7 ? forgotten : []).map((name) => ({
        ...key(name),
        partitions: [0, 1, 2],
      })),
      rackId: version >= 11 ? "rack-a" : "",
    },
  );
}

const isVirtual = (key: string, byId: boolean) => (byId ? key === ids.virtual : key === "virtual");

test("finds a virtualized topic among fetched or forgotten ones at every Fetch version, without decoding", () => {
  for (let version = 4; version <= 18; version++) {
    const at = `v${version}`;
    assert.equal(fetchNamesTopic(fetchFrame(version, ["plain", "virtual"]), version, isVirtual), true, at);
    assert.equal(fetchNamesTopic(fetchFrame(version, ["plain", "plain"]), version, isVirtual), false, at);
    assert.equal(fetchNamesTopic(fetchFrame(version, []), version, isVirtual), false, at);
    assert.equal(
      fetchNamesTopic(fetchFrame(version, ["plain"], ["virtual"]), version, isVirtual),
      version >= 7,
      `${at} forgotten`,
    );
  }
});

test("a truncated Fetch frame is left to the full decoder", () => {
  const frame = fetchFrame(12, ["plain", "plain"]);
  assert.equal(
    fetchNamesTopic(frame.subarray(0, frame.length - 30), 12, () => false),
    true,
  );
});
