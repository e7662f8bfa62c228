/**
 * Fetch from a virtualized topic (P = 4, V = 32) through the proxy. Records are produced straight to the
 * physical topic with the marker header set by the test, so this checks Fetch alone: a consumer of one v gets
 * exactly v's records in order with the marker stripped (librdkafka, the Java console consumer, KafkaJS), and
 * a consumer of an idle v keeps moving past its neighbours' records without spinning.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CompressionTypes, Kafka, logLevel, type Producer } from "kafkajs";
import { toolsClasspath } from "../../../scripts/kafka/versions.ts";
import { javaExecutable } from "../../../scripts/maven/resolve.ts";
import { ApiKey } from "../../../src/protocol/api.ts";
import { clientPython } from "../../helpers/clients.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { RawKafkaClient } from "../../helpers/raw-kafka.ts";

const require = createRequire(import.meta.url);
const KafkaJsDecoder = require("kafkajs/src/protocol/decoder.js");
const kafkajsDecodeMessages = require("kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js");
const KafkaJsBatch = require("kafkajs/src/consumer/batch.js");

const MARKER = "__kpp_vp";
const P = 4;
const V = 32;
/** Virtual partitions written, with some unmarked records on p = 1 (they belong to v = 1). */
const WRITTEN = [1, 5, 9, 13, 0, 4, 2, 30];
const ROUNDS = 8;

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let topic: string;
const expected = new Map<number, string[]>();

function direct(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: cluster.bootstrap.split(","), logLevel: logLevel.NOTHING });
}

async function produceDirect(
  producer: Producer,
  v: number | undefined,
  p: number,
  values: string[],
  gzip = false,
) {
  await producer.send({
    topic,
    compression: gzip ? CompressionTypes.GZIP : CompressionTypes.None,
    messages: values.map((value, i) => ({
      partition: p,
      key: `k${i}`,
      value,
      headers: v === undefined ? { plain: "yes" } : { app: "x", [MARKER]: String(v) },
    })),
  });
}

interface PythonResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(script: string, args: string[], timeoutMs: number): Promise<PythonResult> {
  return runProcess(clientPython(), ["-c", script, ...args], timeoutMs);
}

function runProcess(command: string, args: string[], timeoutMs: number): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** librdkafka (confluent-kafka) consumer assigned one partition; prints one JSON line per record. */
const ASSIGNED_CONSUMER = `
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
bootstrap, topic, partition, expected, settle = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kpp-fetch-assign", "enable.auto.commit": False,
              "enable.partition.eof": False, "api.version.request": True})
c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
seen = 0
deadline = time.time() + 60
settle_until = time.time() + settle if expected == 0 else None
while time.time() < deadline:
    if settle_until is not None and time.time() > settle_until:
        break
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        print(json.dumps({"error": str(m.error())}), flush=True)
        continue
    headers = [[k, v.decode() if v is not None else None] for k, v in (m.headers() or [])]
    print(json.dumps({"partition": m.partition(), "offset": m.offset(), "value": m.value().decode(), "headers": headers}), flush=True)
    seen += 1
    if seen >= expected and settle_until is None:
        settle_until = time.time() + settle
c.close()
`;

/** librdkafka consumer of one idle partition from its end; prints its position every 500 ms. */
const IDLE_CONSUMER = `
import json, sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_END
bootstrap, topic, partition, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "kpp-fetch-idle", "enable.auto.commit": False})
c.assign([TopicPartition(topic, partition, OFFSET_END)])
end = time.time() + seconds
next_report = time.time()
records = 0
while time.time() < end:
    m = c.poll(0.1)
    if m is not None and not m.error():
        records += 1
    if time.time() >= next_report:
        pos = c.position([TopicPartition(topic, partition)])[0].offset
        print(json.dumps({"t": time.time(), "position": pos, "records": records}), flush=True)
        next_report += 0.5
c.close()
`;

