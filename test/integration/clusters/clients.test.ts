/**
 * Real clients through one proxy in front of two clusters ("east": Kafka 4, 3 brokers, the default; "west": Kafka
 * 3.9, 1 broker, topics `west.*`): each produces idempotently with acks=all to a topic on each cluster in the
 * same session, consumes both in one consumer group (classic protocol), commits, restarts and resumes exactly, and
 * each cluster holds only its own topic's records. Consumer-protocol (KIP-848) groups work when their topics live
 * on their home cluster and are refused, with a message, when a subscription spans clusters.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { buildFranz } from "../../compat/franz/program.ts";
import {
  type DeliveredRecord,
  type DriverProgram,
  type GroupDescription,
  JsonDriver,
  type ProduceResult,
} from "../../compat/json-driver/driver.ts";
import { confluentKafka } from "../../compat/librdkafka/program.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";

const WEST_NODE_ID_BASE = 16;
const PER_TOPIC = 30;

let east: KafkaTestCluster;
let west: KafkaTestCluster;
let proxy: ProxyProcess;

const idOf = (topic: string, record: { partition: number; offset: number }) =>
  `${topic}/${record.partition}/${record.offset}`;

/** The records of `topic` as direct reads of `cluster` see them (console consumer, values only). */
async function valuesOn(cluster: KafkaTestCluster, topic: string): Promise<string[]> {
  const out = await cluster.toolOk("kafka-console-consumer", [
    "--topic",
    topic,
    "--from-beginning",
    "--timeout-ms",
    "5000",
  ]);
  return out.split("\n").filter(Boolean).sort();
}

async function topicsOn(cluster: KafkaTestCluster): Promise<string[]> {
  return (await cluster.toolOk("kafka-topics", ["--list"])).split("\n").filter(Boolean);
}

