/**
 * The virtual cluster against a real 3-broker cluster: clients see the proxy's own cluster id and node ids
 * (upstream node n is virtual node 100 + n here), clients work through the renumbered nodes, and two
 * instances with the same config answer byte-identical Metadata.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import kafkajs from "kafkajs";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { freePortRange, type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { RawKafkaClient, rawExchange } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";

const NODE_ID_BASE = 100;
const VIRTUAL_NODE_IDS = [101, 102, 103];
const METADATA_VERSION = 12;

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let upstreamClusterId: string;

function renumbered(upstream: string, extra: Record<string, unknown> = {}) {
  return { kafka: { bootstrap_servers: upstream.split(","), node_id_base: NODE_ID_BASE }, ...extra };
}

function metadataRequest(topic: string) {
  return {
    topics: [{ topicId: "0".repeat(32), name: topic }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

describe("the virtual cluster in front of a 3-broker cluster", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster({ brokers: 3 });
    const direct = await RawKafkaClient.connect(cluster.bootstrap.split(",")[0]!);
    upstreamClusterId = (await direct.request(ApiKey.Metadata, METADATA_VERSION, metadataRequest("none")))
      .clusterId;
    direct.close();
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      brokerIdBase: NODE_ID_BASE,
      extra: renumbered(cluster.bootstrap),
    });
  });

  after(async () => {
    await proxy?.stop();
  });

  test("Metadata names the virtual cluster, its node ids and their ports", async () => {
    const topic = cluster.uniqueTopic("vc-meta-");
    await cluster.createTopic(topic, { partitions: 3, replicationFactor: 3 });
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const body = await waitFor("leaders", async () => {
      const answer = await client.request(ApiKey.Metadata, METADATA_VERSION, metadataRequest(topic));
      const partitions = answer.topics[0]?.partitions ?? [];
      return partitions.length === 3 && partitions.every((p: { leaderId: number }) => p.leaderId >= 0)
        ? answer
        : undefined;
    });
    client.close();
    assert.match(body.clusterId, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(body.clusterId, upstreamClusterId);
    assert.deepEqual(
      body.brokers.map((b: { nodeId: number; port: number }) => [b.nodeId, b.port]).sort(),
      VIRTUAL_NODE_IDS.map((id) => [id, proxy.brokerPortBase + id - NODE_ID_BASE]).sort(),
    );
    assert.ok(VIRTUAL_NODE_IDS.includes(body.controllerId), `controller ${body.controllerId}`);
    for (const partition of body.topics[0].partitions) {
      assert.ok(VIRTUAL_NODE_IDS.includes(partition.leaderId), `leader ${partition.leaderId}`);
      assert.deepEqual([...partition.replicaNodes].sort(), VIRTUAL_NODE_IDS);
      assert.deepEqual([...partition.isrNodes].sort(), VIRTUAL_NODE_IDS);
    }
  });

  test("FindCoordinator and DescribeCluster name virtual nodes and the virtual cluster id", async () => {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    const metadata = await client.request(ApiKey.Metadata, METADATA_VERSION, metadataRequest("none"));
    const batched = await waitFor("coordinator", async () => {
      const answer = await client.request(ApiKey.FindCoordinator, 4, {
        key: "",
        keyType: 0,
        coordinatorKeys: ["vc-group"],
      });
      return answer.coordinators[0]?.errorCode === ErrorCode.NONE ? answer.coordinators[0] : undefined;
    });
    assert.ok(VIRTUAL_NODE_IDS.includes(batched.nodeId), `coordinator ${batched.nodeId}`);
    assert.equal(batched.port, proxy.brokerPortBase + batched.nodeId - NODE_ID_BASE);
    const single = await client.request(ApiKey.FindCoordinator, 3, { key: "vc-group", keyType: 0 });
    assert.equal(single.nodeId, batched.nodeId);
    const described = await client.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 1,
    });
    client.close();
    assert.equal(described.clusterId, metadata.clusterId);
    assert.deepEqual(described.brokers.map((b: { brokerId: number }) => b.brokerId).sort(), VIRTUAL_NODE_IDS);
    assert.ok(VIRTUAL_NODE_IDS.includes(described.controllerId));
  });

  test("a client produces and consumes through the renumbered nodes", async () => {
    const topic = cluster.uniqueTopic("vc-data-");
    await cluster.createTopic(topic, { partitions: 3, replicationFactor: 1 });
    const kafka = new kafkajs.Kafka({
      brokers: [proxy.bootstrap],
      clientId: "vc",
      logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 10 },
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const sent = Array.from({ length: 30 }, (_, i) => ({ partition: i % 3, value: `m${i}` }));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: cluster.uniqueTopic("vc-group-") });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
      await waitFor("every record", async () => (seen.length >= sent.length ? true : undefined), 60_000);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(seen.sort(), sent.map((m) => m.value).sort());
  });

  test("two instances with the same config answer byte-identical Metadata", async () => {
    const topic = cluster.uniqueTopic("vc-twin-");
    await cluster.createTopic(topic, { partitions: 3, replicationFactor: 3 });
    const port = await freePortRange(10);
    const sameConfig = (host: string) =>
      renumbered(cluster.bootstrap, {
        listen: { address: `${host}:${port}`, advertised_address: "kafka-proxy.test" },
      });
    const first = await startProxy({
      upstream: cluster.bootstrap,
      port,
      brokerPortBase: port + 1,
      brokerIdBase: NODE_ID_BASE,
      extra: sameConfig("127.0.0.2"),
    });
    const second = await startProxy({
      upstream: cluster.bootstrap,
      port,
      brokerPortBase: port + 1,
      brokerIdBase: NODE_ID_BASE,
      extra: sameConfig("127.0.0.3"),
    });
    try {
      const request = encodeRequest(
        { apiKey: ApiKey.Metadata, apiVersion: METADATA_VERSION, correlationId: 9, clientId: "twin" },
        metadataRequest(topic),
      );
      const addresses = [`127.0.0.2:${port}`, `127.0.0.3:${port}`];
      await waitFor("both instances see the topic's leaders", async () => {
        for (const address of addresses) {
          const client = await RawKafkaClient.connect(address);
          const answer = await client.request(ApiKey.Metadata, METADATA_VERSION, metadataRequest(topic));
          client.close();
          const partitions = answer.topics[0]?.partitions ?? [];
          if (partitions.length !== 3 || partitions.some((p: { leaderId: number }) => p.leaderId < 0))
            return undefined;
        }
        return true;
      });
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all(addresses.map((address) => rawExchange(address, request)));
        assert.ok(a!.includes(Buffer.from("kafka-proxy.test")), "the response names the advertised host");
        assert.deepEqual(a, b, `round ${round}`);
      }
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});
