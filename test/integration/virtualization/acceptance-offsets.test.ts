/**
 * Acceptance: the offsets API of virtual partitions. ListOffsets earliest, latest and by timestamp through the
 * proxy (KafkaJS admin, GetOffsetShell) answer each v with its physical partition's offsets, and the Java
 * console consumer's `--offset earliest|latest --partition v` (seekToBeginning / seekToEnd) read v from the
 * start or only what arrives after it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka } from "kafkajs";
import {
  createTopic,
  readPhysical,
  startVirtualEnvironment,
  type VirtualEnvironment,
} from "./acceptance-support.ts";

const VIRTUAL = 32;
const PHYSICAL = 4;
const PER_PHASE = 3;

interface PartitionOffsets {
  partition: number;
  low: string;
  high: string;
}

async function topicOffsets(kafka: Kafka, topic: string): Promise<PartitionOffsets[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.sort((x, y) => x.partition - y.partition);
  } finally {
    await admin.disconnect();
  }
}

async function offsetsAt(kafka: Kafka, topic: string, timestamp: number): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return new Map(offsets.map((o) => [o.partition, o.offset]));
  } finally {
    await admin.disconnect();
  }
}

/** `topic:partition:offset` lines of GetOffsetShell. */
function parseOffsetShell(stdout: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of stdout.trim().split("\n")) {
    const match = /:(\d+):(-?\d+)$/.exec(line.trim());
    if (match) out.set(Number(match[1]), Number(match[2]));
  }
  return out;
}

describe("virtual partitions: the offsets API", { timeout: 300_000 }, () => {
  let env: VirtualEnvironment;
  let topic: string;
  let phaseTwoStart: number;

  before(async () => {
    env = await startVirtualEnvironment(
      { "^va-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } },
      "acceptance-offsets",
    );
    topic = env.cluster.uniqueTopic("va-offsets");
    await createTopic(env, topic, VIRTUAL);
    const producer = env.kafka.producer();
    await producer.connect();
    const phase = (label: string) =>
      Array.from({ length: VIRTUAL * PER_PHASE }, (_, i) => ({
        partition: i % VIRTUAL,
        value: `${label}:${i % VIRTUAL}:${Math.floor(i / VIRTUAL)}`,
      }));
    await producer.send({ topic, acks: -1, messages: phase("one") });
    await sleep(1_500);
    phaseTwoStart = Date.now();
    await sleep(50);
    await producer.send({ topic, acks: -1, messages: phase("two") });
    await producer.disconnect();
  });

  after(async () => {
    await env?.close();
  });

  it("earliest and latest of every v are its physical partition's (KafkaJS admin)", async () => {
    const virtual = await topicOffsets(env.kafka, topic);
    const physical = await topicOffsets(env.direct, topic);
    assert.equal(virtual.length, VIRTUAL);
    assert.equal(physical.length, PHYSICAL);
    const stored = await readPhysical(env.cluster, topic);
    for (const entry of virtual) {
      const p = physical[entry.partition % PHYSICAL]!;
      assert.deepEqual([entry.low, entry.high], [p.low, p.high], `v ${entry.partition}`);
      assert.equal(Number(entry.high), stored.records[p.partition]!.length, "latest is p's end");
    }
  });

  it("by timestamp, every v answers with p's offset, and v's records from there on are the later ones", async () => {
    const virtual = await offsetsAt(env.kafka, topic, phaseTwoStart);
    const physical = await offsetsAt(env.direct, topic, phaseTwoStart);
    assert.equal(virtual.size, VIRTUAL);
    const stored = await readPhysical(env.cluster, topic);
    for (let v = 0; v < VIRTUAL; v++) {
      const p = v % PHYSICAL;
      assert.equal(virtual.get(v), physical.get(p), `v ${v}`);
      const from = Number(virtual.get(v));
      const own = stored.records[p]!.filter((r) => r.marker === v);
      assert.deepEqual(
        own.filter((r) => r.offset >= from).map((r) => r.value),
        Array.from({ length: PER_PHASE }, (_, i) => `two:${v}:${i}`),
        `v ${v} from offset ${from}`,
      );
    }
  });

  it("GetOffsetShell lists 32 partitions with p's earliest and latest offsets", async () => {
    const shell = (time: string, direct: boolean) =>
      env
        .tool(
          "org.apache.kafka.tools.GetOffsetShell",
          ["--bootstrap-server", "{bootstrap}", "--topic", topic, "--time", time],
          { direct },
        )
        .then((result) => {
          assert.equal(result.exitCode, 0, result.stderr.slice(-2000));
          return parseOffsetShell(result.stdout);
        });
    for (const time of ["-2", "-1"]) {
      const [virtual, physical] = await Promise.all([shell(time, false), shell(time, true)]);
      assert.equal(virtual.size, VIRTUAL, `--time ${time}`);
      assert.equal(physical.size, PHYSICAL);
      for (const [v, offset] of virtual)
        assert.equal(offset, physical.get(v % PHYSICAL), `--time ${time} v ${v}`);
    }
  });

  it("console consumer --partition v --offset earliest reads all of v; --offset latest only what comes after", async () => {
    const v = 13;
    // What the log holds for v, in order: the producer's records, plus any copies its retries wrote.
    const logged = (await readPhysical(env.cluster, topic)).records[v % PHYSICAL]!.filter(
      (record) => record.marker === v,
    ).map((record) => record.value!);
    assert.deepEqual(
      [...new Set(logged)],
      ["one", "two"].flatMap((label) => Array.from({ length: PER_PHASE }, (_, i) => `${label}:${v}:${i}`)),
    );
    const earliest = await env.tool("kafka-console-consumer", [
      "--topic",
      topic,
      "--partition",
      String(v),
      "--offset",
      "earliest",
      "--max-messages",
      String(logged.length),
      "--timeout-ms",
      "15000",
    ]);
    assert.deepEqual(earliest.stdout.trim().split("\n"), logged);

    const latest = env.tool("kafka-console-consumer", [
      "--topic",
      topic,
      "--partition",
      String(v),
      "--offset",
      "latest",
      "--max-messages",
      "1",
      "--timeout-ms",
      "30000",
      "--formatter-property",
      "print.offset=true",
    ]);
    // Records keep arriving on v and on its neighbours until the consumer, positioned at the end, got one.
    const producer = env.kafka.producer();
    await producer.connect();
    let finished = false;
    latest.finally(() => {
      finished = true;
    });
    for (let i = 0; i < 60 && !finished; i++) {
      await producer.send({
        topic,
        messages: [
          { partition: v, value: `late:${v}:${i}` },
          { partition: v + PHYSICAL, value: `late:${v + PHYSICAL}:${i}` },
        ],
      });
      await sleep(500);
    }
    await producer.disconnect();
    const result = await latest;
    const [offsetText, value] = result.stdout.trim().split("\t");
    assert.match(value ?? "", new RegExp(`^late:${v}:\\d+$`), result.stdout + result.stderr.slice(-2000));
    const stored = await readPhysical(env.cluster, topic);
    const record = stored.records[v % PHYSICAL]!.find(
      (r) => r.offset === Number(offsetText!.replace("Offset:", "")),
    );
    assert.equal(record?.value, value);
    assert.equal(record?.marker, v);
  });
});
