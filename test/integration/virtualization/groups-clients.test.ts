import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import kafkajs, { type Consumer, type PartitionAssigner } from "kafkajs";
import { fastGroup } from "../../compat/kafkajs/client.ts";
import { startVirtualEnvironment, type VirtualEnvironment } from "./acceptance-support.ts";

const { AssignerProtocol } = kafkajs;

const V = 32;
const P = 4;
const all = Array.from({ length: V }, (_, v) => v);

let env: VirtualEnvironment;

async function createTopic(): Promise<string> {
  const topic = env.cluster.uniqueTopic("vgc");
  const created = await env.tool(
    "kafka-topics",
    ["--create", "--topic", topic, "--partitions", String(P), "--replication-factor", "3"],
    { direct: true },
  );
  assert.equal(created.exitCode, 0, created.stderr);
  return topic;
}

/** Produces `perPartition` records to every virtual partition through the proxy; values name round and v. */
async function produce(topic: string, round: string, perPartition: number): Promise<string[]> {
  const producer = env.kafka.producer();
  await producer.connect();
  const values: string[] = [];
  try {
    for (const v of all) {
      const messages = Array.from({ length: perPartition }, (_, i) => ({ value: `${round}-v${v}-${i}` }));
      values.push(...messages.map((m) => m.value));
      await producer.send({ topic, messages: messages.map((m) => ({ ...m, partition: v })) });
    }
  } finally {
    await producer.disconnect();
  }
  return values.sort();
}

/** Consumes `count` records as group `group` with the Java console consumer; checks each came from its own v. */
async function consume(topic: string, group: string, count: number, extra: string[] = []): Promise<string[]> {
  const result = await env.tool(
    "kafka-console-consumer",
    [
      "--topic",
      topic,
      "--group",
      group,
      "--max-messages",
      String(count),
      "--timeout-ms",
      "60000",
      "--formatter-property",
      "print.partition=true",
      ...extra,
    ],
    { timeoutMs: 120_000 },
  );
  const lines = result.stdout.split("\n").filter((line) => line.startsWith("Partition:"));
  const values: string[] = [];
  for (const line of lines) {
    const [partition, value] = line.split("\t");
    const v = Number(partition!.slice("Partition:".length));
    assert.match(value!, new RegExp(`-v${v}-\\d+$`), `record ${value} arrived on v${v}`);
    values.push(value!);
  }
  assert.equal(values.length, count, `consumed ${values.length} of ${count}: ${result.stderr.slice(-2000)}`);
  return values.sort();
}

