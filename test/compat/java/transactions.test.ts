import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Kafka } from "kafkajs";
import { type Gateway, runTool, startGateway } from "../gateway/environment.ts";
import { fastGroup, GroupMember, kafkaClient } from "../kafkajs/client.ts";
import { consoleConsume, describeGroupOffsets } from "./console.ts";
import { runJavaProgram } from "./java-program.ts";

const PER_TRANSACTION = 20;

describe("transactions through the proxy (Kafka 4.4, 3 brokers)", { timeout: 300_000 }, () => {
  let gateway: Gateway;
  let kafka: Kafka;

  before(async () => {
    gateway = await startGateway({ brokers: 3 });
    kafka = kafkaClient(gateway.bootstrap, "compat-transactions");
  });

  after(async () => {
    await gateway?.close();
  });

  async function createTopic(prefix: string): Promise<string> {
    const topic = gateway.uniqueName(prefix);
    await runTool(gateway, "kafka-topics", [
      "--create",
      "--topic",
      topic,
      "--partitions",
      "3",
      "--replication-factor",
      "3",
    ]);
    return topic;
  }

  it("a Java transactional producer commits and aborts; read_committed sees only committed records", async () => {
    const topic = await createTopic("tx-java");
    const group = gateway.uniqueName("tx-java-offsets");
    const run = await runJavaProgram("TransactionalProducer.java", [
      gateway.bootstrap,
      topic,
      gateway.uniqueName("tx-java"),
      group,
      String(PER_TRANSACTION),
    ]);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "committed committed-a",
      "aborted aborted",
      "committed committed-b",
    ]);

    const committed = await consoleConsume(gateway, topic, {
      maxMessages: 2 * PER_TRANSACTION,
      isolationLevel: "read_committed",
    });
    const expected = ["committed-a", "committed-b"].flatMap((label) =>
      Array.from({ length: PER_TRANSACTION }, (_, i) => `${label}-${i}`),
    );
    assert.deepEqual(committed.map((r) => r.value).sort(), expected.sort());

    const everything = await consoleConsume(gateway, topic, {
      maxMessages: 3 * PER_TRANSACTION,
      isolationLevel: "read_uncommitted",
    });
    assert.equal(everything.filter((r) => r.value.startsWith("aborted-")).length, PER_TRANSACTION);

    const offsets = await describeGroupOffsets(gateway, group);
    assert.equal(
      offsets.find((r) => r.partition === 0)?.currentOffset,
      1,
      "offset committed in the transaction",
    );
  });

  it("a KafkaJS transactional producer commits and aborts; a KafkaJS group reads only committed records", async () => {
    const topic = await createTopic("tx-kafkajs");
    const producer = kafka.producer({
      transactionalId: gateway.uniqueName("tx-kafkajs"),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const messages = (label: string) =>
      Array.from({ length: PER_TRANSACTION }, (_, i) => ({ key: `key-${i % 4}`, value: `${label}-${i}` }));
    try {
      for (const [label, outcome] of [
        ["kafkajs-a", "commit"],
        ["kafkajs-aborted", "abort"],
        ["kafkajs-b", "commit"],
      ] as const) {
        const transaction = await producer.transaction();
        await transaction.send({ topic, acks: -1, messages: messages(label) });
        await (outcome === "commit" ? transaction.commit() : transaction.abort());
      }
    } finally {
      await producer.disconnect();
    }

    const member = new GroupMember(kafka, "read-committed", fastGroup(gateway.uniqueName("tx-kafkajs")));
    try {
      await member.start(topic);
      await member.waitForCount(2 * PER_TRANSACTION);
      // Each partition holds its committed-b records after its aborted ones: reading them all means passing those.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await member.stop();
    }
    const values = member.received.map((r) => r.value);
    assert.deepEqual(
      values.filter((v) => v.startsWith("kafkajs-aborted")),
      [],
    );
    assert.deepEqual(
      values.sort(),
      [...messages("kafkajs-a"), ...messages("kafkajs-b")].map((m) => m.value).sort(),
    );
  });
});