/** Java consumer of one idle partition from its end; prints its position every 500 ms. */
const JAVA_IDLE_CONSUMER = `
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class IdleConsumer {
  public static void main(String[] args) {
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    props.put("enable.auto.commit", "false");
    TopicPartition tp = new TopicPartition(args[1], Integer.parseInt(args[2]));
    int records = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      consumer.assign(List.of(tp));
      consumer.seekToEnd(List.of(tp));
      consumer.position(tp, Duration.ofSeconds(60));
      long end = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;
      long nextReport = System.currentTimeMillis() + 500;
      while (System.currentTimeMillis() < end) {
        records += consumer.poll(Duration.ofMillis(100)).count();
        if (System.currentTimeMillis() >= nextReport) {
          System.out.println("{\\"position\\":\\"" + consumer.position(tp) + "\\",\\"records\\":" + records + "}");
          nextReport += 500;
        }
      }
    }
  }
}
`;

async function fetchRequests(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("kpp_requests_total{") && l.includes('api="Fetch"'));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

/** The batch KafkaJS's consumer would build from one partition of a Fetch response. */
async function kafkajsBatch(
  topicName: string,
  fetchOffset: bigint,
  data: { partitionIndex: number; highWatermark: bigint; records: Buffer },
) {
  const sized = Buffer.alloc(4 + data.records.length);
  sized.writeInt32BE(data.records.length, 0);
  data.records.copy(sized, 4);
  const messages = await kafkajsDecodeMessages(new KafkaJsDecoder(sized));
  return new KafkaJsBatch(topicName, String(fetchOffset), {
    partition: data.partitionIndex,
    highWatermark: String(data.highWatermark),
    messages,
    abortedTransactions: [],
  });
}

async function leaderOf(p: number): Promise<number> {
  const admin = direct("fetch-test-leader").admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.find((partition) => partition.partitionId === p)!.leader;
  } finally {
    await admin.disconnect();
  }
}

