/**
 * The feature chain against a real cluster: a record counter composed above virtualization sees what the
 * client sent (virtual partitions), a second one composed below it sees the physical sub-requests that
 * virtualization sends on the client's behalf.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import kafkajs from "kafkajs";
import { composeProxy } from "../../../src/composition.ts";
import { buildConfig } from "../../../src/config/load.ts";
import type { Feature } from "../../../src/feature-api/feature.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { ApiKey } from "../../../src/protocol/api.ts";
import type { ProxyServer } from "../../../src/proxy/server.ts";
import { RecordBatchView } from "../../../src/records/index.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { freePortRange } from "../../helpers/proxy.ts";
import { waitFor } from "../../helpers/wait.ts";

const V = 6;
const P = 2;
const PER_PARTITION = 25;

/** Records seen in Produce requests, by "topic/partition". */
class RecordCounter {
  readonly counts = new Map<string, number>();

  feature(name: string): Feature {
    return {
      name,
      handlers: {
        [ApiKey.Produce]: {
          onRequest: (request, context) => {
            for (const topic of request.topicData) {
              for (const partition of topic.partitionData) {
                const key = `${topic.name}/${partition.index}`;
                const records = partition.records ? RecordBatchView.parse(partition.records).recordsCount : 0;
                this.counts.set(key, (this.counts.get(key) ?? 0) + records);
              }
            }
            return context.next(request, { expectResponse: request.acks !== 0 });
          },
        },
      },
    };
  }

  forTopic(topic: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, count] of [...this.counts].sort()) if (key.startsWith(`${topic}/`)) out[key] = count;
    return out;
  }
}

let cluster: KafkaTestCluster;
let proxy: ProxyServer;
let bootstrap: string;
const above = new RecordCounter();
const below = new RecordCounter();

describe("a feature chain around virtualization", { timeout: 180_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster({ brokers: 1 });
    const port = await freePortRange(10);
    const config = buildConfig(
      {
        listen: {
          address: `127.0.0.1:${port}`,
          broker_port_base: port + 1,
          broker_id_base: 0,
          broker_port_count: 8,
        },
        kafka: { bootstrap_servers: cluster.bootstrap },
        metrics: { enabled: false },
        mapping: { topics: { "chain-.*": { virtual_partitions: V, physical_partitions: P } } },
        proxy: {
          chain: ["records-above", "virtualization", "records-below", "node-addressing", "api-versions"],
        },
      },
      "test",
    );
    proxy = composeProxy(config, silentLogger, {
      "records-above": () => above.feature("records-above"),
      "records-below": () => below.feature("records-below"),
    });
    await proxy.start();
    bootstrap = `127.0.0.1:${proxy.bootstrapPort}`;
    await waitFor("topology ready", async () => (proxy.topology.isReady ? true : undefined));
  });

  after(async () => {
    await proxy?.stop();
  });

  test("the feature above counts virtual partitions, the one below physical sub-requests", async () => {
    const topic = cluster.uniqueTopic("chain-");
    await cluster.createTopic(topic, { partitions: P });
    const kafka = new kafkajs.Kafka({
      brokers: [bootstrap],
      clientId: "chain",
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (let v = 0; v < V; v++) {
        const messages = Array.from({ length: PER_PARTITION }, (_, i) => ({
          partition: v,
          value: `${v}:${i}`,
        }));
        await producer.send({ topic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }
    const virtualCounts: Record<string, number> = {};
    for (let v = 0; v < V; v++) virtualCounts[`${topic}/${v}`] = PER_PARTITION;
    assert.deepEqual(above.forTopic(topic), virtualCounts);
    const physicalCounts: Record<string, number> = {};
    for (let p = 0; p < P; p++) physicalCounts[`${topic}/${p}`] = (V / P) * PER_PARTITION;
    assert.deepEqual(below.forTopic(topic), physicalCounts);
  });
});
