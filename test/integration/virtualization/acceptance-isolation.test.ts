/**
 * Acceptance: isolation and order of virtual partitions across clients. KafkaJS, librdkafka, franz-go and the
 * Java console producer write known sequences to every virtual partition of a topic with 32 virtual
 * partitions on 4 physical ones, keyed and with explicit partitions; the physical topic, read without the
 * proxy, must hold every record in p = v mod 4 with its marker header; a consumer assigned one v through the
 * proxy must receive exactly v's records, in order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs from "kafkajs";
import { ErrorCode } from "../../../src/protocol/api.ts";
import type { DriverProgram, ProduceResult } from "../../compat/json-driver/driver.ts";
import { fastGroup, GroupMember, recordsByPartition } from "../../compat/kafkajs/client.ts";
import {
  createTopic,
  driver,
  franzProgram,
  groupBy,
  inParallel,
  librdkafkaProgram,
  MARKER,
  type PhysicalRecord,
  readPhysical,
  startVirtualEnvironment,
  type VirtualEnvironment,
} from "./acceptance-support.ts";

const A_VIRTUAL = 32;
const A_PHYSICAL = 4;
const B_VIRTUAL = 80;
const B_PHYSICAL = 8;
const PER_PARTITION = 10;
const KEYED = 200;
const KEYS = 40;

interface ConsumedRecord {
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
  headers?: [string, string | null][];
}

/** `<tag>:<v>:<seq>` (explicit partition) or `<tag>:<key>:<seq>` (keyed). */
function parseValue(value: string): { tag: string; middle: string; seq: number } {
  const [tag, middle, seq] = value.split(":");
  return { tag: tag!, middle: middle!, seq: Number(seq) };
}

