import assert from "node:assert/strict";
import { test } from "node:test";
import { NodeAddressing } from "../../../src/features/addressing/node-addressing.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { ApiKey, ErrorCode, type ResponseOf } from "../../../src/protocol/api.ts";
import { derivedClusterId } from "../../../src/topology/cluster-identity.ts";
import { Topology } from "../../../src/topology/topology.ts";
import { exchange, fakeConnection } from "../../helpers/chain-harness.ts";

const PORT_BASE = 30000;

function topology(nodeIdBase: number, clusterId?: string): Topology {
  return new Topology({
    virtualClusterName: "test-virtual",
    clusterId,
    clusters: [{ name: "main", bootstrapServers: [{ host: "10.0.0.1", port: 9092 }], nodeIdBase }],
    endpointOf: (nodeId) => ({ host: "proxy.example", port: PORT_BASE + nodeId }),
    connectTimeoutMs: 1000,
    requestTimeoutMs: 1000,
    refreshIntervalMs: 60_000,
    departedLingerMs: 60_000,
    log: silentLogger,
  });
}

function metadataResponse(): ResponseOf<typeof ApiKey.Metadata> {
  return {
    throttleTimeMs: 0,
    brokers: [
      { nodeId: 1, host: "10.0.0.1", port: 9092, rack: null },
      { nodeId: 2, host: "10.0.0.2", port: 9092, rack: "r2" },
    ],
    clusterId: "upstream-cluster",
    controllerId: 2,
    topics: [
      {
        errorCode: ErrorCode.NONE,
        name: "t",
        topicId: "1".repeat(32),
        isInternal: false,
        partitions: [
          {
            errorCode: ErrorCode.NONE,
            partitionIndex: 0,
            leaderId: 2,
            leaderEpoch: 5,
            replicaNodes: [2, 1],
            isrNodes: [2],
            offlineReplicas: [1],
          },
        ],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: -2147483648,
    errorCode: ErrorCode.NONE,
  };
}

const metadataRequest = {
  topics: null,
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
};

test("Metadata names the virtual cluster and its nodes at their client-facing addresses", async () => {
  const view = topology(0);
  const { response } = await exchange(
    [new NodeAddressing(view)],
    ApiKey.Metadata,
    12,
    metadataRequest,
    metadataResponse,
  );
  assert.equal(response!.clusterId, derivedClusterId("test-virtual", ["upstream-cluster"]));
  assert.deepEqual(
    response!.brokers.map((b) => [b.nodeId, b.host, b.port, b.rack]),
    [
      [1, "proxy.example", PORT_BASE + 1, null],
      [2, "proxy.example", PORT_BASE + 2, "r2"],
    ],
  );
  assert.equal(response!.controllerId, 1, "the lowest node stands for the controller");
  assert.deepEqual(response!.topics[0]!.partitions[0]!.replicaNodes, [2, 1]);
  assert.deepEqual(
    view.nodes().map((node) => [node.nodeId, node.upstream.nodeId, node.address.host]),
    [
      [1, 1, "10.0.0.1"],
      [2, 2, "10.0.0.2"],
    ],
  );
});

test("with a node id base, every node id in Metadata is the virtual one", async () => {
  const view = topology(100, "configured-id");
  const { response } = await exchange(
    [new NodeAddressing(view)],
    ApiKey.Metadata,
    12,
    metadataRequest,
    metadataResponse,
  );
  assert.equal(response!.clusterId, "configured-id");
  assert.deepEqual(
    response!.brokers.map((b) => [b.nodeId, b.port]),
    [
      [101, PORT_BASE + 101],
      [102, PORT_BASE + 102],
    ],
  );
  assert.equal(response!.controllerId, 101);
  const partition = response!.topics[0]!.partitions[0]!;
  assert.equal(partition.leaderId, 102);
  assert.deepEqual(partition.replicaNodes, [102, 101]);
  assert.deepEqual(partition.isrNodes, [102]);
  assert.deepEqual(partition.offlineReplicas, [101]);
  assert.deepEqual(view.node(102)?.upstream, { cluster: "main", nodeId: 2 });
  assert.deepEqual(view.addressFor(101), { host: "10.0.0.1", port: 9092 });
});

test("FindCoordinator answers name the coordinator's virtual node", async () => {
  const view = topology(100);
  const { response } = await exchange(
    [new NodeAddressing(view)],
    ApiKey.FindCoordinator,
    4,
    { key: "", keyType: 0, coordinatorKeys: ["g"] },
    () => ({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      nodeId: 0,
      host: "",
      port: 0,
      coordinators: [
        { key: "g", nodeId: 3, host: "10.0.0.3", port: 9092, errorCode: ErrorCode.NONE, errorMessage: null },
      ],
    }),
  );
  assert.deepEqual(
    response!.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port]),
    [["g", 103, "proxy.example", PORT_BASE + 103]],
  );
  assert.equal(view.node(103)?.address.host, "10.0.0.3");
});

test("DescribeCluster carries the virtual cluster id and node ids", async () => {
  const view = topology(100);
  const { response } = await exchange(
    [new NodeAddressing(view)],
    ApiKey.DescribeCluster,
    1,
    { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false },
    () => ({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      endpointType: 1,
      clusterId: "upstream-cluster",
      controllerId: 1,
      brokers: [{ brokerId: 1, host: "10.0.0.1", port: 9092, rack: null, isFenced: false }],
      clusterAuthorizedOperations: -2147483648,
    }),
  );
  assert.equal(response!.clusterId, derivedClusterId("test-virtual", ["upstream-cluster"]));
  assert.equal(response!.controllerId, 101);
  assert.deepEqual(
    response!.brokers.map((b) => [b.brokerId, b.host, b.port]),
    [[101, "proxy.example", PORT_BASE + 101]],
  );
});

test("ApiVersions v5 names the upstream cluster and node to the broker", async () => {
  const view = topology(100);
  view.learnUpstreamClusterId("main", "upstream-cluster");
  const { calls, intercepted } = await exchange(
    [new NodeAddressing(view)],
    ApiKey.ApiVersions,
    5,
    {
      clientSoftwareName: "test",
      clientSoftwareVersion: "1",
      clusterId: view.clusterId!,
      nodeId: 102,
    },
    () => ({
      errorCode: ErrorCode.NONE,
      apiKeys: [],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    }),
    fakeConnection({ nodeId: 102, listener: "node-102" }),
  );
  assert.equal(intercepted, true);
  assert.equal(calls[0]!.request.clusterId, "upstream-cluster");
  assert.equal(calls[0]!.request.nodeId, 2);
});

test("ApiVersions before v5 passes through raw", async () => {
  const { intercepted } = await exchange(
    [new NodeAddressing(topology(100))],
    ApiKey.ApiVersions,
    3,
    { clientSoftwareName: "test", clientSoftwareVersion: "1", clusterId: null, nodeId: -1 },
    () => ({
      errorCode: ErrorCode.NONE,
      apiKeys: [],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    }),
  );
  assert.equal(intercepted, false);
});