async function committedOffsets(topic: string, group: string): Promise<Map<number, bigint>> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    const [answer] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(answer!.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** `kafka-consumer-groups --describe` through the proxy: virtual partition -> CURRENT-OFFSET column. */
async function describeGroup(topic: string, group: string): Promise<Map<number, string>> {
  const result = await env.tool("kafka-consumer-groups", ["--describe", "--group", group]);
  assert.equal(result.exitCode, 0, result.stderr);
  const rows = new Map<number, string>();
  for (const line of result.stdout.split("\n")) {
    const columns = line.trim().split(/\s+/);
    const at = columns.indexOf(topic);
    if (at < 0) continue;
    rows.set(Number(columns[at + 1]), columns[at + 2]!);
  }
  return rows;
}

/**
 * Gives the first member (by member id) the virtual partitions below P and every other member an equal share
 * of the rest, so some members commit only companion partitions (the proxy then checks their membership).
 */
const splitAtP: PartitionAssigner = () => ({
  name: "split-at-p",
  version: 1,
  async assign({ members, topics }) {
    const ids = members.map((m) => m.memberId).sort();
    const shares = new Map<string, number[]>(ids.map((id) => [id, []]));
    for (const v of all) {
      const owner = ids.length === 1 || v < P ? ids[0]! : ids[1 + ((v - P) % (ids.length - 1))]!;
      shares.get(owner)!.push(v);
    }
    return ids.map((memberId) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: Object.fromEntries(topics.map((topic) => [topic, shares.get(memberId)!])),
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol({ topics }) {
    return {
      name: "split-at-p",
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});

async function until(what: string, check: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function member(topic: string, group: string, seen: Map<string, number>): Promise<Consumer> {
  const consumer = env.kafka.consumer({ ...fastGroup(group), partitionAssigners: [splitAtP] });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = message.value!.toString();
      assert.match(value, new RegExp(`-v${partition}-\\d+$`));
      seen.set(value, (seen.get(value) ?? 0) + 1);
    },
  });
  return consumer;
}

describe("consumer groups on a virtualized topic with real clients", { timeout: 480_000 }, () => {
  before(async () => {
    env = await startVirtualEnvironment(
      { "vgc-.*": { virtual_partitions: V, physical_partitions: P } },
      "groups-clients",
    );
  });

  after(async () => {
    await env?.close();
  });

  test("a classic group consumes all 32 partitions, commits, resumes exactly after its commits", async () => {
    const topic = await createTopic();
    const group = `${topic}-classic`;
    const first = await produce(topic, "r1", 5);
    assert.deepEqual(await consume(topic, group, first.length, ["--from-beginning"]), first);

    const committed = await committedOffsets(topic, group);
    for (const v of all) assert.ok((committed.get(v) ?? -1n) > 0n, `v${v} committed ${committed.get(v)}`);

    const described = await describeGroup(topic, group);
    assert.deepEqual(
      [...described.keys()].sort((a, b) => a - b),
      all,
    );
    for (const v of all)
      assert.equal(described.get(v), String(committed.get(v)), `v${v} in the describe output`);

    const second = await produce(topic, "r2", 3);
    assert.deepEqual(await consume(topic, group, second.length), second);

    const reset = await env.tool("kafka-consumer-groups", [
      "--reset-offsets",
      "--group",
      group,
      "--topic",
      topic,
      "--to-earliest",
      "--execute",
    ]);
    assert.equal(reset.exitCode, 0, reset.stderr);
    const earliest = await committedOffsets(topic, group);
    for (const v of all) assert.equal(earliest.get(v), 0n, `v${v} reset to the earliest offset of its p`);
    assert.deepEqual(await consume(topic, group, first.length + second.length), [...first, ...second].sort());
  });

  test("a KIP-848 group (group.protocol=consumer) consumes all 32 partitions and commits", async () => {
    const topic = await createTopic();
    const group = `${topic}-848`;
    const first = await produce(topic, "r1", 4);
    assert.deepEqual(
      await consume(topic, group, first.length, [
        "--from-beginning",
        "--consumer-property",
        "group.protocol=consumer",
      ]),
      first,
    );
    const committed = await committedOffsets(topic, group);
    for (const v of all) assert.ok((committed.get(v) ?? -1n) > 0n, `v${v} committed ${committed.get(v)}`);
    const described = await describeGroup(topic, group);
    assert.equal(described.size, V);

    const second = await produce(topic, "r2", 2);
    assert.deepEqual(
      await consume(topic, group, second.length, ["--consumer-property", "group.protocol=consumer"]),
      second,
    );
  });
  test("KafkaJS members that own only companion partitions commit through rebalances; a new member resumes exactly", async () => {
    const topic = await createTopic();
    const group = `${topic}-split`;
    const first = await produce(topic, "r1", 10);
    const seen = new Map<string, number>();
    const members: Consumer[] = [];
    try {
      members.push(await member(topic, group, seen));
      await until("the first member to consume", () => seen.size >= 20);
      members.push(await member(topic, group, seen));
      members.push(await member(topic, group, seen));
      await until("every record of round 1", () => first.every((value) => seen.has(value)));
    } finally {
      for (const consumer of members) await consumer.disconnect();
    }
    const committed = await committedOffsets(topic, group);
    for (const v of all) assert.ok((committed.get(v) ?? -1n) > 0n, `v${v} committed ${committed.get(v)}`);

    const second = await produce(topic, "r2", 2);
    const resumed = new Map<string, number>();
    const last = await member(topic, group, resumed);
    try {
      await until("every record of round 2", () => second.every((value) => resumed.has(value)));
      await new Promise((resolve) => setTimeout(resolve, 3000));
    } finally {
      await last.disconnect();
    }
    assert.deepEqual(
      [...resumed.keys()].sort(),
      second,
      "the new member got exactly the records after the commits",
    );
  });
});
