/**
 * Virtual partitions fail closed, against a real broker: a Fetch by a topic id the proxy cannot resolve (its
 * lookup failed while the broker stalled), a record that already carries the marker header, a Produce
 * batch whose CRC is wrong, and a physical topic whose partition count disagrees with its rule. In each case
 * no record of one virtual partition ever reaches another, and nothing refused is written.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import kafkajs, { type Kafka } from "kafkajs";
import { ApiKey, ErrorCode, firstVersion, lastVersion, ZERO_UUID } from "../../../src/protocol/api.ts";
import {
  buildBatch,
  iterateBatches,
  iterateRecords,
  type RecordBatchView,
} from "../../../src/records/index.ts";
import { kafkaClient } from "../../compat/kafkajs/client.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { RawKafkaClient } from "../../helpers/raw-kafka.ts";
import { MARKER, readPhysical } from "./acceptance-support.ts";

const VIRTUAL = 8;
const PHYSICAL = 4;
const RULES = { "^vh-.*": { virtual_partitions: VIRTUAL, physical_partitions: PHYSICAL } };
const FETCH_BY_ID = firstVersion("FetchRequest", "topics.topicId");
const FETCH_BY_NAME = lastVersion("FetchRequest", "topics.topic")!;
const PRODUCE_BY_NAME = lastVersion("ProduceRequest", "topicData.name")!;
const METADATA = firstVersion("MetadataRequest", "topics.topicId");

function fetchBody(topic: { name?: string; id?: string }, partition: number, fetchOffset = 0n) {
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1n },
    maxWaitMs: 200,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: topic.name ?? "",
        topicId: topic.id ?? ZERO_UUID,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
            replicaDirectoryId: ZERO_UUID,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: "",
  };
}

interface FetchedPartition {
  errorCode: number;
  values: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: generated message body
function fetchedPartition(response: any): FetchedPartition {
  const data = response.responses[0]?.partitions[0];
  if (response.errorCode !== ErrorCode.NONE) return { errorCode: response.errorCode, values: [] };
  const values: string[] = [];
  for (const entry of iterateBatches(data.records ?? Buffer.alloc(0))) {
    if (entry.kind !== "batch") continue;
    const view = entry as RecordBatchView;
    if (view.isControl) continue;
    for (const record of iterateRecords(view)) values.push(record.value?.toString() ?? "");
  }
  return { errorCode: data.errorCode, values };
}

async function topicId(cluster: KafkaTestCluster, topic: string): Promise<string> {
  const client = await RawKafkaClient.connect(cluster.bootstrap.split(",")[0]!);
  try {
    const metadata = await client.request(ApiKey.Metadata, METADATA, {
      topics: [{ topicId: ZERO_UUID, name: topic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    return metadata.topics[0].topicId;
  } finally {
    client.close();
  }
}

function pauseBroker(cluster: KafkaTestCluster, paused: boolean): void {
  for (const broker of cluster.brokers) process.kill(broker.pid, paused ? "SIGSTOP" : "SIGCONT");
}

describe("virtual partitions fail closed", { timeout: 300_000 }, () => {
  let cluster: KafkaTestCluster;
  let proxy: ProxyProcess;
  let kafka: Kafka;
  const fresh: ProxyProcess[] = [];

  before(async () => {
    cluster = await useKafkaCluster({ brokers: 1 });
    proxy = await startProxy({ upstream: cluster.bootstrap, extra: { mapping: { topics: RULES } } });
    kafka = kafkaClient(proxy.bootstrap, "hardening-isolation");
  });

  after(async () => {
    pauseBroker(cluster, false);
    for (const instance of fresh) await instance.stop();
    await proxy?.stop();
  });

  /** A virtualized topic written through the proxy: `perPartition` records to each of `partitions`. */
  async function writtenTopic(prefix: string, partitions: number[], perPartition = 10): Promise<string> {
    const topic = cluster.uniqueTopic(prefix);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: VIRTUAL }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    for (const partition of partitions) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: perPartition }, (_, i) => ({
          partition,
          value: `v${partition}-${i}`,
        })),
      });
    }
    await producer.disconnect();
    return topic;
  }

  /** A proxy instance that has never seen the topics written so far, with a short upstream request timeout. */
  async function freshProxy(): Promise<ProxyProcess> {
    const instance = await startProxy({
      upstream: cluster.bootstrap,
      extra: {
        mapping: { topics: RULES },
        kafka: { bootstrap_servers: [cluster.bootstrap], request_timeout_ms: 2000 },
      },
    });
    fresh.push(instance);
    return instance;
  }

  it("a Fetch by an id whose lookup fails while the broker stalls is refused, never read raw", async () => {
    const topic = await writtenTopic("vh-stall", [1, 5]);
    const id = await topicId(cluster, topic);
    const instance = await freshProxy();
    let client = await RawKafkaClient.connect(instance.bootstrap);
    const seen: FetchedPartition[] = [];
    const outcomes: string[] = [];
    try {
      pauseBroker(cluster, true);
      const first = client.request(ApiKey.Fetch, FETCH_BY_ID, fetchBody({ id }, 1), 60_000);
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      pauseBroker(cluster, false);
      seen.push(fetchedPartition(await first));
      let own: FetchedPartition | undefined;
      for (const deadline = Date.now() + 90_000; !own && Date.now() < deadline; ) {
        // As a client would, reconnect when the proxy closed the connection (a broker link that failed).
        if (client.socket.destroyed) client = await RawKafkaClient.connect(instance.bootstrap);
        try {
          const answer = fetchedPartition(
            await client.request(ApiKey.Fetch, FETCH_BY_ID, fetchBody({ id }, 1), 30_000),
          );
          seen.push(answer);
          outcomes.push(`error ${answer.errorCode}, ${answer.values.length} records`);
          if (answer.values.length > 0) own = answer;
        } catch (error) {
          outcomes.push((error as Error).message);
        }
        if (!own) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(
        own,
        `v = 1's records never came through the fresh proxy: ${outcomes.slice(-5).join("; ")}\n${instance.logs().slice(-3000)}`,
      );
      assert.deepEqual(
        own.values,
        Array.from({ length: 10 }, (_, i) => `v1-${i}`),
      );
    } finally {
      pauseBroker(cluster, false);
      client.close();
    }
    assert.equal(seen[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_ID, "the first answer is a retriable refusal");
    const leaked = seen.flatMap((answer) => answer.values).filter((value) => !value.startsWith("v1-"));
    assert.deepEqual(leaked, [], "no neighbour record reached v = 1");
  });

  it("a record produced to v = 3 that carries the marker 7 is served to v = 3 only, with one marker", async () => {
    const topic = cluster.uniqueTopic("vh-marker");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: VIRTUAL }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [{ partition: 3, value: "copied", headers: { [MARKER]: "7", kept: "yes" } }],
    });
    await producer.disconnect();

    const client = await RawKafkaClient.connect(proxy.bootstrap);
    try {
      const three = fetchedPartition(
        await client.request(ApiKey.Fetch, FETCH_BY_NAME, fetchBody({ name: topic }, 3)),
      );
      const seven = fetchedPartition(
        await client.request(ApiKey.Fetch, FETCH_BY_NAME, fetchBody({ name: topic }, 7)),
      );
      assert.deepEqual(three.values, ["copied"]);
      assert.deepEqual(seven.values, []);
    } finally {
      client.close();
    }
    const { records } = await readPhysical(cluster, topic);
    const stored = records.flat();
    assert.equal(stored.length, 1);
    assert.deepEqual(stored[0]!.headers, [
      ["kept", "yes"],
      [MARKER, "3"],
    ]);
  });

  /** A raw Produce v(by name) of one batch to `partition`, through the proxy. */
  async function rawProduce(topic: string, partition: number, records: Buffer) {
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    try {
      const response = await client.request(ApiKey.Produce, PRODUCE_BY_NAME, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: topic, topicId: ZERO_UUID, partitionData: [{ index: partition, records }] }],
      });
      return response.responses[0].partitionResponses[0] as {
        errorCode: number;
        errorMessage: string | null;
      };
    } finally {
      client.close();
    }
  }

  it("a Produce batch whose CRC is wrong is refused with CORRUPT_MESSAGE and nothing is written", async () => {
    const topic = cluster.uniqueTopic("vh-crc");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: VIRTUAL }], waitForLeaders: true });
    await admin.disconnect();
    const corrupt = buildBatch({ records: [{ value: "good" }, { value: "also good" }] });
    corrupt[corrupt.length - 2] ^= 0x20;
    const answer = await rawProduce(topic, 5, corrupt);
    assert.equal(answer.errorCode, ErrorCode.CORRUPT_MESSAGE, answer.errorMessage ?? "");
    const { records } = await readPhysical(cluster, topic);
    assert.equal(records.flat().length, 0);
  });

  it("a Produce to a physical topic whose partition count disagrees with its rule is refused", async () => {
    const topic = cluster.uniqueTopic("vh-count");
    await cluster.createTopic(topic, { partitions: PHYSICAL - 1 });
    const answer = await rawProduce(topic, 1, buildBatch({ records: [{ value: "misplaced" }] }));
    assert.equal(answer.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, answer.errorMessage ?? "");
    const { records } = await readPhysical(cluster, topic);
    assert.equal(records.flat().length, 0, "nothing was written to the physical topic");
  });
});