/** Creates the physical topic (P partitions) straight on the cluster and waits until every partition has a leader. */
async function createPhysicalTopic(): Promise<void> {
  const admin = direct("fetch-test-setup").admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: P, replicationFactor: 3 }],
      waitForLeaders: false,
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length === P && partitions.every((partition) => partition.leader >= 0)) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} has no leaders after 90 s`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

async function highWatermark(p: number): Promise<bigint> {
  const admin = direct("fetch-test-admin").admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return BigInt(offsets.find((o) => o.partition === p)!.high);
  } finally {
    await admin.disconnect();
  }
}

describe("virtualized Fetch (P = 4, V = 32) on a 3-broker cluster", { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster({ brokers: 3 });
    topic = cluster.uniqueTopic("vfetch");
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      brokerIdBase: 1,
      extra: {
        mapping: { topics: { "vfetch-.*": { virtual_partitions: V, physical_partitions: P } } },
      },
    });
    await createPhysicalTopic();

    const producer = direct("fetch-test-producer").producer();
    await producer.connect();
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of WRITTEN) {
        const values = [0, 1, 2].map((i) => `v${v}-r${round}-i${i}`);
        await produceDirect(producer, v, v % P, values, round % 2 === 1);
        expected.set(v, [...(expected.get(v) ?? []), ...values]);
      }
      if (round % 3 === 0) {
        const values = [0, 1].map((i) => `plain-p1-r${round}-i${i}`);
        await produceDirect(producer, undefined, 1, values);
        expected.set(1, [...(expected.get(1) ?? []), ...values]);
      }
    }
    await producer.disconnect();
  });

  after(async () => {
    await proxy?.stop();
  });

  for (const v of [5, 1, 17]) {
    test(`librdkafka assigned v = ${v} gets exactly its records, in order, marker stripped`, async () => {
      const want = expected.get(v) ?? [];
      const result = await runPython(
        ASSIGNED_CONSUMER,
        [proxy.bootstrap, topic, String(v), String(want.length), want.length === 0 ? "6" : "3"],
        90_000,
      );
      const lines = result.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.filter((l) => l.error),
        [],
        result.stderr,
      );
      assert.deepEqual(
        lines.map((l) => l.value),
        want,
      );
      for (const line of lines) {
        assert.equal(line.partition, v);
        assert.ok(!line.headers.some(([key]: [string]) => key === MARKER), "marker stripped");
      }
      const offsets = lines.map((l) => l.offset as number);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
      );
    });
  }

  test("the Java console consumer with --partition 9 --offset earliest gets exactly v = 9's records", async () => {
    const want = expected.get(9)!;
    const result = await cluster.tool(
      "kafka-console-consumer",
      [
        "--bootstrap-server",
        proxy.bootstrap,
        "--topic",
        topic,
        "--partition",
        "9",
        "--offset",
        "earliest",
        "--max-messages",
        String(want.length + 1),
        "--timeout-ms",
        "8000",
        "--formatter-property",
        "print.headers=true",
      ],
      { timeoutMs: 120_000 },
    );
    const lines = result.stdout.trim().split("\n").filter(Boolean);
    assert.deepEqual(
      lines.map((l) => l.slice(l.indexOf("\t") + 1)),
      want,
      result.stderr,
    );
    for (const line of lines) assert.equal(line.slice(0, line.indexOf("\t")), "app:x");
  });

  test("KafkaJS's own Fetch v11 decoding moves past hidden runs (the trailing run ends in a control record)", async () => {
    const leader = await leaderOf(1);
    const client = await RawKafkaClient.connect(`127.0.0.1:${proxy.brokerPortBase + leader - 1}`);
    try {
      const partition = (v: number) => ({
        partition: v,
        currentLeaderEpoch: -1,
        fetchOffset: 0n,
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1 << 20,
      });
      const response = await client.request(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 10 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: 0,
        topics: [{ topic, partitions: [partition(17), partition(5), partition(9)] }],
        forgottenTopicsData: [],
        rackId: "",
      });
      assert.equal(response.sessionId, 0, "no session");
      const partitions = response.responses[0].partitions as {
        partitionIndex: number;
        highWatermark: bigint;
        records: Buffer;
      }[];
      assert.deepEqual(
        partitions.map((p) => p.partitionIndex),
        [17, 5, 9],
      );
      const hw = partitions[0]!.highWatermark;
      for (const data of partitions) {
        const batch = await kafkajsBatch(topic, 0n, data);
        const want = expected.get(data.partitionIndex) ?? [];
        assert.deepEqual(
          batch.messages.map((m: { value: Buffer }) => m.value.toString()),
          want,
        );
        assert.equal(BigInt(batch.lastOffset()), hw - 1n, `v${data.partitionIndex} resumes at the end of p`);
        if (want.length === 0)
          assert.ok(batch.isEmptyDueToFiltering(), "KafkaJS resolves an all-hidden batch");
      }
    } finally {
      client.close();
    }
  });

  test("a KafkaJS group consumer of the whole topic gets every v's records on their own partitions", async () => {
    const consumer = new Kafka({
      clientId: "fetch-test-kafkajs",
      brokers: [proxy.bootstrap],
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: `kpp-fetch-kafkajs-${topic}`, maxWaitTimeInMs: 500 });
    const received = new Map<number, string[]>();
    const total = [...expected.values()].reduce((sum, list) => sum + list.length, 0);
    let count = 0;
    let markerSeen = false;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition: v, message }) => {
            if (message.headers?.[MARKER] !== undefined) markerSeen = true;
            received.set(v, [...(received.get(v) ?? []), message.value!.toString()]);
            if (++count >= total) resolve();
          },
        });
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        done,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`got ${count} of ${total}`)), 90_000);
        }),
      ]).finally(() => clearTimeout(timer));
      await new Promise((resolve) => setTimeout(resolve, 2000));
    } finally {
      await consumer.disconnect();
    }
    assert.equal(markerSeen, false);
    const sorted = (map: Map<number, string[]>) => new Map([...map].sort(([a], [b]) => a - b));
    assert.deepEqual(sorted(received), sorted(expected));
  });

  /**
   * Runs `consume` (a consumer of the idle v = 17 that reports its positions) while v = 1 and v = 5, its
   * neighbours on p = 1, are written continuously; checks the position follows the end of p and the client's
   * Fetch rate stays low.
   */
  async function idleWhileNeighboursWrite(
    t: { diagnostic(message: string): void },
    client: string,
    consume: () => Promise<{ positions: bigint[]; records: number }>,
    /** False for a client that also consumes the busy neighbours (its fetches follow their writes). */
    idleClient = true,
  ): Promise<void> {
    const producer = direct("fetch-test-neighbours").producer();
    await producer.connect();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await produceDirect(producer, 1 + P * (written % 2), 1, [`busy-${written}`]);
        written++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      const before = await fetchRequests();
      const started = Date.now();
      const { positions, records } = await consume();
      const elapsed = (Date.now() - started) / 1000;
      const fetches = (await fetchRequests()) - before;
      writing = false;
      await writer;
      const hw = await highWatermark(1);
      t.diagnostic(
        `${client}: neighbours wrote ${written} batches; idle v = 17 position ${positions[0]} -> ${positions.at(-1)} (end of p ${hw}); ${fetches} Fetch requests in ${elapsed.toFixed(1)} s`,
      );
      assert.equal(records, 0, "an idle v gets no records");
      assert.ok(new Set(positions).size >= 4, `position keeps moving: ${positions.join(",")}`);
      for (let i = 1; i < positions.length; i++) assert.ok(positions[i]! >= positions[i - 1]!);
      assert.ok(positions.at(-1)! > hw - 200n, `position ${positions.at(-1)} near the end ${hw}`);
      if (idleClient) assert.ok(fetches / elapsed < 50, `${fetches} fetches in ${elapsed.toFixed(1)} s`);
      else assert.ok(fetches <= written + 10 * elapsed, `${fetches} fetches for ${written} batches`);
      assert.ok(written > 100, `neighbours wrote ${written} batches`);
    } finally {
      writing = false;
      await writer;
      await producer.disconnect();
    }
  }

  test("librdkafka: an idle v keeps advancing while its neighbours on p are written, with few fetches", async (t) => {
    await idleWhileNeighboursWrite(t, "librdkafka", async () => {
      const result = await runPython(IDLE_CONSUMER, [proxy.bootstrap, topic, "17", "8"], 60_000);
      const reports = result.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { position: number; records: number });
      const positions = reports.map((r) => r.position).filter((p) => p >= 0);
      assert.ok(positions.length >= 8, `positions reported: ${result.stdout}\n${result.stderr}`);
      return { positions: positions.map(BigInt), records: reports.at(-1)!.records };
    });
  });

  test("Java consumer: an idle v keeps advancing while its neighbours on p are written, with few fetches", async (t) => {
    await idleWhileNeighboursWrite(t, "java", async () => {
      const dir = mkdtempSync(join(tmpdir(), "kpp-fetch-java-"));
      const source = join(dir, "IdleConsumer.java");
      writeFileSync(source, JAVA_IDLE_CONSUMER);
      const classpath = (await toolsClasspath("4")).join(":");
      const result = await runProcess(
        javaExecutable(),
        ["-Xmx256m", "-cp", classpath, source, proxy.bootstrap, topic, "17", "9"],
        90_000,
      );
      const reports = result.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { position: string; records: number });
      assert.ok(reports.length >= 8, `positions reported: ${result.stdout}\n${result.stderr.slice(-3000)}`);
      return { positions: reports.map((r) => BigInt(r.position)), records: reports.at(-1)!.records };
    });
  });

  // KafkaJS cannot assign single partitions: its group consumer also gets the busy v = 1 and v = 5, so its
  // fetches follow their writes; the idle v = 17 must still move with the end of p.
  test("KafkaJS: an idle v keeps advancing while its neighbours on p are written", async (t) => {
    await idleWhileNeighboursWrite(
      t,
      "kafkajs",
      async () => {
        const consumer = new Kafka({
          clientId: "fetch-test-kafkajs-idle",
          brokers: [proxy.bootstrap],
          logLevel: logLevel.NOTHING,
        }).consumer({ groupId: `kpp-fetch-idle-${topic}`, maxWaitTimeInMs: 500 });
        const positions: bigint[] = [];
        let records = 0;
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          if (payload.partition === 17) positions.push(BigInt(payload.lastOffset) + 1n);
        });
        await consumer.connect();
        try {
          await consumer.subscribe({ topic, fromBeginning: false });
          await consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition: v }) => {
              if (v === 17) records++;
            },
          });
          await new Promise((resolve) => setTimeout(resolve, 10_000));
        } finally {
          await consumer.disconnect();
        }
        assert.ok(positions.length >= 4, `positions reported: ${positions.join(",")}`);
        return { positions, records };
      },
      false,
    );
  });
});