describe("clients through one proxy in front of two clusters (east: Kafka 4, west: Kafka 3.9)", {
  timeout: 600_000,
}, () => {
  const programs = new Map<string, DriverProgram>();

  before(async () => {
    const [eastCluster, westCluster, franz] = await Promise.all([
      useKafkaCluster({ brokers: 3 }),
      useKafkaCluster({ brokers: 1, version: "3.9" }),
      buildFranz(),
    ]);
    east = eastCluster;
    west = westCluster;
    programs.set("librdkafka", confluentKafka());
    programs.set("franz-go", franz);
    proxy = await startProxy({
      upstream: east.bootstrap,
      brokerSlots: 32,
      extra: {
        clusters: {
          east: { bootstrap_servers: east.bootstrap.split(",") },
          west: { bootstrap_servers: west.bootstrap.split(","), node_id_base: WEST_NODE_ID_BASE },
        },
        routing: { default_cluster: "east", topics: { "west\\..*": "west" } },
      },
    });
  });

  after(async () => {
    await proxy?.stop();
  });

  for (const name of ["librdkafka", "franz-go"]) {
    test(`${name}: idempotent produce to both clusters, one classic group over both, commit, restart, resume exactly`, async () => {
      const client = new JsonDriver(programs.get(name)!, proxy.bootstrap);
      const eastTopic = east.uniqueTopic(`east.${name}-`);
      const westTopic = west.uniqueTopic(`west.${name}-`);
      await east.createTopic(eastTopic, { partitions: 3, replicationFactor: 3 });
      await west.createTopic(westTopic, { partitions: 2 });
      const produce = async (topic: string, start: number) => {
        const result = await client.run<ProduceResult>("produce", {
          topic,
          count: PER_TOPIC,
          start,
          tag: topic,
        });
        assert.deepEqual(result.errors, []);
        assert.equal(result.delivered.length, PER_TOPIC);
        return result.delivered.map((record) => ({ ...record, topic }));
      };
      const produced: DeliveredRecord[] = [
        ...(await produce(eastTopic, 0)),
        ...(await produce(westTopic, 0)),
      ];
      const group = `${name}-spanning-${Date.now()}`;
      const consume = (expect: number) =>
        client.run<{ records: DeliveredRecord[] }>(
          "consume",
          {
            topic: [eastTopic, westTopic],
            group,
            "group-protocol": "classic",
            commit: true,
            expect,
            settle: 2,
          },
          90,
        );

      const first = await consume(produced.length);
      assert.deepEqual(
        first.records.map((r) => idOf(r.topic!, r)).sort(),
        produced.map((r) => idOf(r.topic!, r)).sort(),
        "every record of both topics, once",
      );
      const described = await client.run<GroupDescription>("describe-group", { group });
      assert.deepEqual(
        [...new Set(described.partitions.map((p) => p.topic))].sort(),
        [eastTopic, westTopic].sort(),
        "the group's offsets cover both clusters' topics",
      );
      assert.equal(described.total_lag, 0);

      const more: DeliveredRecord[] = [
        ...(await produce(eastTopic, PER_TOPIC)),
        ...(await produce(westTopic, PER_TOPIC)),
      ];
      const second = await consume(more.length);
      assert.deepEqual(
        second.records.map((r) => idOf(r.topic!, r)).sort(),
        more.map((r) => idOf(r.topic!, r)).sort(),
        "the restarted group resumes exactly where it committed",
      );

      assert.equal((await valuesOn(west, westTopic)).length, 2 * PER_TOPIC, "west holds the west records");
      assert.equal((await valuesOn(east, eastTopic)).length, 2 * PER_TOPIC, "east holds the east records");
      assert.ok(!(await topicsOn(east)).includes(westTopic), "nothing of the west topic reached east");
    });
  }

  test("librdkafka: a consumer-protocol group over its home cluster's topics works; one spanning clusters is refused", async () => {
    // Kafka 3.9 (west) does not serve consumer-protocol groups by default; the groups here live on east.
    const client = new JsonDriver(programs.get("librdkafka")!, proxy.bootstrap);
    const westTopic = west.uniqueTopic("west.kip848-");
    const eastTopic = east.uniqueTopic("east.kip848-");
    await west.createTopic(westTopic, { partitions: 2 });
    await east.createTopic(eastTopic, { partitions: 2, replicationFactor: 3 });
    await client.run("produce", { topic: eastTopic, count: 10, tag: "e" });
    const home = await client.run<{ records: DeliveredRecord[] }>(
      "consume",
      {
        topic: eastTopic,
        group: `east-home-${Date.now()}`,
        "group-protocol": "consumer",
        commit: true,
        expect: 10,
      },
      90,
    );
    assert.equal(home.records.length, 10, "an east-homed consumer-protocol group reads its east topic");

    // librdkafka reports the refusal (INVALID_REQUEST and its message) and gets no assignment.
    const spanning = await client
      .run<{ records: DeliveredRecord[] }>(
        "consume",
        {
          topic: [eastTopic, westTopic],
          group: `spanning-848-${Date.now()}`,
          "group-protocol": "consumer",
          expect: 10,
        },
        30,
      )
      .then(
        (answer) => answer.records,
        (error: Error) => {
          assert.match(error.message, /INVALID_REQUEST|InvalidRequest|cannot assign/i);
          return [];
        },
      );
    assert.deepEqual(spanning, [], "no partition is assigned to a consumer-protocol group spanning clusters");
    assert.match(proxy.logs(), /whose coordinator cannot assign topics of cluster west/);
  });

  test("Java console tools: idempotent produce to both clusters, one group over both, resume exactly", async () => {
    const eastTopic = east.uniqueTopic("east.java-");
    const westTopic = west.uniqueTopic("west.java-");
    await east.createTopic(eastTopic, { partitions: 2, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 2 });
    const viaProxy = ["--bootstrap-server", proxy.bootstrap];
    const produce = async (topic: string, round: string) => {
      const lines = Array.from({ length: 20 }, (_, i) => `${round}-${topic}-${i}`);
      await east.toolOk(
        "kafka-console-producer",
        [
          ...viaProxy,
          "--topic",
          topic,
          "--producer-property",
          "acks=all",
          "--producer-property",
          "enable.idempotence=true",
        ],
        { input: `${lines.join("\n")}\n` },
      );
      return lines;
    };
    const group = `java-spanning-${Date.now()}`;
    const consume = async (expected: number) => {
      const result = await east.tool("kafka-console-consumer", [
        ...viaProxy,
        "--include",
        `${eastTopic.replaceAll(".", "\\.")}|${westTopic.replaceAll(".", "\\.")}`,
        "--group",
        group,
        "--from-beginning",
        "--max-messages",
        String(expected),
        "--timeout-ms",
        "30000",
      ]);
      return result.stdout.split("\n").filter(Boolean).sort();
    };
    const first = [...(await produce(eastTopic, "a")), ...(await produce(westTopic, "a"))];
    assert.deepEqual(await consume(first.length), first.sort());
    const second = [...(await produce(eastTopic, "b")), ...(await produce(westTopic, "b"))];
    assert.deepEqual(await consume(second.length), second.sort(), "the group resumed where it committed");
    assert.deepEqual(
      await valuesOn(west, westTopic),
      [...first, ...second].filter((v) => v.includes(westTopic)).sort(),
    );
  });

  test("Java console consumer: a consumer-protocol group over its home cluster's topic resumes exactly", async () => {
    const eastTopic = east.uniqueTopic("east.java848-");
    await east.createTopic(eastTopic, { partitions: 2, replicationFactor: 3 });
    const viaProxy = ["--bootstrap-server", proxy.bootstrap];
    const group = `java-848-${Date.now()}`;
    const produce = async (round: string) => {
      const lines = Array.from({ length: 10 }, (_, i) => `${round}-${i}`);
      await east.toolOk("kafka-console-producer", [...viaProxy, "--topic", eastTopic], {
        input: `${lines.join("\n")}\n`,
      });
      return lines.sort();
    };
    const consume = async (expected: number) =>
      (
        await east.tool("kafka-console-consumer", [
          ...viaProxy,
          "--topic",
          eastTopic,
          "--group",
          group,
          "--command-property",
          "group.protocol=consumer",
          "--from-beginning",
          "--max-messages",
          String(expected),
          "--timeout-ms",
          "30000",
        ])
      ).stdout
        .split("\n")
        .filter(Boolean)
        .sort();
    const first = await produce("a");
    assert.deepEqual(await consume(first.length), first);
    const consumerGroups = await east.toolOk("kafka-consumer-groups", ["--list", "--type", "consumer"]);
    const listed = consumerGroups.split("\n").some((line) => line.trim().split(/\s+/)[0] === group);
    assert.ok(listed, `east holds ${group} as a consumer-protocol group:\n${consumerGroups}`);
    const second = await produce("b");
    assert.deepEqual(
      await consume(second.length),
      second,
      "the consumer-protocol group resumed where it committed",
    );
  });

  test("an idempotent producer's id reaches each cluster distinct and mapped alike on every instance", async () => {
    const eastTopic = east.uniqueTopic("east.pid-");
    const westTopic = west.uniqueTopic("west.pid-");
    await east.createTopic(eastTopic, { partitions: 1, replicationFactor: 3 });
    await west.createTopic(westTopic, { partitions: 1 });
    const client = new JsonDriver(programs.get("librdkafka")!, proxy.bootstrap);
    // Each run is one idempotent producer, whose id the default cluster (east) hands out.
    await client.run("produce", { topic: eastTopic, count: 5, tag: "e" });
    await client.run("produce", { topic: westTopic, count: 5, tag: "w" });
    const producersOf = async (cluster: KafkaTestCluster, topic: string, through: string[] = []) => {
      const out = await cluster.toolOk("kafka-transactions", [
        ...through,
        "describe-producers",
        "--topic",
        topic,
        "--partition",
        "0",
      ]);
      return out
        .split("\n")
        .slice(1)
        .filter(Boolean)
        .map((line) => BigInt(line.trim().split(/\s+/)[0]!));
    };
    const onEast = await producersOf(east, eastTopic);
    const onWest = await producersOf(west, westTopic);
    assert.equal(onEast.length, 1);
    assert.equal(onWest.length, 1);
    assert.ok(onEast[0]! < 1n << 56n, `east keeps the id it handed out: ${onEast[0]}`);
    assert.ok(onWest[0]! >= 1n << 56n, `west sees the east-issued id moved above its own ids: ${onWest[0]}`);
    const throughProxy = await producersOf(east, westTopic, ["--bootstrap-server", proxy.bootstrap]);
    assert.deepEqual(
      throughProxy,
      [onWest[0]! - (1n << 56n)],
      "through the proxy, the id the client was given",
    );
  });
});
