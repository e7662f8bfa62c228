import { fileURLToPath } from "node:url";
import kafkajs, { type Kafka } from "kafkajs";
import { ApiKey } from "../../../src/protocol/api.ts";
import type { MetadataResponse } from "../../../src/protocol/generated/messages/metadata-response.ts";
import {
  type CompressionName,
  compress,
  decompress,
  iterateRecords,
  type KafkaRecord,
  RecordBatchView,
} from "../../../src/records/index.ts";
import { buildFranz } from "../../compat/franz/program.ts";
import { type DriverProgram, JsonDriver } from "../../compat/json-driver/driver.ts";
import { kafkaClient } from "../../compat/kafkajs/client.ts";
import { confluentKafka } from "../../compat/librdkafka/program.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch, RawKafkaClient } from "../../helpers/raw-kafka.ts";

export const MARKER = "__kpp_vp";

/** KafkaJS ships gzip only; the other codecs come from the project's own record codecs. */
function registerKafkajsCodecs(): void {
  const codec = (name: CompressionName) => () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(name, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(name, buffer),
  });
  const codecs = kafkajs.CompressionCodecs as Record<number, () => unknown>;
  codecs[kafkajs.CompressionTypes.Snappy] = codec("snappy");
  codecs[kafkajs.CompressionTypes.LZ4] = codec("lz4");
  codecs[kafkajs.CompressionTypes.ZSTD] = codec("zstd");
}
registerKafkajsCodecs();

export interface TopicRule {
  virtual_partitions: number;
  physical_partitions: number;
}