describe("virtual partitions: isolation and order across clients", { timeout: 420_000 }, () => {
  let env: VirtualEnvironment;
  let franz: DriverProgram;
  let topicA: string;
  /** Physical records of A, read without the proxy after every producer finished. */
  let physicalA: PhysicalRecord[][];

  before(async () => {
    [env, franz] = await Promise.all([
      startVirtualEnvironment(
        {
          "^va-.*": { virtual_partitions: A_VIRTUAL, physical_partitions: A_PHYSICAL },
          "^vb-.*": { virtual_partitions: B_VIRTUAL, physical_partitions: B_PHYSICAL },
        },
        "acceptance-isolation",
      ),
      franzProgram(),
    ]);
  });

  after(async () => {
    await env?.close();
  });

  it("every client's records of A land on p = v mod 4 with the marker header v, in order, none lost", async () => {
    topicA = env.cluster.uniqueTopic("va-iso");
    await createTopic(env, topicA, A_VIRTUAL);
    const admin = env.kafka.admin();
    await admin.connect();
    const seen = await admin.fetchTopicMetadata({ topics: [topicA] });
    assert.equal(seen.topics[0]!.partitions.length, A_VIRTUAL, "the proxy shows V partitions");
    await admin.disconnect();

    // KafkaJS: idempotent, explicit partitions, then keyed with the default (Java-compatible) partitioner.
    const producer = env.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const explicit = Array.from({ length: A_VIRTUAL * PER_PARTITION }, (_, i) => {
      const v = i % A_VIRTUAL;
      const text = `kjx:${v}:${Math.floor(i / A_VIRTUAL)}`;
      return { partition: v, key: text, value: text };
    });
    for (let i = 0; i < explicit.length; i += 64) {
      await producer.send({ topic: topicA, acks: -1, messages: explicit.slice(i, i + 64) });
    }
    const keyed = Array.from({ length: KEYED }, (_, i) => {
      const key = `kjs-key-${i % KEYS}`;
      return { key, value: `kjk:${key}:${Math.floor(i / KEYS)}` };
    });
    for (let i = 0; i < keyed.length; i += 50) {
      await producer.send({ topic: topicA, acks: -1, messages: keyed.slice(i, i + 50) });
    }
    await producer.disconnect();

    // librdkafka and franz-go: explicit partitions (`<tag>:<v>:<seq>`) and keyed (`<tag>-<i>` on key-<i mod 40>).
    const delivered: { client: string; result: ProduceResult }[] = [];
    for (const program of [librdkafkaProgram, franz]) {
      const client = driver(program, env.proxy.bootstrap);
      const tag = program.name === "franz" ? "frx" : "rdx";
      const explicitRun = await client.run<ProduceResult>("produce", {
        topic: topicA,
        count: A_VIRTUAL * PER_PARTITION,
        "explicit-partitions": A_VIRTUAL,
        tag,
        compression: program.name === "franz" ? "zstd" : "lz4",
      });
      delivered.push({ client: program.name, result: explicitRun });
      const keyedRun = await client.run<ProduceResult>("produce", {
        topic: topicA,
        count: KEYED,
        keys: KEYS,
        tag: program.name === "franz" ? "frk" : "rdk",
        compression: "gzip",
      });
      delivered.push({ client: program.name, result: keyedRun });
    }
    for (const { client, result } of delivered) assert.deepEqual(result.errors, [], client);

    // The Java console producer, keyed: its default partitioner must see 32 partitions.
    const javaLines = Array.from({ length: KEYED }, (_, i) => {
      const key = `java-key-${i % KEYS}`;
      return `${key}\t${key}-${Math.floor(i / KEYS)}`;
    });
    const javaRun = await env.tool(
      "kafka-console-producer",
      [
        "--topic",
        topicA,
        "--reader-property",
        "parse.key=true",
        "--reader-property",
        "key.separator=\t",
        "--command-property",
        "acks=all",
        "--command-property",
        "linger.ms=5",
      ],
      { input: `${javaLines.join("\n")}\n` },
    );
    assert.equal(javaRun.exitCode, 0, javaRun.stderr.slice(-2000));

    const physical = await readPhysical(env.cluster, topicA);
    assert.equal(physical.partitions, A_PHYSICAL, "Kafka stores P partitions");
    physicalA = physical.records;
    const all = physicalA.flat();
    const expectedTotal = 3 * A_VIRTUAL * PER_PARTITION + 4 * KEYED;
    assert.equal(all.length, expectedTotal, "every record stored once");

    for (const record of all) {
      assert.notEqual(
        record.marker,
        undefined,
        `record at ${record.partition}/${record.offset} has a marker`,
      );
      assert.equal(record.marker! % A_PHYSICAL, record.partition, `marker ${record.marker} sits on p`);
      assert.ok(record.marker! < A_VIRTUAL);
      assert.equal(record.headers.filter(([name]) => name === MARKER).length, 1, "exactly one marker");
    }

    // Explicit partitions: each (client, v) holds seq 0..9 in offset order and nothing else.
    const explicitRecords = all.filter((r) => /^(kjx|rdx|frx):/.test(r.value ?? ""));
    assert.equal(explicitRecords.length, 3 * A_VIRTUAL * PER_PARTITION);
    const byStream = new Map<string, PhysicalRecord[]>();
    for (const record of explicitRecords) {
      const { tag, middle } = parseValue(record.value!);
      assert.equal(Number(middle), record.marker, `${record.value} is in v ${record.marker}`);
      const stream = `${tag}:${middle}`;
      byStream.set(stream, [...(byStream.get(stream) ?? []), record]);
    }
    assert.equal(byStream.size, 3 * A_VIRTUAL);
    for (const [stream, records] of byStream) {
      records.sort((x, y) => x.offset - y.offset);
      assert.deepEqual(
        records.map((r) => parseValue(r.value!).seq),
        Array.from({ length: PER_PARTITION }, (_, i) => i),
        `${stream}: sequence in offset order`,
      );
    }

    // Keyed: every key of one client lives in one v, in order; the Java and KafkaJS keys where murmur2 says.
    const partitioner = kafkajs.Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: A_VIRTUAL }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      partitionErrorCode: ErrorCode.NONE,
      replicas: [],
      isr: [],
    }));
    const murmurPartition = (key: string) =>
      partitioner({ topic: topicA, partitionMetadata, message: { key, value: null } });
    const keyStreams = new Map<string, PhysicalRecord[]>();
    for (const record of all) {
      const value = record.value ?? "";
      let stream: string | undefined;
      if (value.startsWith("kjk:")) stream = `kjs ${record.key}`;
      else if (/^(rdk|frk)-\d+$/.test(value)) stream = `${value.slice(0, 3)} ${record.key}`;
      else if (value.startsWith("java-key-")) stream = `java ${record.key}`;
      if (stream) keyStreams.set(stream, [...(keyStreams.get(stream) ?? []), record]);
    }
    assert.equal(keyStreams.size, 4 * KEYS, "every key of every keyed producer");
    const usedPartitions = new Set<number>();
    for (const [stream, records] of keyStreams) {
      const markers = new Set(records.map((r) => r.marker));
      assert.equal(markers.size, 1, `${stream} lives in one virtual partition`);
      const v = records[0]!.marker!;
      usedPartitions.add(v);
      if (stream.startsWith("java ") || stream.startsWith("kjs ")) {
        assert.equal(v, murmurPartition(records[0]!.key!), `${stream}: murmur2(key) mod 32`);
      }
      records.sort((x, y) => x.offset - y.offset);
      const order = records.map((r) => Number(r.value!.split(/[-:]/).at(-1)));
      assert.deepEqual(
        order,
        [...order].sort((x, y) => x - y),
        `${stream}: in order`,
      );
    }
    assert.ok(usedPartitions.size > A_PHYSICAL * 2, `keys spread over ${usedPartitions.size} partitions`);

    // Delivery reports name v and the physical offset where the record sits.
    for (const { client, result } of delivered) {
      for (const report of result.delivered) {
        const stored = physicalA[report.partition % A_PHYSICAL]!.find((r) => r.offset === report.offset);
        assert.equal(stored?.value, report.value, `${client}: ${report.value} at its reported offset`);
        assert.equal(stored?.marker, report.partition, `${client}: ${report.value} reported on its v`);
      }
    }
  });

  it("a consumer assigned one v through the proxy gets exactly v's records, in order, no marker", async () => {
    assert.ok(physicalA, "needs the produce test");
    const expected = groupBy(
      physicalA.flat().sort((x, y) => x.offset - y.offset),
      (r) => r.marker!,
    );
    const partitions = Array.from({ length: A_VIRTUAL }, (_, v) => v);

    const check = (client: string, v: number, records: ConsumedRecord[]) => {
      const want = expected.get(v) ?? [];
      assert.deepEqual(
        records.map((r) => `${r.offset} ${r.value}`),
        want.map((r) => `${r.offset} ${r.value}`),
        `${client}: v ${v}`,
      );
      for (const record of records) {
        assert.equal(record.partition, v);
        assert.ok(!record.headers?.some(([name]) => name === MARKER), `${client}: marker stripped`);
      }
    };

    for (const program of [franz, librdkafkaProgram]) {
      const client = driver(program, env.proxy.bootstrap);
      await inParallel(partitions, program.name === "franz" ? 8 : 4, async (v) => {
        const answer = await client.run<{ records: ConsumedRecord[] }>(
          "consume",
          {
            topic: topicA,
            group: `unused-${v}`,
            partition: v,
            offset: "earliest",
            expect: expected.get(v)?.length ?? 0,
            settle: 1,
            headers: true,
          },
          40,
        );
        check(program.name, v, answer.records);
      });
    }

    for (const v of [0, 13, 31]) {
      const result = await env.tool("kafka-console-consumer", [
        "--topic",
        topicA,
        "--partition",
        String(v),
        "--offset",
        "earliest",
        "--max-messages",
        String(expected.get(v)!.length),
        "--timeout-ms",
        "15000",
        "--formatter-property",
        "print.offset=true",
        "--formatter-property",
        "print.headers=true",
      ]);
      const lines = result.stdout.trim().split("\n").filter(Boolean);
      const records = lines.map((line) => {
        const [offset, headers, value] = line.split("\t");
        assert.ok(!headers?.includes(MARKER), `java: marker stripped in ${line}`);
        return { key: null, partition: v, offset: Number(offset!.replace("Offset:", "")), value: value! };
      });
      check("java console consumer", v, records);
    }

    // KafkaJS has no assign(): a group member subscribed to A gets all 32 v and the same records per v.
    const member = new GroupMember(env.kafka, "isolation-reader", fastGroup(`${topicA}-kafkajs`));
    await member.start(topicA);
    try {
      await member.waitForCount(physicalA.flat().length, 60_000);
    } finally {
      await member.stop();
    }
    const received = recordsByPartition(member.received);
    for (const v of partitions) check("kafkajs group", v, received.get(v) ?? []);
  });

  it("group consumers, classic and KIP-848, read every v of A exactly once", async () => {
    assert.ok(physicalA, "needs the produce test");
    const expected = groupBy(
      physicalA.flat().sort((x, y) => x.offset - y.offset),
      (r) => r.marker!,
    );
    const total = physicalA.flat().length;
    for (const [program, protocol] of [
      [librdkafkaProgram, "consumer"],
      [franz, "classic"],
      [franz, "consumer"],
    ] as const) {
      const label = `${program.name} ${protocol}`;
      const answer = await driver(program, env.proxy.bootstrap).run<{ records: ConsumedRecord[] }>(
        "consume",
        {
          topic: topicA,
          group: `${topicA}-${program.name}-${protocol}`,
          "group-protocol": protocol,
          expect: total,
          settle: 2,
        },
        90,
      );
      const received = groupBy(answer.records, (r) => r.partition);
      for (let v = 0; v < A_VIRTUAL; v++) {
        assert.deepEqual(
          (received.get(v) ?? []).map((r) => `${r.offset} ${r.value}`),
          (expected.get(v) ?? []).map((r) => `${r.offset} ${r.value}`),
          `${label}: v ${v}`,
        );
      }
    }
  });

  it("B (80 virtual on 8 physical) keeps each v on v mod 8; C (no rule) stays plain", async () => {
    const topicB = env.cluster.uniqueTopic("vb-iso");
    const topicC = env.cluster.uniqueTopic("plain-iso");
    await createTopic(env, topicB, B_VIRTUAL);
    await createTopic(env, topicC, 3);
    const admin = env.kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topicB, topicC] });
    await admin.disconnect();
    const counts = Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]));
    assert.deepEqual(counts, { [topicB]: B_VIRTUAL, [topicC]: 3 });

    const franzClient = driver(franz, env.proxy.bootstrap);
    const produced = await franzClient.run<ProduceResult>("produce", {
      topic: topicB,
      count: B_VIRTUAL * 3,
      "explicit-partitions": B_VIRTUAL,
      tag: "b",
      compression: "snappy",
    });
    assert.deepEqual(produced.errors, []);
    const plain = await driver(librdkafkaProgram, env.proxy.bootstrap).run<ProduceResult>("produce", {
      topic: topicC,
      count: 100,
      tag: "c",
    });
    assert.deepEqual(plain.errors, []);

    const physicalB = await readPhysical(env.cluster, topicB);
    assert.equal(physicalB.partitions, B_PHYSICAL);
    const allB = physicalB.records.flat();
    assert.equal(allB.length, B_VIRTUAL * 3);
    for (const record of allB) {
      const { middle } = parseValue(record.value!);
      assert.equal(record.marker, Number(middle));
      assert.equal(record.partition, record.marker! % B_PHYSICAL);
    }

    const expectedB = groupBy(
      allB.sort((x, y) => x.offset - y.offset),
      (r) => r.marker!,
    );
    const librdkafka = driver(librdkafkaProgram, env.proxy.bootstrap);
    for (const v of [0, 7, 8, 41, 79]) {
      const answer = await librdkafka.run<{ records: ConsumedRecord[] }>(
        "consume",
        { topic: topicB, group: "unused", partition: v, expect: 3, settle: 1 },
        40,
      );
      assert.deepEqual(
        answer.records.map((r) => `${r.offset} ${r.value}`),
        expectedB.get(v)!.map((r) => `${r.offset} ${r.value}`),
        `B v ${v}`,
      );
    }

    const physicalC = await readPhysical(env.cluster, topicC);
    assert.equal(physicalC.partitions, 3);
    const allC = physicalC.records.flat();
    assert.equal(allC.length, 100);
    for (const record of allC) assert.deepEqual(record.headers, [], "plain topic records carry no marker");
    for (const report of plain.delivered) {
      const stored = physicalC.records[report.partition]!.find((r) => r.offset === report.offset);
      assert.equal(stored?.value, report.value);
    }
  });
});
