/**
 * Acceptance: what the proxy refuses on virtualized topics, as real clients and Kafka's tools show it
 * (transactions, adding partitions, deleting records, a physical topic that disagrees with its rule), and
 * that a topic without a rule keeps transactions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import type { MetadataResponse } from "../../../src/protocol/generated/messages/metadata-response.ts";
import { runJavaProgram } from "../../compat/java/java-program.ts";
import { RawKafkaClient } from "../../helpers/raw-kafka.ts";
import {
  createTopic,
  readPhysical,
  startVirtualEnvironment,
  type VirtualEnvironment,
} from "./acceptance-support.ts";

const VIRTUAL = 32;
const PHYSICAL = 4;
const PER_TRANSACTION = 20;

describe("virtual partitions: refusals, and transactions on plain topics", { timeout: 360_000 }, () => {
  let env: VirtualEnvironment;

  before(async () => {
    env = await startVirtualEnvironment(
      { "^va-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } },
      "acceptance-refusals",
    );
  });

  after(async () => {
    await env?.close();
  });

  async function newTopic(prefix: string, partitions: number): Promise<string> {
    const topic = env.cluster.uniqueTopic(prefix);
    await createTopic(env, topic, partitions);
    return topic;
  }

  function transactionalRun(topic: string) {
    return runJavaProgram(
      "TransactionalProducer.java",
      [env.proxy.bootstrap, topic, `${topic}-tx`, `${topic}-offsets`, String(PER_TRANSACTION)],
      { timeoutMs: 120_000 },
    );
  }

  it("a Java transactional producer writing to a virtualized topic gets an error naming transactions", async () => {
    const topic = await newTopic("va-tx", VIRTUAL);
    const failure = await transactionalRun(topic).then(
      (result) => assert.fail(`the transactional producer succeeded:\n${result.stdout}`),
      (error: Error) => error.message,
    );
    assert.match(failure, /transactions are not supported on virtualized topic/i);
    const { records } = await readPhysical(env.cluster, topic);
    assert.equal(records.flat().length, 0, "nothing was written");
  });

  it("kafka-topics --alter --partitions on a virtualized topic is refused with a reason", async () => {
    const topic = await newTopic("va-alter", VIRTUAL);
    const result = await env.tool("kafka-topics", ["--alter", "--topic", topic, "--partitions", "64"]);
    assert.notEqual(result.exitCode, 0);
    assert.match(`${result.stdout}${result.stderr}`, /virtualized.*fixed by the proxy's rule/);
    const direct = env.direct.admin();
    await direct.connect();
    const { topics } = await direct.fetchTopicMetadata({ topics: [topic] });
    await direct.disconnect();
    assert.equal(topics[0]!.partitions.length, PHYSICAL, "the physical topic kept its partitions");
  });

  it("kafka-delete-records on a virtualized topic is refused with a reason", async () => {
    const topic = await newTopic("va-delete", VIRTUAL);
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: Array.from({ length: 8 }, (_, v) => ({ partition: v, value: `r-${v}` })),
    });
    await producer.disconnect();
    const dir = mkdtempSync(path.join(tmpdir(), "kpp-accept-"));
    const offsets = path.join(dir, "offsets.json");
    writeFileSync(offsets, JSON.stringify({ version: 1, partitions: [{ topic, partition: 5, offset: 1 }] }));
    const result = await env.tool("kafka-delete-records", ["--offset-json-file", offsets]);
    const output = `${result.stdout}${result.stderr}`;
    assert.match(output, /PolicyViolation|POLICY_VIOLATION|neighbouring virtual partitions/i, output);
    const { records } = await readPhysical(env.cluster, topic);
    assert.equal(records.flat().length, 8, "no record deleted");
  });

  it("a topic with no rule keeps transactions: commit and abort, read_committed sees only committed", async () => {
    const topic = await newTopic("plain-tx", 3);
    const run = await transactionalRun(topic);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "committed committed-a",
      "aborted aborted",
      "committed committed-b",
    ]);
    const result = await env.tool("kafka-console-consumer", [
      "--topic",
      topic,
      "--from-beginning",
      "--isolation-level",
      "read_committed",
      "--max-messages",
      String(2 * PER_TRANSACTION),
      "--timeout-ms",
      "15000",
    ]);
    const values = result.stdout.trim().split("\n").filter(Boolean).sort();
    const expected = ["committed-a", "committed-b"]
      .flatMap((label) => Array.from({ length: PER_TRANSACTION }, (_, i) => `${label}-${i}`))
      .sort();
    assert.deepEqual(values, expected);
  });
  it("a physical topic whose partition count disagrees with its rule is refused (INVALID_TOPIC_EXCEPTION)", async () => {
    const topic = env.cluster.uniqueTopic("va-mismatch");
    await env.cluster.createTopic(topic, { partitions: 5, replicationFactor: 3 });
    const client = await RawKafkaClient.connect(env.proxy.bootstrap);
    try {
      let answer: MetadataResponse | undefined;
      for (let attempt = 0; attempt < 50; attempt++) {
        answer = (await client.request(ApiKey.Metadata, 12, {
          topics: [{ topicId: "0".repeat(32), name: topic }],
          allowAutoTopicCreation: false,
          includeTopicAuthorizedOperations: false,
        })) as MetadataResponse;
        if (answer.topics[0]?.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) break; // the new topic may take a moment to appear
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(answer?.topics[0]?.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
      assert.deepEqual(answer?.topics[0]?.partitions, []);
    } finally {
      client.close();
    }
    const described = await env.tool("kafka-topics", ["--describe", "--topic", topic]);
    assert.doesNotMatch(described.stdout, /PartitionCount:\s*5/, "tools never see the mismatched count");
    assert.match(
      env.proxy.logs(),
      new RegExp(`topic ${topic} has 5 physical partitions but its rule expects 4`),
    );
    // KafkaJS fails a whole all-topics Metadata answer on one topic error, so remove the refused topic.
    await env.cluster.toolOk("kafka-topics", ["--delete", "--topic", topic]);
  });

  it("KafkaJS admin calls that list every topic keep working while a mismatched topic exists", async () => {
    const topic = env.cluster.uniqueTopic("va-mismatch-listed");
    await env.cluster.createTopic(topic, { partitions: 5 });
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const topics = await admin.listTopics();
      assert.ok(!topics.includes(topic), "the refused topic is not listed");
    } finally {
      await admin.disconnect();
      await env.cluster.toolOk("kafka-topics", ["--delete", "--topic", topic]);
    }
  });
});
