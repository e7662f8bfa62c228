import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Kafka } from "kafkajs";
import { consoleConsume, consoleProduce, describeGroupOffsets } from "../java/console.ts";
import { fastGroup, GroupMember, kafkaClient } from "../kafkajs/client.ts";
import { type Gateway, runTool, startGateway } from "./environment.ts";

const { CompressionTypes } = kafkajs;

describe("smoke test against Kafka 3.9.2 through the proxy (1 broker)", { timeout: 240_000 }, () => {
  let gateway: Gateway;
  let kafka: Kafka;
  let topic: string;

  before(async () => {
    gateway = await startGateway({ brokers: 1, version: "3.9" });
    kafka = kafkaClient(gateway.bootstrap, "compat-kafka39");
    topic = gateway.uniqueName("kafka39");
  });

  after(async () => {
    await gateway?.close();
  });

  it("KafkaJS creates a topic, produces idempotently and consumes in a group", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        await producer.send({
          topic,
          acks: -1,
          compression: CompressionTypes.GZIP,
          messages: Array.from({ length: 30 }, (_, i) => ({ key: `key-${i % 4}`, value: `kafkajs-${i}` })),
        });
      } finally {
        await producer.disconnect();
      }
      const groupId = gateway.uniqueName("kafka39-kafkajs");
      const member = new GroupMember(kafka, "reader", fastGroup(groupId));
      try {
        await member.start(topic);
        await member.waitForCount(30);
      } finally {
        await member.stop();
      }
      assert.deepEqual(
        member.received.map((r) => r.value).sort(),
        Array.from({ length: 30 }, (_, i) => `kafkajs-${i}`).sort(),
      );
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const highs = await admin.fetchTopicOffsets(topic);
      for (const { partition, offset } of committed[0]!.partitions) {
        assert.equal(
          offset,
          highs.find((h) => h.partition === partition)!.high,
          `committed end of ${partition}`,
        );
      }
    } finally {
      await admin.disconnect();
    }
  });

  it("the 3.9 console tools produce and consume in a group, and show the lag", async () => {
    const described = await runTool(gateway, "kafka-topics", ["--describe", "--topic", topic]);
    assert.match(described.stdout, /PartitionCount: 3\s/);
    const records = Array.from({ length: 20 }, (_, i) => ({ key: `key-${i % 4}`, value: `console-${i}` }));
    await consoleProduce(gateway, topic, records, { "compression.type": "lz4" });
    const group = gateway.uniqueName("kafka39-console");
    const consumed = await consoleConsume(gateway, topic, { group, maxMessages: 50 });
    assert.equal(consumed.length, 50);
    assert.deepEqual(
      consumed
        .map((r) => r.value)
        .filter((v) => v.startsWith("console-"))
        .sort(),
      records.map((r) => r.value).sort(),
    );
    const lag = await describeGroupOffsets(gateway, group);
    assert.equal(
      lag.reduce((sum, row) => sum + (row.lag ?? 0), 0),
      0,
    );
  });
});