export interface VirtualEnvironment {
  cluster: KafkaTestCluster;
  proxy: ProxyProcess;
  /** KafkaJS through the proxy. */
  kafka: Kafka;
  /** KafkaJS straight to the brokers. */
  direct: Kafka;
  /** A Kafka CLI tool against the proxy (or the brokers with `direct`). */
  tool(
    name: string,
    args: string[],
    options?: { direct?: boolean; timeoutMs?: number; input?: string },
  ): Promise<{ exitCode: number | null; stdout: string; stderr: string; timedOut: boolean }>;
  /** Kills the proxy (SIGKILL) and starts a new one on the same ports with the same rules. */
  restartProxy(downtimeMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A 3-broker Kafka 4.4 cluster (shared with the run's other test files unless `exclusive`) and a proxy with
 * `topics` as its virtualization rules.
 */
export async function startVirtualEnvironment(
  topics: Record<string, TopicRule>,
  clientId: string,
  { exclusive = false }: { exclusive?: boolean } = {},
): Promise<VirtualEnvironment> {
  const cluster = await useKafkaCluster({ brokers: 3, exclusive });
  const extra = { mapping: { topics } };
  const proxy = await startProxy({ upstream: cluster.bootstrap, extra });
  const env: VirtualEnvironment = {
    cluster,
    proxy,
    kafka: kafkaClient(proxy.bootstrap, clientId),
    direct: kafkaClient(cluster.bootstrap, `${clientId}-direct`),
    tool: (name, args, options = {}) =>
      cluster.tool(name, args, {
        bootstrap: options.direct ? cluster.bootstrap : proxy.bootstrap,
        timeoutMs: options.timeoutMs ?? 90_000,
        ...(options.input !== undefined ? { input: options.input } : {}),
      }),
    async restartProxy(downtimeMs) {
      const { port, brokerPortBase } = env.proxy;
      await env.proxy.kill();
      await new Promise((resolve) => setTimeout(resolve, downtimeMs));
      env.proxy = await startProxy({ upstream: cluster.bootstrap, extra, port, brokerPortBase });
    },
    close: () => env.proxy.stop().then(() => undefined),
  };
  return env;
}

export interface PhysicalRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  /** The marker header's value as a number, undefined when the record has none. */
  marker: number | undefined;
  producerId: bigint;
  producerEpoch: number;
  /** The record's own sequence (batch base sequence + offset delta), -1 for non-idempotent batches. */
  sequence: number;
  transactional: boolean;
}

async function physicalLeaders(
  bootstrap: string,
  topic: string,
): Promise<{ leaders: Map<number, string>; partitions: number }> {
  const client = await RawKafkaClient.connect(bootstrap.split(",")[0]!);
  try {
    const metadata = (await client.request(ApiKey.Metadata, 12, {
      topics: [{ topicId: "0".repeat(32), name: topic }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    })) as MetadataResponse;
    const addresses = new Map(metadata.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]));
    const entry = metadata.topics[0];
    if (entry?.errorCode !== 0) throw new Error(`topic ${topic}: error ${entry?.errorCode}`);
    const leaders = new Map<number, string>();
    for (const p of entry.partitions) leaders.set(p.partitionIndex, addresses.get(p.leaderId)!);
    return { leaders, partitions: entry.partitions.length };
  } finally {
    client.close();
  }
}

/**
 * Reads every record of a topic straight from the partition leaders (no proxy), up to each partition's high
 * watermark: the physical truth the proxy's virtual view is checked against.
 */
export async function readPhysical(
  cluster: { bootstrap: string },
  topic: string,
): Promise<{ partitions: number; records: PhysicalRecord[][] }> {
  const { leaders, partitions } = await physicalLeaders(cluster.bootstrap, topic);
  const records: PhysicalRecord[][] = [];
  for (let partition = 0; partition < partitions; partition++) {
    records.push(await readPartition(leaders.get(partition)!, topic, partition));
  }
  return { partitions, records };
}

async function readPartition(leader: string, topic: string, partition: number): Promise<PhysicalRecord[]> {
  const client = await RawKafkaClient.connect(leader);
  const out: PhysicalRecord[] = [];
  try {
    let offset = 0n;
    for (let round = 0; round < 10_000; round++) {
      // biome-ignore lint/suspicious/noExplicitAny: generated message body
      const response: any = await client.request(
        ApiKey.Fetch,
        12,
        onePartitionFetch(topic, partition, offset, 8 << 20),
      );
      const data = response.responses[0].partitions[0];
      if (data.errorCode !== 0) throw new Error(`fetch ${topic}[${partition}]: error ${data.errorCode}`);
      const highWatermark: bigint = data.highWatermark;
      if (offset >= highWatermark) break;
      const before = offset;
      const blob: Buffer = data.records ?? Buffer.alloc(0);
      for (let position = 0; position + 12 <= blob.length; ) {
        const size = 12 + blob.readInt32BE(position + 8);
        if (position + size > blob.length) break;
        const view = new RecordBatchView(blob.subarray(position, position + size));
        position += size;
        if (view.nextOffset <= offset) continue;
        if (!view.isControl) {
          for (const record of iterateRecords(view)) {
            const at = view.baseOffset + BigInt(record.offsetDelta);
            if (at < offset) continue;
            out.push(physicalRecord(view, record, partition, at));
          }
        }
        offset = view.nextOffset;
      }
      if (offset === before) throw new Error(`fetch ${topic}[${partition}] at ${offset} made no progress`);
    }
  } finally {
    client.close();
  }
  return out;
}

function physicalRecord(
  view: RecordBatchView,
  record: KafkaRecord,
  partition: number,
  offset: bigint,
): PhysicalRecord {
  const headers: [string, string | null][] = record.headers.map((h) => [
    h.key,
    h.value?.toString("latin1") ?? null,
  ]);
  const marker = headers.find(([name]) => name === MARKER)?.[1];
  return {
    partition,
    offset: Number(offset),
    key: record.key?.toString() ?? null,
    value: record.value?.toString() ?? null,
    headers,
    marker: marker === undefined || marker === null ? undefined : Number(marker),
    producerId: view.producerId,
    producerEpoch: view.producerEpoch,
    sequence: view.baseSequence < 0 ? -1 : view.baseSequence + record.offsetDelta,
    transactional: view.isTransactional,
  };
}

const _ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** confluent-kafka (librdkafka) through `test/compat/librdkafka/driver.py`. */
export const librdkafkaProgram: DriverProgram = confluentKafka();

/** Builds the franz-go driver of `test/compat/franz/` once per test file. */
export const franzProgram = buildFranz;

export function driver(program: DriverProgram, bootstrap: string): JsonDriver {
  return new JsonDriver(program, bootstrap);
}

/** Runs `work` over `items` with at most `limit` running at once; results keep the items' order. */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Groups items by a numeric key. */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const list = out.get(key);
    if (list) list.push(item);
    else out.set(key, [item]);
  }
  return out;
}

/**
 * Creates a topic through the proxy (KafkaJS admin) and waits until the proxy shows `partitions` partitions,
 * each with a leader: brokers learn a new topic asynchronously, so a first lookup may not know it yet.
 */
export async function createTopic(
  env: VirtualEnvironment,
  topic: string,
  partitions: number,
  configEntries: { name: string; value: string }[] = [],
): Promise<void> {
  const admin = env.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 3, configEntries }],
      waitForLeaders: false,
      timeout: 60_000,
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await admin.fetchTopicMetadata({ topics: [topic] }).then(
        ({ topics }) =>
          topics[0]?.partitions.length === partitions && topics[0].partitions.every((p) => p.leader >= 0),
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`topic ${topic} not ready with ${partitions} partitions`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
}
