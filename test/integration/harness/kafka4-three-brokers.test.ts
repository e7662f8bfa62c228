import assert from "node:assert/strict";
import { before, test } from "node:test";
import { status } from "../../../scripts/kafka/cluster.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";

let kafka: KafkaTestCluster;

before(async () => {
  // exclusive: kills and restarts a broker
  kafka = await useKafkaCluster({ brokers: 3, version: "4", exclusive: true });
});

async function produce(topic: string, lines: string[]): Promise<void> {
  await kafka.toolOk("kafka-console-producer", ["--topic", topic, "--command-property", "acks=all"], {
    input: `${lines.join("\n")}\n`,
    timeoutMs: 60_000,
  });
}

async function consume(topic: string, count: number): Promise<string[]> {
  const out = await kafka.toolOk(
    "kafka-console-consumer",
    ["--topic", topic, "--from-beginning", "--max-messages", String(count), "--timeout-ms", "30000"],
    { timeoutMs: 60_000 },
  );
  return out.split("\n").filter((line) => line.length > 0);
}

test("a 3-broker 4.4.0 cluster registers every broker", () => {
  assert.equal(kafka.brokers.length, 3);
  assert.equal(kafka.brokerVersion, "4.4.0");
  assert.equal(kafka.bootstrap.split(",").length, 3);
  assert.deepEqual(
    status(kafka.dir).brokers.map((b) => b.alive),
    [true, true, true],
  );
});

test("a topic with replication factor 3 takes acks=all writes and reads them back", async () => {
  const topic = kafka.uniqueTopic("rf3");
  await kafka.toolOk("kafka-topics", [
    "--create",
    "--topic",
    topic,
    "--partitions",
    "3",
    "--replication-factor",
    "3",
  ]);
  const description = await kafka.toolOk("kafka-topics", ["--describe", "--topic", topic]);
  assert.match(description, /ReplicationFactor: 3/);
  const lines = Array.from({ length: 20 }, (_, i) => `message-${i}`);
  await produce(topic, lines);
  assert.deepEqual((await consume(topic, lines.length)).sort(), [...lines].sort());
});

test("a killed broker comes back and the cluster keeps serving meanwhile", async () => {
  const topic = kafka.uniqueTopic("failover");
  await kafka.toolOk("kafka-topics", ["--create", "--topic", topic, "--replication-factor", "3"]);
  await kafka.killBroker(2);
  assert.equal(status(kafka.dir).brokers.find((b) => b.id === 2)?.alive, false);
  await produce(topic, ["while-down"]);
  await kafka.restartBroker(2);
  assert.equal(
    status(kafka.dir).brokers.every((b) => b.alive),
    true,
  );
  await produce(topic, ["after-restart"]);
  assert.deepEqual((await consume(topic, 2)).sort(), ["after-restart", "while-down"]);
});

test("kafka-configs (core 4.3.1 ConfigCommand) alters and describes a topic config", async () => {
  const topic = kafka.uniqueTopic("configs");
  await kafka.toolOk("kafka-topics", ["--create", "--topic", topic, "--replication-factor", "3"]);
  const entity = ["--entity-type", "topics", "--entity-name", topic];
  await kafka.toolOk("kafka-configs", [...entity, "--alter", "--add-config", "retention.ms=3600000"]);
  assert.match(await kafka.toolOk("kafka-configs", [...entity, "--describe"]), /retention\.ms=3600000/);
});

test("the perf and latency tools run against the cluster", async () => {
  const topic = kafka.uniqueTopic("perf");
  await kafka.toolOk("kafka-topics", ["--create", "--topic", topic, "--replication-factor", "3"]);
  const produced = await kafka.toolOk("kafka-producer-perf-test", [
    "--topic",
    topic,
    "--num-records",
    "2000",
    "--record-size",
    "100",
    "--throughput",
    "-1",
    "--producer-props",
    "acks=all",
  ]);
  assert.match(produced, /2000 records sent/);
  const consumed = await kafka.toolOk("kafka-consumer-perf-test", ["--topic", topic, "--messages", "2000"]);
  assert.match(consumed, /data\.consumed\.in\.MB|start\.time/);
  const latency = await kafka.toolOk("kafka-e2e-latency", [
    "{bootstrap}",
    kafka.uniqueTopic("e2e"),
    "50",
    "all",
    "100",
  ]);
  assert.match(latency, /Avg latency/);
});
