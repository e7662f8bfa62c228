/**
 * The live set-up the fuzzer and the soak run against: a 1-broker Kafka cluster (the test harness), the proxy
 * as a child process in front of it with one virtualization rule, and the topics they use, created straight on
 * the cluster: a plain and a virtualized topic for the well-behaved client, and a plain and a virtualized topic
 * the fuzzer may write garbage to. The client's and the fuzzer's names differ in six consecutive characters, so
 * no few-byte mutation of a fuzzer request names a client topic.
 */
import kafkajs from "kafkajs";
import { ApiKey, firstVersion, ZERO_UUID } from "../../src/protocol/api.ts";
import type { MetadataResponse } from "../../src/protocol/generated/messages/metadata-response.ts";
import { defaultMessageOf, messageSchema } from "../../src/protocol/testing/random-message.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../test/helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../test/helpers/proxy.ts";
import { RawKafkaClient } from "../../test/helpers/raw-kafka.ts";
import { adminStatus, ProxyWatch } from "./proxy-watch.ts";

/** The proxy's maximum frame size, set explicitly (it is the default) so the fuzzer can aim around it. */
export const MAX_FRAME_BYTES = 100 * 1024 * 1024;

export interface TopicNames {
  /** The virtualization rule's pattern: every name below starting with "kppv-" matches it. */
  virtualPattern: string;
  clientPlain: string;
  clientVirtual: string;
  attackPlain: string;
  attackVirtual: string;
  /** Names the rule matches that do not exist at the start (the fuzzer may create them). */
  newVirtual: string[];
  clientGroup: string;
  attackGroups: string[];
}

export interface LiveEnvironmentOptions {
  /** Part of every topic and group name. */
  tag: string;
  virtualPartitions?: number;
  physicalPartitions?: number;
  plainPartitions?: number;
  proxyLogLevel?: "debug" | "info" | "warn";
  /** More topics to create: plain unless their name starts with "kppv-". */
  extraTopics?: { name: string; partitions: number }[];
  log?: (line: string) => void;
}

export interface LiveEnvironment {
  cluster: KafkaTestCluster;
  proxy: ProxyProcess;
  watch: ProxyWatch;
  names: TopicNames;
  virtualPartitions: number;
  physicalPartitions: number;
  plainPartitions: number;
  /** Topic ids by name, as the proxy's Metadata gives them. */
  topicIds: Record<string, string>;
  /** The proxy's client-facing port of each broker. */
  brokerPorts: number[];
  /** Stops the proxy (if still running) and the cluster. */
  close(): Promise<void>;
}

export function topicNames(tag: string): TopicNames {
  return {
    virtualPattern: "^kppv-.*",
    clientPlain: `kpp-client-${tag}`,
    clientVirtual: `kppv-client-${tag}`,
    attackPlain: `kpp-attack-${tag}`,
    attackVirtual: `kppv-attack-${tag}`,
    newVirtual: [0, 1, 2].map((i) => `kppv-new-${tag}-${i}`),
    clientGroup: `kpp-client-group-${tag}`,
    attackGroups: [0, 1, 2].map((i) => `kpp-attack-group-${tag}-${i}`),
  };
}

