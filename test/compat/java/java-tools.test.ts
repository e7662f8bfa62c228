import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, type Gateway, runTool, startGateway } from "../gateway/environment.ts";
import {
  consoleConsume,
  consoleProduce,
  describeGroupMembers,
  describeGroupOffsets,
  type KeyedRecord,
  parseTable,
} from "./console.ts";

function keyed(label: string, count: number): KeyedRecord[] {
  return Array.from({ length: count }, (_, i) => ({ key: `key-${i % 5}`, value: `${label}-${i}` }));
}

describe("Kafka's Java CLI and perf tools through the proxy (Kafka 4.4, 3 brokers)", {
  timeout: 420_000,
}, () => {
  let gateway: Gateway;
  let topic: string;
  const produced: KeyedRecord[] = [];

  before(async () => {
    gateway = await startGateway({ brokers: 3 });
    topic = gateway.uniqueName("java");
  });

  after(async () => {
    await gateway?.close();
  });

  it("kafka-topics creates, describes, alters and lists a topic", async () => {
    await runTool(gateway, "kafka-topics", [
      "--create",
      "--topic",
      topic,
      "--partitions",
      "3",
      "--replication-factor",
      "3",
    ]);
    await runTool(gateway, "kafka-topics", ["--alter", "--topic", topic, "--partitions", "4"]);
    const described = await runTool(gateway, "kafka-topics", ["--describe", "--topic", topic]);
    assert.match(described.stdout, /PartitionCount: 4\s/);
    assert.match(described.stdout, /ReplicationFactor: 3\s/);
    const partitionLines = described.stdout
      .split("\n")
      .filter((line) => /\bPartition: \d+\s+Leader: \d+/.test(line));
    assert.equal(partitionLines.length, 4, described.stdout);
    const listed = await runTool(gateway, "kafka-topics", ["--list"]);
    assert.ok(listed.stdout.split("\n").includes(topic));
  });

  for (const codec of ["lz4", "zstd", "snappy"]) {
    it(`kafka-console-producer writes keyed records, idempotent with acks=all, ${codec}`, async () => {
      const records = keyed(codec, 40);
      await consoleProduce(gateway, topic, records, { "compression.type": codec });
      produced.push(...records);
    });
  }

  it("kafka-console-consumer reads them in a group; one key stays on one partition", async () => {
    const group = gateway.uniqueName("java-console");
    const consumed = await consoleConsume(gateway, topic, { group, maxMessages: produced.length });
    assert.deepEqual(consumed.map((r) => r.value).sort(), produced.map((r) => r.value).sort());
    const partitionOfKey = new Map<string, number>();
    for (const record of consumed) {
      assert.equal(record.partition, partitionOfKey.get(record.key) ?? record.partition, `key ${record.key}`);
      partitionOfKey.set(record.key, record.partition);
    }

    const more = keyed("more", 12);
    await consoleProduce(gateway, topic, more, { "compression.type": "none" });
    produced.push(...more);
    const lagging = await describeGroupOffsets(gateway, group);
    assert.equal(lagging.length, 4);
    assert.equal(
      lagging.reduce((sum, row) => sum + (row.lag ?? row.logEndOffset), 0),
      12,
      "kafka-consumer-groups reports exactly the 12 new records as lag: the group had committed everything",
    );

    const dryRun = await runTool(gateway, "kafka-consumer-groups", [
      "--reset-offsets",
      "--to-earliest",
      "--group",
      group,
      "--topic",
      topic,
      "--dry-run",
    ]);
    const planned = parseTable(dryRun.stdout, "GROUP");
    assert.equal(planned.length, 4, dryRun.stdout);
    for (const row of planned) assert.equal(row["NEW-OFFSET"], "0");
    const resumed = await consoleConsume(gateway, topic, { group, maxMessages: 12 });
    assert.deepEqual(
      resumed.map((r) => r.value).sort(),
      more.map((r) => r.value).sort(),
      "the group resumes after its committed offsets, untouched by the dry run",
    );
  });

  it("a KIP-848 console consumer (group.protocol=consumer) commits and resumes", async () => {
    const group = gateway.uniqueName("java-kip848");
    const consumerProperties = { "group.protocol": "consumer" };
    const all = await consoleConsume(gateway, topic, {
      group,
      maxMessages: produced.length,
      consumerProperties,
    });
    assert.deepEqual(all.map((r) => r.value).sort(), produced.map((r) => r.value).sort());
    const settled = await describeGroupOffsets(gateway, group);
    assert.equal(
      settled.reduce((sum, row) => sum + (row.lag ?? 0), 0),
      0,
    );
    const later = keyed("kip848", 6);
    await consoleProduce(gateway, topic, later);
    produced.push(...later);
    const resumed = await consoleConsume(gateway, topic, {
      group,
      maxMessages: later.length,
      consumerProperties,
    });
    assert.deepEqual(resumed.map((r) => r.value).sort(), later.map((r) => r.value).sort());
  });

  it("two console consumers rebalance as one joins and leaves, losing no record", async () => {
    const rebalanceTopic = gateway.uniqueName("java-rebalance");
    await runTool(gateway, "kafka-topics", [
      "--create",
      "--topic",
      rebalanceTopic,
      "--partitions",
      "4",
      "--replication-factor",
      "3",
    ]);
    const group = gateway.uniqueName("java-rebalance");
    const total = 200;
    const leaverCount = 40;
    // One record per poll, so a member leaving commits exactly what it printed and nothing is read twice.
    const pollOne = { "max.poll.records": "1", "auto.commit.interval.ms": "500" };
    const stayer = consoleConsume(gateway, rebalanceTopic, {
      group,
      // The rest after the leaver's share, plus one last record written once the group is back to one member.
      maxMessages: total - leaverCount + 1,
      idleTimeoutMs: 90_000,
      consumerProperties: pollOne,
      toolTimeoutMs: 200_000,
    });
    // A settled group: `count` members, each with partitions, together owning all 4.
    const members = (count: number) =>
      eventually(
        `${count} member(s) sharing the 4 partitions of ${rebalanceTopic} in ${group}`,
        async () => {
          const rows = await describeGroupMembers(gateway, group);
          const owned = rows.reduce((sum, r) => sum + r.partitions, 0);
          return rows.length === count && rows.every((r) => r.partitions > 0) && owned === 4
            ? rows
            : undefined;
        },
        60_000,
        500,
      );
    const alone = await members(1);
    assert.equal(alone[0]!.partitions, 4);

    const leaver = consoleConsume(gateway, rebalanceTopic, {
      group,
      maxMessages: leaverCount,
      idleTimeoutMs: 90_000,
      consumerProperties: pollOne,
      toolTimeoutMs: 200_000,
    });
    const shared = await members(2);
    assert.deepEqual(
      shared.map((r) => r.partitions).reduce((a, b) => a + b),
      4,
    );
    assert.ok(
      shared.every((r) => r.partitions < 4),
      JSON.stringify(shared),
    );

    const records = keyed("rebalance", total);
    await consoleProduce(gateway, rebalanceTopic, records);
    const left = await leaver;
    assert.equal(left.length, leaverCount);
    const again = await members(1);
    assert.equal(again[0]!.partitions, 4, "the remaining member takes every partition back");
    const last = { key: "last", value: "rebalance-last" };
    await consoleProduce(gateway, rebalanceTopic, [last]);
    const stayed = await stayer;
    const seen = new Set([...left, ...stayed].map((r) => r.value));
    const missing = [...records, last].filter((r) => !seen.has(r.value));
    assert.deepEqual(missing, [], "every record reached one of the members");
  });

  it("kafka-configs describes and alters retention.ms", async () => {
    const entity = ["--entity-type", "topics", "--entity-name", topic];
    await runTool(gateway, "kafka-configs", ["--alter", ...entity, "--add-config", "retention.ms=3600000"]);
    const described = await runTool(gateway, "kafka-configs", ["--describe", ...entity]);
    assert.match(described.stdout, /retention\.ms=3600000\b/);
  });

  it("kafka-producer-perf-test and kafka-consumer-perf-test finish short runs", async () => {
    const perfTopic = gateway.uniqueName("java-perf");
    await runTool(gateway, "kafka-topics", [
      "--create",
      "--topic",
      perfTopic,
      "--partitions",
      "3",
      "--replication-factor",
      "3",
    ]);
    const records = 5000;
    const produced = await runTool(gateway, "kafka-producer-perf-test", [
      "--topic",
      perfTopic,
      "--num-records",
      String(records),
      "--record-size",
      "512",
      "--throughput",
      "-1",
      "--command-property",
      "acks=all",
      "compression.type=zstd",
    ]);
    assert.match(produced.stdout, new RegExp(`${records} records sent`));
    const consumed = await runTool(gateway, "kafka-consumer-perf-test", [
      "--topic",
      perfTopic,
      "--num-records",
      String(records),
      "--group",
      gateway.uniqueName("java-perf"),
      "--timeout",
      "30000",
    ]);
    const [, row] = consumed.stdout.trim().split("\n");
    const columns = row!.split(",").map((c) => c.trim());
    assert.equal(Number(columns[4]), records, consumed.stdout);
  });

  it("kafka-topics deletes the topic", async () => {
    await runTool(gateway, "kafka-topics", ["--delete", "--topic", topic]);
    await eventually("topic to leave the listing", async () => {
      const listed = await runTool(gateway, "kafka-topics", ["--list"]);
      return listed.stdout.split("\n").includes(topic) ? undefined : true;
    });
  });
});
