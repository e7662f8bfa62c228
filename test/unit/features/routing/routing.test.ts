import assert from "node:assert/strict";
import { test } from "node:test";
import { mergeMetadata } from "../../../../src/features/routing/metadata.ts";
import { ProducerIdMapping } from "../../../../src/features/routing/producer-ids.ts";
import { silentLogger } from "../../../../src/log/logger.ts";
import { type ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../../src/protocol/api.ts";
import { ClusterRouting } from "../../../../src/topology/cluster-routing.ts";
import type { Topology } from "../../../../src/topology/topology.ts";

type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;

const routing = new ClusterRouting(
  ["east", "west"],
  {
    defaultCluster: "east",
    topics: [{ pattern: /^(?:west\..*)$/, source: "west\\..*", cluster: "west" }],
    groups: [],
    transactionalIds: [],
  },
  silentLogger,
);

function request(...names: string[]): RequestOf<typeof ApiKey.Metadata> {
  return {
    topics: names.map((name) => ({ topicId: "0".repeat(32), name })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

function response(brokers: number[], topics: [name: string, id: string][]): MetadataResponse {
  return {
    throttleTimeMs: 0,
    brokers: brokers.map((nodeId) => ({ nodeId, host: "127.0.0.1", port: 9000 + nodeId, rack: null })),
    clusterId: "virtual",
    controllerId: brokers[0]!,
    topics: topics.map(([name, topicId]) => ({
      errorCode: ErrorCode.NONE,
      name,
      topicId,
      isInternal: false,
      partitions: [],
      topicAuthorizedOperations: 0,
    })),
    clusterAuthorizedOperations: 0,
    errorCode: ErrorCode.NONE,
  };
}

const id = (n: number) => n.toString(16).padStart(32, "0");

test("merged Metadata: every cluster's brokers, each topic from its own cluster, the lowest node as controller", () => {
  const collisions: string[][] = [];
  const merged = mergeMetadata(
    [
      {
        cluster: "east",
        request: request(),
        response: response(
          [2, 1, 3],
          [
            ["orders", id(1)],
            ["west.copy", id(2)],
            ["clash-east", id(9)],
          ],
        ),
      },
      {
        cluster: "west",
        request: request(),
        response: response(
          [17],
          [
            ["west.copy", id(3)],
            ["west.clash", id(9)],
          ],
        ),
      },
    ],
    12,
    routing,
    (topicId, kept, refused) => collisions.push([topicId, kept, refused]),
  );
  assert.deepEqual(
    merged.brokers.map((b) => b.nodeId),
    [1, 2, 3, 17],
  );
  assert.equal(merged.controllerId, 1);
  assert.deepEqual(
    merged.topics.map((t) => [t.name, t.topicId]),
    [
      ["orders", id(1)],
      ["clash-east", id(9)],
      ["west.copy", id(3)],
    ],
    "the west.* copy on east is left out, and so is the second topic with a colliding id",
  );
  assert.deepEqual(collisions, [[id(9), "clash-east", "west.clash"]]);
});

test("merged Metadata: topics asked of a cluster that did not answer are LEADER_NOT_AVAILABLE", () => {
  const merged = mergeMetadata(
    [
      { cluster: "east", request: request("orders"), response: response([1], [["orders", id(1)]]) },
      { cluster: "west", request: request("west.events"), response: undefined },
    ],
    12,
    routing,
    () => assert.fail("no collision"),
  );
  assert.deepEqual(
    merged.topics.map((t) => [t.name, t.errorCode]),
    [
      ["orders", ErrorCode.NONE],
      ["west.events", ErrorCode.LEADER_NOT_AVAILABLE],
    ],
  );
  assert.throws(
    () =>
      mergeMetadata([{ cluster: "west", request: request(), response: undefined }], 12, routing, () => {}),
    /no upstream cluster answered/,
  );
});

test("producer ids: the default cluster's ids pass unchanged at home and move above every cluster's own ids elsewhere", () => {
  const mapping = new ProducerIdMapping({ clusterNames: ["east", "west", "north"] } as unknown as Topology);
  const origin = 1n << 56n;
  assert.equal(mapping.toClient(42n, "east"), 42n);
  assert.equal(mapping.toClient(42n, "west"), 42n + origin);
  assert.equal(mapping.toClient(-1n, "west"), -1n);

  assert.equal(mapping.toUpstream(42n, "east"), 42n, "an east id stays as it is on east");
  assert.equal(mapping.toUpstream(42n, "west"), 42n + origin, "an east id on west");
  assert.equal(mapping.toUpstream(42n + origin, "west"), 42n, "a west id on west is west's own");
  assert.equal(mapping.toUpstream(42n + origin, "east"), 42n + 2n * origin, "a west id on east");
  assert.equal(mapping.toUpstream(42n + origin, "north"), 42n + 2n * origin, "a west id on north");

  for (const cluster of ["east", "west", "north"]) {
    for (const issuedBy of ["east", "west", "north"]) {
      const client = mapping.toClient(42n, issuedBy);
      assert.equal(
        mapping.fromUpstream(mapping.toUpstream(client, cluster), cluster),
        client,
        `what ${cluster} stores for an id ${issuedBy} issued reads back as the client's id`,
      );
    }
  }

  // On any one cluster, ids from different origins never meet.
  for (const cluster of ["east", "west", "north"]) {
    const seen = new Set<bigint>();
    for (const [issuedBy, local] of [
      ["east", 7n],
      ["west", 7n],
      ["north", 7n],
    ] as const) {
      seen.add(mapping.toUpstream(mapping.toClient(local, issuedBy), cluster));
    }
    assert.equal(seen.size, 3, `three distinct ids on ${cluster}`);
  }
});
