/**
 * Acceptance at scale: 1000 virtual partitions on 100 physical ones. 10k keyed records go through the proxy,
 * one KafkaJS consumer group reads every one of them back on its virtual partition, commits 1000 partitions'
 * offsets, and a restarted member resumes from those commits with only the newer records.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fastGroup, GroupMember } from "../../compat/kafkajs/client.ts";
import {
  createTopic,
  groupBy,
  type PhysicalRecord,
  readPhysical,
  startVirtualEnvironment,
  type VirtualEnvironment,
} from "./acceptance-support.ts";

const VIRTUAL = 1000;
const PHYSICAL = 100;
const RECORDS = 10_000;
const LATER = 200;

describe("virtual partitions at scale: 1000 on 100", { timeout: 420_000 }, () => {
  let env: VirtualEnvironment;

  before(async () => {
    env = await startVirtualEnvironment(
      { "^vs-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } },
      "acceptance-scale",
    );
  });

  after(async () => {
    await env?.close();
  });

  it("10k records: produced, consumed by one group on their virtual partitions, committed, resumed", async () => {
    const topic = env.cluster.uniqueTopic("vs-scale");
    const group = `${topic}-group`;
    await createTopic(env, topic, VIRTUAL);
    const admin = env.kafka.admin();
    await admin.connect();

    const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const produce = async (from: number, to: number) => {
      const messages = Array.from({ length: to - from }, (_, i) => ({
        key: `k-${from + i}`,
        value: `r-${from + i}`,
      }));
      for (let i = 0; i < messages.length; i += 1000) {
        await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
      }
    };
    let started = Date.now();
    await produce(0, RECORDS);
    const produceSeconds = (Date.now() - started) / 1000;

    const physical = await readPhysical(env.cluster, topic);
    assert.equal(physical.partitions, PHYSICAL);
    const stored = physical.records.flat();
    assert.equal(stored.length, RECORDS);
    const byV = groupBy(stored, (r) => r.marker!);
    assert.ok(byV.size > 990, `keys spread over ${byV.size} virtual partitions`);

    started = Date.now();
    const member = new GroupMember(env.kafka, "scale-reader", { ...fastGroup(group), maxBytes: 50 << 20 });
    await member.start(topic);
    let consumeSeconds = 0;
    try {
      await member.waitForCount(RECORDS, 180_000);
      consumeSeconds = (Date.now() - started) / 1000;
      await member.waitForAssignment("all 1000 partitions", (p) => p.length === VIRTUAL, 10_000);
    } finally {
      await member.stop();
    }
    const seen = member.received.map((r) => `${r.partition}/${r.offset}/${r.value}`).sort();
    const expected = stored.map((r) => `${r.marker}/${r.offset}/${r.value}`).sort();
    assert.deepEqual(seen, expected, "every record once, on its virtual partition and physical offset");
    for (const [v, records] of groupBy(member.received, (r) => r.partition)) {
      const offsets = records.map((r) => r.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((x, y) => x - y),
        `v ${v} in order`,
      );
    }

    const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const offsets = new Map(committed[0]!.partitions.map((p) => [p.partition, Number(p.offset)]));
    const wrong: string[] = [];
    for (const [v, records] of byV) {
      const next = (records as PhysicalRecord[]).at(-1)!.offset + 1;
      if (offsets.get(v) !== next) wrong.push(`v ${v}: committed ${offsets.get(v)}, expected ${next}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} partitions committed wrongly`);

    await produce(RECORDS, RECORDS + LATER);
    await producer.disconnect();
    const resumed = new GroupMember(env.kafka, "scale-resumed", { ...fastGroup(group), maxBytes: 50 << 20 });
    await resumed.start(topic);
    try {
      await resumed.waitForCount(LATER, 120_000);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      await resumed.stop();
    }
    assert.deepEqual(
      resumed.received.map((r) => r.value).sort(),
      Array.from({ length: LATER }, (_, i) => `r-${RECORDS + i}`).sort(),
      "the resumed member reads only the records after the commits",
    );
    await admin.disconnect();
    process.stderr.write(
      `scale: produced ${RECORDS} in ${produceSeconds.toFixed(1)} s, consumed in ${consumeSeconds.toFixed(1)} s over ${byV.size} virtual partitions; resumed with ${resumed.received.length}\n`,
    );
  });
});
