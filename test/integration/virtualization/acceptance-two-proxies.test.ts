/**
 * Two proxy instances with the same rules serve one cluster: records produced through one are consumed and
 * committed through the other; the consuming instance is killed and restarted, and the group resumes from its
 * commits with no loss and no redelivery.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs from "kafkajs";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { createTopic, startVirtualEnvironment, type VirtualEnvironment } from "./acceptance-support.ts";

const V = 32;
const P = 4;
const RULES = { "^va2p-.*": { virtual_partitions: V, physical_partitions: P } };

let env: VirtualEnvironment;
let second: ProxyProcess;

function client(bootstrap: string, clientId: string): kafkajs.Kafka {
  return new kafkajs.Kafka({
    brokers: [bootstrap],
    clientId,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 200 },
  });
}

async function produce(
  kafka: kafkajs.Kafka,
  topic: string,
  round: string,
  perPartition: number,
): Promise<string[]> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const values: string[] = [];
  try {
    const messages = [];
    for (let v = 0; v < V; v++) {
      for (let seq = 0; seq < perPartition; seq++) {
        const value = `${round}:${v}:${seq}`;
        values.push(value);
        messages.push({ partition: v, value });
      }
    }
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
  return values;
}

/** Consumes `expected` records in group `group`, committing every record before it counts. */
async function consumeExactly(
  kafka: kafkajs.Kafka,
  topic: string,
  group: string,
  expected: number,
  settleMs: number,
): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await consumer.commitOffsets([
          { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
        ]);
        seen.push(message.value!.toString());
      },
    });
    const deadline = Date.now() + 90_000;
    while (seen.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((resolve) => setTimeout(resolve, settleMs));
  } finally {
    await consumer.disconnect().catch(() => {});
  }
  return seen;
}

describe("virtual partitions through two proxy instances", { timeout: 300_000 }, () => {
  before(async () => {
    env = await startVirtualEnvironment(RULES, "two-proxies");
    second = await startProxy({ upstream: env.cluster.bootstrap, extra: { mapping: { topics: RULES } } });
  });

  after(async () => {
    await second?.stop();
    await env?.close();
  });

  it("produce through one, consume and commit through the other; the other restarts and the group resumes", async () => {
    const topic = env.cluster.uniqueTopic("va2p");
    const group = `${topic}-g`;
    await createTopic(env, topic, V);

    const first = await produce(env.kafka, topic, "a", 10);
    const consumed = await consumeExactly(
      client(second.bootstrap, "two-proxies-b"),
      topic,
      group,
      first.length,
      0,
    );
    assert.deepEqual(
      [...consumed].sort(),
      [...first].sort(),
      "the second instance delivers every record once",
    );

    const { port, brokerPortBase } = second;
    await second.kill();
    second = await startProxy({
      upstream: env.cluster.bootstrap,
      extra: { mapping: { topics: RULES } },
      port,
      brokerPortBase,
    });

    const more = await produce(env.kafka, topic, "b", 2);
    const resumed = await consumeExactly(
      client(second.bootstrap, "two-proxies-c"),
      topic,
      group,
      more.length,
      3_000,
    );
    assert.deepEqual(
      [...resumed].sort(),
      [...more].sort(),
      "after the restart the group resumes exactly after its commits",
    );
  });
});