export async function startLiveEnvironment(options: LiveEnvironmentOptions): Promise<LiveEnvironment> {
  const log = options.log ?? (() => {});
  const V = options.virtualPartitions ?? 8;
  const P = options.physicalPartitions ?? 2;
  const plainPartitions = options.plainPartitions ?? 3;
  const names = topicNames(options.tag);
  const started = performance.now();
  // Its own cluster: mutated requests that still decode may change broker-wide state other test files rely on.
  const cluster = await useKafkaCluster({ brokers: 1, exclusive: true });
  log(
    `kafka ${cluster.brokerVersion} up at ${cluster.bootstrap} (${Math.round(performance.now() - started)} ms)`,
  );
  let proxy: ProxyProcess | undefined;
  try {
    const topics = [
      { name: names.clientPlain, partitions: plainPartitions },
      { name: names.attackPlain, partitions: plainPartitions },
      { name: names.clientVirtual, partitions: P },
      { name: names.attackVirtual, partitions: P },
      ...(options.extraTopics ?? []).map((t) => ({
        name: t.name,
        partitions: t.name.startsWith("kppv-") ? (t.partitions / V) * P : t.partitions,
      })),
    ];
    await createTopics(cluster.bootstrap, topics);
    await warmGroupCoordinator(cluster.bootstrap, [names.clientGroup, ...names.attackGroups]);
    log("group coordinator ready");
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: {
        mapping: {
          topics: { [names.virtualPattern]: { virtual_partitions: V, physical_partitions: P } },
        },
        logging: { level: options.proxyLogLevel ?? "info", json: true },
        proxy: { shutdown_grace_ms: 3000, max_frame_bytes: MAX_FRAME_BYTES },
      },
    });
    const watch = new ProxyWatch(proxy);
    log(`proxy up at ${proxy.bootstrap} (admin port ${proxy.adminPort}, pid ${watch.pid})`);
    await waitForVirtualTopic(proxy.bootstrap, names.clientVirtual, V);
    const topicIds = await fetchTopicIds(
      proxy.bootstrap,
      topics.map((t) => t.name),
    );
    const status = await adminStatus(proxy.adminPort);
    const brokerPorts = (status?.nodes ?? []).map((n) => n.proxyPort).filter((p): p is number => p !== null);
    if (brokerPorts.length === 0) throw new Error("the proxy's /admin/status names no broker port");
    const started = proxy;
    return {
      cluster,
      proxy,
      watch,
      names,
      virtualPartitions: V,
      physicalPartitions: P,
      plainPartitions,
      topicIds,
      brokerPorts,
      async close() {
        if (watch.alive) await watch.stop().catch(() => {});
        else await started.kill().catch(() => {});
        if (!cluster.shared) await cluster.stop();
      },
    };
  } catch (error) {
    await proxy?.kill().catch(() => {});
    if (!cluster.shared) await cluster.stop();
    throw error;
  }
}

function directAdmin(bootstrap: string) {
  return new kafkajs.Kafka({
    clientId: "kpp-fuzz-setup",
    brokers: bootstrap.split(","),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
}

/** Creates the physical topics straight on the cluster and waits for their leaders. */
async function createTopics(
  bootstrap: string,
  topics: { name: string; partitions: number }[],
): Promise<void> {
  const admin = directAdmin(bootstrap);
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.createTopics({
          topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: 1 })),
          waitForLeaders: true,
          timeout: 60_000,
        });
        return;
      } catch (error) {
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until the group coordinator answers for these groups and a few more: on a fresh cluster the first group
 * request creates __consumer_offsets, whose partitions then load for a moment (COORDINATOR_LOAD_IN_PROGRESS),
 * which a client joining then would see. Warm-up, so the measured client starts on a settled cluster.
 */
async function warmGroupCoordinator(bootstrap: string, groups: string[]): Promise<void> {
  const admin = directAdmin(bootstrap);
  await admin.connect();
  try {
    const probes = [...groups, ...Array.from({ length: 8 }, (_, i) => `kpp-warm-up-${i}`)];
    const deadline = Date.now() + 90_000;
    for (const groupId of probes) {
      for (;;) {
        try {
          await admin.fetchOffsets({ groupId });
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the proxy's Metadata shows the virtualized topic with its virtual partitions, each led. */
async function waitForVirtualTopic(bootstrap: string, topic: string, V: number): Promise<void> {
  const admin = directAdmin(bootstrap);
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length === V && partitions.every((p) => p.leader >= 0)) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`the proxy does not show ${topic} with ${V} partitions`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    await admin.disconnect();
  }
}

/** The topic ids the proxy's Metadata names (at the first version that carries them). */
async function fetchTopicIds(bootstrap: string, topics: string[]): Promise<Record<string, string>> {
  const version = firstVersion("MetadataRequest", "topics.topicId");
  const body = defaultMessageOf(messageSchema(ApiKey.Metadata, "request"));
  body.topics = topics.map((name) => ({ topicId: ZERO_UUID, name }));
  body.allowAutoTopicCreation = false;
  const client = await RawKafkaClient.connect(bootstrap);
  try {
    const response = (await client.request(ApiKey.Metadata, version, body)) as MetadataResponse;
    const ids: Record<string, string> = {};
    for (const topic of response.topics) {
      if (topic.name && topic.topicId !== ZERO_UUID) ids[topic.name] = topic.topicId;
    }
    for (const name of topics)
      if (!ids[name]) throw new Error(`no topic id for ${name} in the proxy's Metadata`);
    return ids;
  } finally {
    client.close();
  }
}
