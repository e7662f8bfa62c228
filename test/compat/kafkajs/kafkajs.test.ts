import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Admin, type Kafka, type Producer } from "kafkajs";
import { ErrorCode } from "../../../src/protocol/api.ts";
import { eventually, type Gateway, startGateway } from "../gateway/environment.ts";
import { fastGroup, GroupMember, kafkaClient, recordsByPartition } from "./client.ts";

const { CompressionTypes, ConfigResourceTypes } = kafkajs;
const PARTITIONS = 3;

describe("KafkaJS through the proxy (Kafka 4.4, 3 brokers)", { timeout: 240_000 }, () => {
  let gateway: Gateway;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let topic: string;
  const produced: string[] = [];

  before(async () => {
    gateway = await startGateway({ brokers: 3 });
    kafka = kafkaClient(gateway.bootstrap, "compat-kafkajs");
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    topic = gateway.uniqueName("kafkajs");
  });

  after(async () => {
    await producer?.disconnect().catch(() => {});
    await admin?.disconnect().catch(() => {});
    await gateway?.close();
  });

  async function produceKeyed(count: number, label: string): Promise<void> {
    for (let first = 0; first < count; first += 10) {
      const messages = Array.from({ length: Math.min(10, count - first) }, (_, i) => ({
        key: `key-${(first + i) % 7}`,
        value: `${label}-${first + i}`,
      }));
      const results = await producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages,
      });
      for (const result of results) assert.equal(result.errorCode, ErrorCode.NONE);
      produced.push(...messages.map((m) => m.value));
    }
  }

  it("creates a topic with the admin API and sees it in metadata", async () => {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    assert.equal(created, true);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(metadata.topics[0]!.partitions.length, PARTITIONS);
    const cluster = await admin.describeCluster();
    assert.equal(cluster.brokers.length, 3);
    const [proxyHost, proxyPort] = gateway.bootstrap.split(",")[0]!.split(":");
    for (const broker of cluster.brokers) {
      assert.equal(broker.host, proxyHost, "brokers are advertised on the proxy host");
      if (gateway.proxy) assert.notEqual(String(broker.port), proxyPort);
    }
  });

  it("produces keyed gzip records with the idempotent producer (acks=all)", async () => {
    await produceKeyed(60, "first");
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    assert.equal(total, 60);
  });

  it("consumes in a group; one key always lands on one partition", async () => {
    const member = new GroupMember(kafka, "reader", fastGroup(gateway.uniqueName("kafkajs-read")));
    try {
      await member.start(topic);
      await member.waitForCount(60);
    } finally {
      await member.stop();
    }
    assert.deepEqual(member.received.map((r) => r.value).sort(), [...produced].sort());
    const partitionOfKey = new Map<string, number>();
    for (const record of member.received) {
      const seen = partitionOfKey.get(record.key) ?? record.partition;
      assert.equal(record.partition, seen, `key ${record.key} on one partition`);
      partitionOfKey.set(record.key, seen);
    }
    for (const [partition, records] of recordsByPartition(member.received)) {
      const offsets = records.map((r) => r.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
        `offsets increase on partition ${partition}`,
      );
    }
  });

  it("commits, shows the lag, restarts and resumes exactly after the committed offsets", async () => {
    const groupId = gateway.uniqueName("kafkajs-resume");
    const committed = new Map<number, number>();
    const first = new GroupMember(kafka, "before-restart", fastGroup(groupId));
    try {
      await first.start(topic, { autoCommit: false });
      await first.waitForCount(60);
      // Commit half of what each partition delivered; the other half must come back after the restart.
      const toCommit = [...recordsByPartition(first.received)].map(([partition, records]) => {
        const half = records[Math.floor(records.length / 2)]!;
        committed.set(partition, half.offset);
        return { topic, partition, offset: String(half.offset) };
      });
      await first.consumer.commitOffsets(toCommit);
    } finally {
      await first.stop();
    }

    const groupOffsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    const topicOffsets = await admin.fetchTopicOffsets(topic);
    const lagOf = (high: string, committedOffset: number) => Number(high) - Math.max(committedOffset, 0);
    const reportedLag = topicOffsets.map(({ partition, high }) => {
      const reported = groupOffsets[0]!.partitions.find((p) => p.partition === partition)!;
      return lagOf(high, Number(reported.offset));
    });
    const expectedLag = topicOffsets.map(({ partition, high }) =>
      lagOf(high, committed.get(partition) ?? -1),
    );
    assert.deepEqual(reportedLag, expectedLag, "lag per partition: end offset minus the offset we committed");
    const lag = reportedLag.reduce((sum, partitionLag) => sum + partitionLag, 0);
    assert.ok(lag > 0 && lag < 60, `lag ${lag} is between 0 and 60`);
    const described = await admin.describeGroups([groupId]);
    assert.equal(described.groups[0]!.state, "Empty");

    await produceKeyed(30, "after-restart");
    const highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));

    const second = new GroupMember(kafka, "after-restart", fastGroup(groupId));
    try {
      await second.start(topic, { autoCommit: false });
      await second.waitForCount(lag + 30);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await second.stop();
    }
    const expected: string[] = [];
    for (const [partition, high] of highs) {
      for (let offset = committed.get(partition) ?? 0; offset < high; offset++)
        expected.push(`${partition}@${offset}`);
    }
    assert.deepEqual(
      second.received.map((r) => `${r.partition}@${r.offset}`).sort(),
      expected.sort(),
      "resumes at the committed offsets: nothing lost, nothing committed delivered again",
    );
  });

  it("rebalances as a second member joins and leaves, losing no record", async () => {
    const rebalanceTopic = gateway.uniqueName("kafkajs-rebalance");
    await admin.createTopics({
      topics: [{ topic: rebalanceTopic, numPartitions: 4, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    const groupId = gateway.uniqueName("kafkajs-rebalance");
    const first = new GroupMember(kafka, "first", fastGroup(groupId));
    const second = new GroupMember(kafka, "second", fastGroup(groupId));
    const sent: string[] = [];
    let producing = true;
    const background = (async () => {
      for (let i = 0; producing; i++) {
        const value = `rebalance-${i}`;
        await producer.send({ topic: rebalanceTopic, acks: -1, messages: [{ key: `k${i % 11}`, value }] });
        sent.push(value);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await first.start(rebalanceTopic);
      await first.waitForAssignment("owns all 4 partitions", (p) => p.length === 4);
      await second.start(rebalanceTopic);
      const [a, b] = await Promise.all([
        first.waitForAssignment("shares the partitions", (p) => p.length > 0 && p.length < 4),
        second.waitForAssignment("shares the partitions", (p) => p.length > 0),
      ]);
      assert.deepEqual([...a, ...b].sort(), [0, 1, 2, 3]);
      await second.waitForCount(1);
      await second.stop();
      await first.waitForAssignment("owns all 4 partitions again", (p) => p.length === 4);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      producing = false;
      await background;
    }
    try {
      const wanted = new Set(sent);
      await eventually(
        "every produced record received by one of the members",
        () => {
          for (const record of [...first.received, ...second.received]) wanted.delete(record.value);
          return wanted.size === 0 ? true : undefined;
        },
        30_000,
      );
    } finally {
      await first.stop();
    }
    assert.ok(first.assignments.length >= 3, `first member saw ${first.assignments.length} assignments`);
  });

  it("describes and alters topic configs", async () => {
    const resource = { type: ConfigResourceTypes.TOPIC, name: topic };
    const before = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ ...resource, configNames: ["retention.ms"] }],
    });
    const retention = before.resources[0]!.configEntries.find((e) => e.configName === "retention.ms");
    assert.ok(retention, "retention.ms described");
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ ...resource, configEntries: [{ name: "retention.ms", value: "3600000" }] }],
    });
    await eventually("retention.ms to read back as 3600000", async () => {
      const after = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ ...resource, configNames: ["retention.ms"] }],
      });
      const value = after.resources[0]!.configEntries.find(
        (e) => e.configName === "retention.ms",
      )?.configValue;
      return value === "3600000" ? true : undefined;
    });
  });

  it("deletes the topic with the admin API", async () => {
    await admin.deleteTopics({ topics: [topic], timeout: 20_000 });
    await eventually("topic to disappear", async () =>
      (await admin.listTopics()).includes(topic) ? undefined : true,
    );
  });
});
