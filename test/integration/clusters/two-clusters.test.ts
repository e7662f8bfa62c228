/**
 * Two real clusters behind one proxy address: "east" (3 brokers, Kafka 4) is the default, "west" (1 broker,
 * Kafka 3.9) takes the topics named `west.*`. Clients see one virtual cluster: its Metadata lists every routed
 * topic with virtual node ids of its own cluster, admin requests reach the topic's cluster, and records go only
 * to the cluster their topic is routed to.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey, ErrorCode, type ResponseOf } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { freePortRange, type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { RawKafkaClient, rawExchange } from "../../helpers/raw-kafka.ts";

const WEST_NODE_ID_BASE = 16;
const METADATA_VERSION = 12;

let east: KafkaTestCluster;
let west: KafkaTestCluster;
let proxy: ProxyProcess;

function twoClusters(eastBootstrap: string, westBootstrap: string) {
  return {
    clusters: {
      east: { bootstrap_servers: eastBootstrap.split(",") },
      west: { bootstrap_servers: westBootstrap.split(","), node_id_base: WEST_NODE_ID_BASE },
    },
    routing: { default_cluster: "east", topics: { "west\\..*": "west" } },
  };
}

async function topicsOn(cluster: KafkaTestCluster): Promise<string[]> {
  return (await cluster.toolOk("kafka-topics", ["--list"])).split("\n").filter(Boolean);
}

async function metadataThroughProxy(topics: string[] | null): Promise<ResponseOf<typeof ApiKey.Metadata>> {
  const client = await RawKafkaClient.connect(proxy.bootstrap);
  try {
    return await client.request(ApiKey.Metadata, METADATA_VERSION, {
      topics: topics === null ? null : topics.map((name) => ({ topicId: "0".repeat(32), name })),
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  } finally {
    client.close();
  }
}

describe("two clusters behind one address (east: Kafka 4, 3 brokers; west: Kafka 3.9, 1 broker)", {
  timeout: 300_000,
}, () => {
  before(async () => {
    [east, west] = await Promise.all([
      useKafkaCluster({ brokers: 3 }),
      useKafkaCluster({ brokers: 1, version: "3.9", exclusive: true }), // west: its broker is killed and restarted
    ]);
    proxy = await startProxy({
      upstream: east.bootstrap,
      brokerSlots: 32,
      extra: twoClusters(east.bootstrap, west.bootstrap),
    });
  });

  after(async () => {
    await proxy?.stop();
  });

  test("Metadata lists both clusters' brokers and each topic from its own cluster", async () => {
    const eastTopic = east.uniqueTopic("east.");
    const westTopic = west.uniqueTopic("west.");
    await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 2 });
    const shadow = `west.${eastTopic}`;
    await east.createTopic(shadow, { partitions: 1 });

    const all = await metadataThroughProxy(null);
    const nodeIds = all.brokers.map((b) => b.nodeId);
    assert.deepEqual(
      nodeIds,
      [...east.brokers.map((b) => b.id), ...west.brokers.map((b) => WEST_NODE_ID_BASE + b.id)].sort(
        (a, b) => a - b,
      ),
    );
    for (const broker of all.brokers) assert.equal(broker.host, "127.0.0.1");
    assert.equal(all.controllerId, nodeIds[0]);
    const names = all.topics.map((t) => t.name);
    assert.ok(names.includes(eastTopic), "the east topic is listed");
    assert.ok(names.includes(westTopic), "the west topic is listed");
    assert.ok(!names.includes(shadow), "a west.* topic that exists on east is invisible");

    const westEntry = all.topics.find((t) => t.name === westTopic)!;
    assert.equal(westEntry.partitions.length, 2);
    for (const partition of westEntry.partitions) {
      assert.ok(partition.leaderId >= WEST_NODE_ID_BASE, `west leader ${partition.leaderId} is a west node`);
      for (const replica of partition.replicaNodes) assert.ok(replica >= WEST_NODE_ID_BASE);
    }
    const eastEntry = all.topics.find((t) => t.name === eastTopic)!;
    for (const partition of eastEntry.partitions) assert.ok(partition.leaderId < WEST_NODE_ID_BASE);

    const named = await metadataThroughProxy([westTopic, eastTopic, shadow]);
    const byName = (a: unknown[], b: unknown[]) => String(a[0]).localeCompare(String(b[0]));
    assert.deepEqual(
      named.topics.map((t) => [t.name, t.errorCode, t.partitions.length]).sort(byName),
      [
        [eastTopic, 0, 3],
        [westTopic, 0, 2],
        [shadow, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
      ].sort(byName),
      "each named topic answered by its own cluster",
    );
  });

  test("kafka-topics through the proxy creates, lists, describes and deletes topics on both clusters", async () => {
    const eastTopic = east.uniqueTopic("east.cli-");
    const westTopic = west.uniqueTopic("west.cli-");
    const viaProxy = ["--bootstrap-server", proxy.bootstrap];
    await east.toolOk("kafka-topics", [...viaProxy, "--create", "--topic", eastTopic, "--partitions", "2"]);
    await east.toolOk("kafka-topics", [...viaProxy, "--create", "--topic", westTopic, "--partitions", "3"]);
    assert.ok((await topicsOn(east)).includes(eastTopic));
    assert.ok(!(await topicsOn(east)).includes(westTopic), "the west topic was not created on east");
    assert.ok((await topicsOn(west)).includes(westTopic), "the west topic was created on west");

    const listed = (await east.toolOk("kafka-topics", [...viaProxy, "--list"])).split("\n");
    assert.ok(listed.includes(eastTopic) && listed.includes(westTopic));
    const described = await east.toolOk("kafka-topics", [...viaProxy, "--describe", "--topic", westTopic]);
    assert.match(described, new RegExp(`Topic: ${westTopic.replace(".", "\\.")}\\s.*PartitionCount: 3`));

    await east.toolOk("kafka-topics", [...viaProxy, "--delete", "--topic", westTopic]);
    await east.toolOk("kafka-topics", [...viaProxy, "--delete", "--topic", eastTopic]);
    for (let i = 0; i < 50 && (await topicsOn(west)).includes(westTopic); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(!(await topicsOn(west)).includes(westTopic), "the west topic was deleted on west");
  });

  test("kafka-configs through the proxy alters and describes topic configs on both clusters", async () => {
    const eastTopic = east.uniqueTopic("east.cfg-");
    const westTopic = west.uniqueTopic("west.cfg-");
    await east.createTopic(eastTopic, { partitions: 1, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 1 });
    const viaProxy = ["--bootstrap-server", proxy.bootstrap];
    for (const [topic, retention] of [
      [eastTopic, "3600001"],
      [westTopic, "3600002"],
    ] as const) {
      await east.toolOk("kafka-configs", [
        ...viaProxy,
        "--alter",
        "--entity-type",
        "topics",
        "--entity-name",
        topic,
        "--add-config",
        `retention.ms=${retention}`,
      ]);
      const throughProxy = await east.toolOk("kafka-configs", [
        ...viaProxy,
        "--describe",
        "--entity-type",
        "topics",
        "--entity-name",
        topic,
      ]);
      assert.match(throughProxy, new RegExp(`retention.ms=${retention}`), `${topic} through the proxy`);
    }
    const direct = async (cluster: KafkaTestCluster, topic: string) =>
      cluster.toolOk("kafka-configs", ["--describe", "--entity-type", "topics", "--entity-name", topic]);
    assert.match(
      await direct(west, westTopic),
      /retention.ms=3600002/,
      "the west topic's config changed on west",
    );
    assert.match(
      await direct(east, eastTopic),
      /retention.ms=3600001/,
      "the east topic's config changed on east",
    );
  });

  test("KafkaJS produces (idempotent, acks=all) to both clusters and consumes both in one group", async () => {
    const eastTopic = east.uniqueTopic("east.js-");
    const westTopic = west.uniqueTopic("west.js-");
    await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 2 });
    const kafka = new Kafka({
      clientId: "two-clusters",
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = new Map<string, string[]>([
      [eastTopic, []],
      [westTopic, []],
    ]);
    for (let i = 0; i < 60; i++) {
      const topic = i % 2 === 0 ? eastTopic : westTopic;
      const value = `${topic}:${i}`;
      sent.get(topic)!.push(value);
      await producer.send({ topic, acks: -1, messages: [{ key: String(i), value }] });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `two-clusters-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topics: [eastTopic, westTopic], fromBeginning: true });
    const received = new Map<string, string[]>([
      [eastTopic, []],
      [westTopic, []],
    ]);
    let total = 0;
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          received.get(topic)!.push(message.value!.toString());
          if (++total === 60) resolve();
        },
      });
    });
    await Promise.race([
      done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`consumed ${total} of 60`)), 60_000)),
    ]);
    await consumer.disconnect();
    for (const topic of [eastTopic, westTopic]) {
      assert.deepEqual([...received.get(topic)!].sort(), [...sent.get(topic)!].sort(), topic);
    }

    const direct = async (cluster: KafkaTestCluster, topic: string) =>
      (
        await cluster.toolOk("kafka-console-consumer", [
          "--topic",
          topic,
          "--from-beginning",
          "--timeout-ms",
          "5000",
        ])
      )
        .split("\n")
        .filter(Boolean)
        .sort();
    assert.deepEqual(
      await direct(west, westTopic),
      [...sent.get(westTopic)!].sort(),
      "west holds the west records",
    );
    assert.deepEqual(
      await direct(east, eastTopic),
      [...sent.get(eastTopic)!].sort(),
      "east holds the east records",
    );
    assert.ok(!(await topicsOn(east)).includes(westTopic), "nothing of the west topic reached east");
  });

  test("a group spanning both clusters keeps each topic's offsets on its own cluster, resumes exactly and resets", async () => {
    const eastTopic = east.uniqueTopic("east.group-");
    const westTopic = west.uniqueTopic("west.group-");
    await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 2 });
    const group = `spanning-${Date.now()}`;
    const kafka = new Kafka({
      clientId: "two-clusters-group",
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produce = async (round: string, count: number) => {
      for (const topic of [eastTopic, westTopic]) {
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: count }, (_, i) => ({
            key: String(i),
            value: `${round}:${topic}:${i}`,
          })),
        });
      }
    };
    const consumeAll = async (expected: number): Promise<string[]> => {
      const consumer = kafka.consumer({ groupId: group });
      await consumer.connect();
      await consumer.subscribe({ topics: [eastTopic, westTopic], fromBeginning: true });
      const values: string[] = [];
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            values.push(message.value!.toString());
            if (values.length === expected) resolve();
          },
        });
      });
      await Promise.race([
        done,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`consumed ${values.length} of ${expected}`)), 60_000),
        ),
      ]);
      // Anything past the expected records would arrive within this pause.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      await consumer.disconnect();
      return values.sort();
    };
    const expectedOf = (round: string, count: number) =>
      [eastTopic, westTopic]
        .flatMap((topic) => Array.from({ length: count }, (_, i) => `${round}:${topic}:${i}`))
        .sort();
    const viaProxy = ["--bootstrap-server", proxy.bootstrap];
    let lastDescribed = "";
    /** CURRENT-OFFSET and LAG per topic-partition, from kafka-consumer-groups --describe. */
    const describe = async (cluster: KafkaTestCluster, through: string[]) => {
      const out = await cluster.toolOk("kafka-consumer-groups", [...through, "--describe", "--group", group]);
      lastDescribed = out;
      const rows = new Map<string, [string, string]>();
      for (const line of out.split("\n")) {
        const columns = line.trim().split(/\s+/);
        if (columns[0] === group && (columns[1] === eastTopic || columns[1] === westTopic)) {
          rows.set(`${columns[1]}/${columns[2]}`, [columns[3]!, columns[5]!]);
        }
      }
      return rows;
    };

    await produce("first", 20);
    assert.deepEqual(await consumeAll(40), expectedOf("first", 20));

    const throughProxy = await describe(east, viaProxy);
    assert.equal(throughProxy.size, 5, `every partition of both topics:\n${lastDescribed}`);
    for (const [partition, [current, lag]] of throughProxy) {
      assert.notEqual(current, "-", `${partition} has a committed offset`);
      assert.equal(lag, "0", `${partition} has no lag:\n${lastDescribed}\n${proxy.logs().slice(-3000)}`);
    }
    const onWest = await describe(west, []);
    assert.deepEqual(
      [...onWest.keys()].sort(),
      [`${westTopic}/0`, `${westTopic}/1`],
      "west keeps the west offsets",
    );
    const onEast = await describe(east, []);
    assert.deepEqual(
      [...onEast.keys()].sort(),
      [`${eastTopic}/0`, `${eastTopic}/1`, `${eastTopic}/2`],
      "east keeps only the east offsets",
    );

    await produce("second", 10);
    assert.deepEqual(await consumeAll(20), expectedOf("second", 10), "the group resumed where it committed");

    await east.toolOk("kafka-consumer-groups", [
      ...viaProxy,
      "--reset-offsets",
      "--group",
      group,
      "--all-topics",
      "--to-earliest",
      "--execute",
    ]);
    const reset = await describe(east, viaProxy);
    assert.equal(reset.size, 5, lastDescribed);
    for (const [partition, [current]] of reset) assert.equal(current, "0", `${partition} was reset`);
    assert.deepEqual(
      [...(await describe(west, [])).values()].map(([current]) => current),
      ["0", "0"],
      "the reset reached west",
    );
    await producer.disconnect();

    const listed = (await east.toolOk("kafka-consumer-groups", [...viaProxy, "--list"]))
      .split("\n")
      .filter((line) => line.trim() === group);
    assert.equal(listed.length, 1, "the group is listed once, though both clusters keep its offsets");
    await east.toolOk("kafka-consumer-groups", [...viaProxy, "--delete", "--group", group]);
    for (const cluster of [east, west]) {
      const remaining = (await cluster.toolOk("kafka-consumer-groups", ["--list"])).split("\n");
      assert.ok(!remaining.includes(group), "deleting the group removed its offsets on both clusters");
    }
  });

  test("two instances with the same config answer byte-identical Metadata, and a group moves between them", async () => {
    const eastTopic = east.uniqueTopic("east.twin-");
    const westTopic = west.uniqueTopic("west.twin-");
    await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 2 });
    const port = await freePortRange(34);
    const twin = (host: string) =>
      startProxy({
        upstream: east.bootstrap,
        port,
        brokerPortBase: port + 1,
        brokerSlots: 32,
        extra: {
          ...twoClusters(east.bootstrap, west.bootstrap),
          listen: { address: `${host}:${port}`, advertised_address: "kafka-proxy.test" },
        },
      });
    const [first, second] = await Promise.all([twin("127.0.0.2"), twin("127.0.0.3")]);
    try {
      const request = encodeRequest(
        { apiKey: ApiKey.Metadata, apiVersion: METADATA_VERSION, correlationId: 9, clientId: "twin" },
        {
          topics: [eastTopic, westTopic].map((name) => ({ topicId: "0".repeat(32), name })),
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        },
      );
      const addresses = [`127.0.0.2:${port}`, `127.0.0.3:${port}`];
      for (let round = 0; round < 3; round++) {
        const [a, b] = await Promise.all(addresses.map((address) => rawExchange(address, request)));
        assert.ok(
          a!.includes(Buffer.from(westTopic)) && a!.includes(Buffer.from(eastTopic)),
          "both topics listed",
        );
        assert.deepEqual(a, b, `round ${round}`);
      }
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }

    // A group read through one instance, then through another, resumes exactly.
    const other = await startProxy({
      upstream: east.bootstrap,
      brokerSlots: 32,
      extra: twoClusters(east.bootstrap, west.bootstrap),
    });
    try {
      const group = `twin-group-${Date.now()}`;
      const through = (bootstrap: string) =>
        new Kafka({ clientId: "twin", brokers: [bootstrap], logLevel: logLevel.NOTHING });
      const producer = through(proxy.bootstrap).producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const send = async (round: string) => {
        const values: string[] = [];
        for (const topic of [eastTopic, westTopic]) {
          const messages = Array.from({ length: 10 }, (_, i) => ({ value: `${round}:${topic}:${i}` }));
          values.push(...messages.map((m) => m.value));
          await producer.send({ topic, acks: -1, messages });
        }
        return values.sort();
      };
      const consume = async (bootstrap: string, expected: number) => {
        const consumer = through(bootstrap).consumer({ groupId: group });
        await consumer.connect();
        await consumer.subscribe({ topics: [eastTopic, westTopic], fromBeginning: true });
        const values: string[] = [];
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`consumed ${values.length} of ${expected}`)),
            60_000,
          );
          void consumer.run({
            eachMessage: async ({ message }) => {
              values.push(message.value!.toString());
              if (values.length === expected) {
                clearTimeout(timer);
                resolve();
              }
            },
          });
        });
        await new Promise((resolve) => setTimeout(resolve, 2000));
        await consumer.disconnect();
        return values.sort();
      };
      const firstRound = await send("one");
      assert.deepEqual(await consume(proxy.bootstrap, firstRound.length), firstRound);
      const secondRound = await send("two");
      assert.deepEqual(
        await consume(other.bootstrap, secondRound.length),
        secondRound,
        "resumed through the other instance",
      );
      await producer.disconnect();
    } finally {
      await other.stop();
    }
  });

  test("virtualized topics on both clusters: each virtual partition gets exactly its own records", async () => {
    const V = 8;
    const P = 2;
    const eastTopic = east.uniqueTopic("east.virt-");
    const westTopic = west.uniqueTopic("west.virt-");
    await east.createTopic(eastTopic, { partitions: P, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: P });
    const virtualizing = await startProxy({
      upstream: east.bootstrap,
      brokerSlots: 32,
      extra: {
        ...twoClusters(east.bootstrap, west.bootstrap),
        mapping: { topics: { "(east|west)\\.virt-.*": { virtual_partitions: V, physical_partitions: P } } },
      },
    });
    try {
      const kafka = new Kafka({
        clientId: "virt",
        brokers: [virtualizing.bootstrap],
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const sent = new Map<string, string[]>();
      for (const topic of [eastTopic, westTopic]) {
        for (let v = 0; v < V; v++) {
          const values = Array.from({ length: 5 }, (_, i) => `${topic}|${v}|${i}`);
          sent.set(`${topic}|${v}`, values);
          await producer.send({
            topic,
            acks: -1,
            messages: values.map((value) => ({ value, partition: v })),
          });
        }
      }
      await producer.disconnect();

      const consumer = kafka.consumer({ groupId: `virt-${Date.now()}` });
      await consumer.connect();
      const received = new Map<string, string[]>();
      let total = 0;
      try {
        await consumer.subscribe({ topics: [eastTopic, westTopic], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () =>
              reject(
                new Error(
                  `consumed ${total} of ${2 * V * 5}: ${JSON.stringify([...received].map(([k, v]) => [k, v.length]))}\n${virtualizing.logs().slice(-2000)}`,
                ),
              ),
            60_000,
          );
          void consumer.run({
            eachMessage: async ({ topic, partition, message }) => {
              const key = `${topic}|${partition}`;
              received.set(key, [...(received.get(key) ?? []), message.value!.toString()]);
              if (++total === 2 * V * 5) {
                clearTimeout(timer);
                resolve();
              }
            },
          });
        });
        await new Promise((resolve) => setTimeout(resolve, 2000));
      } finally {
        await consumer.disconnect();
      }
      assert.equal(total, 2 * V * 5, "nothing more than was sent");
      for (const [key, values] of sent) {
        assert.deepEqual(
          received.get(key),
          values,
          `virtual partition ${key} got exactly its own records, in order`,
        );
      }
      const physicalWest = (
        await west.toolOk("kafka-console-consumer", [
          "--topic",
          westTopic,
          "--from-beginning",
          "--timeout-ms",
          "5000",
        ])
      )
        .split("\n")
        .filter(Boolean);
      assert.equal(physicalWest.length, V * 5, "the west virtual topic's records are stored on west");
    } finally {
      await virtualizing.stop();
    }
  });

  // Last: it stops the west cluster's broker (and starts it again).
  test("with one cluster down the other keeps serving; the down cluster's topics recover with nothing acknowledged lost", async () => {
    const eastTopic = east.uniqueTopic("east.outage-");
    const westTopic = west.uniqueTopic("west.outage-");
    await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 1 });
    const kafka = new Kafka({
      clientId: "outage",
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    const westProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await westProducer.connect();
    const westAcked: string[] = [];
    for (let i = 0; i < 10; i++) {
      await westProducer.send({ topic: westTopic, acks: -1, messages: [{ value: `before:${i}` }] });
      westAcked.push(`before:${i}`);
    }

    const eastProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await eastProducer.connect();
    const eastConsumer = kafka.consumer({ groupId: `outage-east-${Date.now()}` });
    await eastConsumer.connect();
    await eastConsumer.subscribe({ topic: eastTopic, fromBeginning: true });
    const eastReceived = new Set<string>();
    void eastConsumer.run({
      eachMessage: async ({ message }) => {
        eastReceived.add(message.value!.toString());
      },
    });
    const eastAcked: string[] = [];
    const eastErrors: string[] = [];
    const produceEast = async (label: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const value = `${label}:${i}`;
        try {
          await eastProducer.send({ topic: eastTopic, acks: -1, messages: [{ value }] });
          eastAcked.push(value);
        } catch (error) {
          eastErrors.push(`${value}: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await produceEast("before", 20);

    await west.killBroker(west.brokers[0]!.id);
    try {
      await produceEast("during", 100);
      assert.deepEqual(eastErrors, [], "the east producer saw no error while west was down");
      const during = await metadataThroughProxy([eastTopic, westTopic]);
      const eastEntry = during.topics.find((t) => t.name === eastTopic)!;
      assert.equal(eastEntry.errorCode, ErrorCode.NONE);
      assert.ok(
        eastEntry.partitions.every((p) => p.leaderId >= 0),
        "east partitions keep their leaders",
      );
      const readiness = async () => {
        const response = await fetch(`http://127.0.0.1:${proxy.adminPort}/readyz`);
        return {
          status: response.status,
          body: (await response.json()) as { clusters: Record<string, { reachable: boolean }> },
        };
      };
      let down = await readiness();
      for (let i = 0; i < 40 && down.body.clusters.west!.reachable; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        down = await readiness();
      }
      assert.equal(down.status, 503, "not ready while a cluster is down");
      assert.equal(down.body.clusters.west!.reachable, false, "/readyz names the cluster that is down");
      assert.equal(down.body.clusters.east!.reachable, true);
      const westEntry = during.topics.find((t) => t.name === westTopic)!;
      assert.ok(
        westEntry.errorCode !== ErrorCode.NONE || westEntry.partitions.every((p) => p.leaderId < 0),
        `the west topic is unavailable, as Kafka shows it: error ${westEntry.errorCode}`,
      );
    } finally {
      await west.restartBroker(west.brokers[0]!.id);
    }
    let back = { status: 0 };
    for (let i = 0; i < 80 && back.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      back = await fetch(`http://127.0.0.1:${proxy.adminPort}/readyz`);
    }
    assert.equal(back.status, 200, "ready again once the cluster is back");
    await produceEast("after", 10);
    for (let i = 0; i < 10; i++) {
      await westProducer.send({ topic: westTopic, acks: -1, messages: [{ value: `after:${i}` }] });
      westAcked.push(`after:${i}`);
    }
    const deadline = Date.now() + 30_000;
    while (eastAcked.some((v) => !eastReceived.has(v)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(
      eastAcked.filter((v) => !eastReceived.has(v)),
      [],
      "the east consumer received every acknowledged east record",
    );
    assert.deepEqual(eastErrors, []);
    await Promise.all([eastConsumer.disconnect(), eastProducer.disconnect(), westProducer.disconnect()]);

    const stored = (
      await west.toolOk("kafka-console-consumer", [
        "--topic",
        westTopic,
        "--from-beginning",
        "--timeout-ms",
        "8000",
      ])
    )
      .split("\n")
      .filter(Boolean);
    assert.deepEqual(
      westAcked.filter((v) => !stored.includes(v)),
      [],
      "every acknowledged west record is on west after it came back",
    );
  });
});
