/**
 * Prometheus metrics against a real Kafka with KafkaJS clients authenticated to the proxy with SASL/PLAIN: a
 * known workload (N records of B batch bytes on a plain topic, M records on a virtualized one, from client id X
 * as principal P) appears in `/metrics` exactly, per topic, per client and per principal, and in `/api/traffic`
 * as rates of the last minute. The reference names, errors, upstream connections and virtualization counters are
 * published, and every metric that deploy/grafana-dashboard.json and deploy/prometheus-alerts.yaml name exists.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { parse } from "yaml";
import {
  ApiKey,
  apiInfo,
  ErrorCode,
  firstVersion,
  lastVersion,
  ZERO_UUID,
} from "../../../src/protocol/api.ts";
import { RecordBatchView } from "../../../src/records/batch-view.ts";
import { buildBatch } from "../../../src/records/builder.ts";
import { iterateBatches } from "../../../src/records/iterate.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch, RawKafkaClient } from "../../helpers/raw-kafka.ts";
import { waitFor } from "../../helpers/wait.ts";

const USER = "metrics-user";
const PASSWORD = "metrics-user-password";
const PRODUCER_ID = "metrics-producer";
const CONSUMER_ID = "metrics-consumer";
/** Plain topic: SENDS requests of RECORDS_PER_SEND records each, all on partition 0. */
const SENDS = 3;
const RECORDS_PER_SEND = 10;
const N = SENDS * RECORDS_PER_SEND;
/** Virtualized topic: V virtual partitions on P physical ones, RECORDS_PER_V records each. */
const V = 4;
const P = 2;
const RECORDS_PER_V = 5;
const M = V * RECORDS_PER_V;
/** The newest Fetch that names topics (as `onePartitionFetch` builds them). */
const FETCH_BY_NAME = firstVersion("FetchRequest", "topics.topicId") - 1;
const PRODUCE_BY_NAME = lastVersion("ProduceRequest", "topicData.name")!;
const DEPLOY = fileURLToPath(new URL("../../../deploy/", import.meta.url));

let cluster: KafkaTestCluster;
let proxy: ProxyProcess;
let plainTopic: string;
let virtualTopic: string;
/** Topics only Produce errors are provoked on: one partition, and a virtualized one of V on P. */
let errorTopic: string;
let virtualErrorTopic: string;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition, and the metric names its `# TYPE` lines declare. */
function parseExposition(text: string): { samples: Sample[]; declared: Set<string> } {
  const samples: Sample[] = [];
  const declared = new Set<string>();
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [name, type] = line.slice(7).split(" ");
      declared.add(name!);
      if (type === "histogram")
        for (const suffix of ["_bucket", "_sum", "_count"]) declared.add(name + suffix);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[label[1]!] = label[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { samples, declared };
}

async function scrape() {
  const response = await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`);
  assert.equal(response.status, 200);
  return parseExposition(await response.text());
}

/** The one sample of `name` whose labels include `labels`; fails when there is none or several. */
function sampleOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]!.value;
}

/** The value of `name` with `labels`, 0 when it was never counted. */
function countedOrZero(samples: Sample[], name: string, labels: Record<string, string>): number {
  const present = samples.some(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return present ? sampleOf(samples, name, labels) : 0;
}

function viaProxy(clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: [proxy.bootstrap],
    sasl: { mechanism: "plain", username: USER, password: PASSWORD },
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
}

/** The bytes of the record batches stored in a partition, read from the broker directly. */
async function storedBatchBytes(
  topic: string,
  partition: number,
): Promise<{ bytes: number; records: number }> {
  const raw = await RawKafkaClient.connect(cluster.bootstrap);
  try {
    const response = await raw.request(
      ApiKey.Fetch,
      FETCH_BY_NAME,
      onePartitionFetch(topic, partition, 0n, 1 << 20),
    );
    const records: Buffer = response.responses[0].partitions[0].records;
    let bytes = 0;
    let count = 0;
    for (const entry of iterateBatches(records)) {
      assert.equal(entry.kind, "batch", "the whole partition fits in one fetch");
      bytes += entry.buffer.length;
      count += new RecordBatchView(entry.buffer).recordsCount;
    }
    return { bytes, records: count };
  } finally {
    raw.close();
  }
}

before(async () => {
  cluster = await useKafkaCluster();
  plainTopic = cluster.uniqueTopic("metrics-plain");
  virtualTopic = cluster.uniqueTopic("metrics-virtual");
  await cluster.createTopic(plainTopic, { partitions: 1 });
  await cluster.createTopic(virtualTopic, { partitions: P });
  errorTopic = cluster.uniqueTopic("metrics-errors");
  virtualErrorTopic = cluster.uniqueTopic("metrics-virtual-errors");
  await cluster.createTopic(errorTopic, { partitions: 1 });
  await cluster.createTopic(virtualErrorTopic, { partitions: P });
  proxy = await startProxy({
    upstream: cluster.bootstrap,
    extra: {
      listen: {
        security: {
          protocol: "SASL_PLAINTEXT",
          sasl: { enabled_mechanisms: ["PLAIN"], credentials: { users: { [USER]: PASSWORD } } },
        },
      },
      mapping: {
        topics: {
          [`^${virtualTopic}$`]: { virtual_partitions: V, physical_partitions: P },
          [`^${virtualErrorTopic}$`]: { virtual_partitions: V, physical_partitions: P },
        },
      },
    },
  });
});

after(async () => {
  await proxy?.stop();
});

test("a known workload appears in /metrics exactly, per topic, client id and principal", async () => {
  const producer = viaProxy(PRODUCER_ID).producer();
  await producer.connect();
  for (let send = 0; send < SENDS; send++) {
    await producer.send({
      topic: plainTopic,
      acks: -1,
      messages: Array.from({ length: RECORDS_PER_SEND }, (_, i) => ({
        partition: 0,
        key: `key-${send}-${i}`,
        value: `value-${String(send * RECORDS_PER_SEND + i).padStart(6, "0")}`,
      })),
    });
  }
  await producer.send({
    topic: virtualTopic,
    acks: -1,
    messages: Array.from({ length: M }, (_, i) => ({
      partition: i % V,
      key: `vkey-${i}`,
      value: `virtual-${String(i).padStart(6, "0")}`,
    })),
  });
  await producer.disconnect();

  const consumer = viaProxy(CONSUMER_ID).consumer({ groupId: `metrics-group-${plainTopic}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [plainTopic, virtualTopic], fromBeginning: true });
  const received = new Map<string, number>();
  await consumer.run({
    eachMessage: async ({ topic }) => {
      received.set(topic, (received.get(topic) ?? 0) + 1);
    },
  });
  await waitFor(
    "every record consumed",
    async () =>
      (received.get(plainTopic) ?? 0) + (received.get(virtualTopic) ?? 0) >= N + M ? true : undefined,
    60_000,
  );
  await consumer.disconnect();
  assert.equal(received.get(plainTopic), N);
  assert.equal(received.get(virtualTopic), M);

  const stored = await storedBatchBytes(plainTopic, 0);
  assert.equal(stored.records, N);
  const B = stored.bytes;

  const { samples } = await scrape();
  const clusterName = samples.find((sample) => sample.name === "kafka_proxy_upstream_cluster_ready")!.labels
    .cluster!;
  assert.equal(sampleOf(samples, "kafka_proxy_upstream_cluster_ready", { cluster: clusterName }), 1);
  const plain = { topic: plainTopic, cluster: clusterName };
  assert.equal(sampleOf(samples, "kafka_proxy_produce_records_total", plain), N);
  assert.equal(sampleOf(samples, "kafka_proxy_produce_bytes_total", plain), B);
  assert.equal(sampleOf(samples, "kafka_proxy_fetch_records_total", plain), N);
  assert.equal(sampleOf(samples, "kafka_proxy_fetch_bytes_total", plain), B);

  const virtual = { topic: virtualTopic, cluster: clusterName };
  assert.equal(sampleOf(samples, "kafka_proxy_produce_records_total", virtual), M);
  assert.equal(sampleOf(samples, "kafka_proxy_fetch_records_total", virtual), M);
  const virtualProduced = sampleOf(samples, "kafka_proxy_produce_bytes_total", virtual);
  assert.ok(virtualProduced > 0);
  assert.ok(sampleOf(samples, "kafka_proxy_fetch_bytes_total", virtual) >= virtualProduced);

  const producerLabels = { client_id: PRODUCER_ID, principal: USER };
  assert.equal(sampleOf(samples, "kafka_proxy_client_produce_records_total", producerLabels), N + M);
  assert.equal(
    sampleOf(samples, "kafka_proxy_client_produce_bytes_total", producerLabels),
    B + virtualProduced,
  );
  assert.equal(countedOrZero(samples, "kafka_proxy_client_fetch_records_total", producerLabels), 0);
  const consumerLabels = { client_id: CONSUMER_ID, principal: USER };
  assert.equal(sampleOf(samples, "kafka_proxy_client_fetch_records_total", consumerLabels), N + M);
  assert.equal(countedOrZero(samples, "kafka_proxy_client_produce_records_total", consumerLabels), 0);

  // The reference names, alongside the runtime's own.
  assert.ok(sampleOf(samples, "kafka_proxy_requests_total", { api_key: "Produce" }) >= SENDS + 1);
  assert.equal(
    sampleOf(samples, "kafka_proxy_requests_total", { api_key: "Produce" }),
    sampleOf(samples, "kpp_requests_total", { api: "Produce" }),
  );
  assert.ok(sampleOf(samples, "kafka_proxy_request_duration_seconds_count", { api_key: "Fetch" }) > 0);
  assert.ok(sampleOf(samples, "kafka_proxy_bytes_received_total") > B);
  assert.ok(sampleOf(samples, "kafka_proxy_bytes_sent_total") > B);
  assert.ok(sampleOf(samples, "kafka_proxy_active_client_connections") >= 0);
  assert.ok(sampleOf(samples, "kafka_proxy_max_client_connections") > 0);
  assert.ok(sampleOf(samples, "kafka_proxy_upstream_connections", { cluster: clusterName }) >= 1);
  assert.ok(
    sampleOf(samples, "kafka_proxy_upstream_connects_total", {
      cluster: clusterName,
      outcome: "connected",
    }) >= 1,
  );
  assert.equal(
    sampleOf(samples, "kafka_proxy_upstream_connects_total", { cluster: clusterName, outcome: "failed" }),
    0,
  );
  // Each produced virtual batch is re-encoded with its marker, and each fetched one without it.
  assert.ok(sampleOf(samples, "kafka_proxy_virtualization_batches_reencoded_total") >= 2 * V);
  assert.ok(sampleOf(samples, "kafka_proxy_partitions_remapped_total") >= 2 * V);
  assert.ok(sampleOf(samples, "kafka_proxy_virtualization_records_filtered_total") > 0);

  const traffic = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/api/traffic`)).json()) as {
    windowSeconds: number;
    topics: {
      topic: string;
      cluster: string;
      produce: Record<string, number>;
      fetch: Record<string, number>;
    }[];
    clients: { clientId: string; principal: string | null; produce: Record<string, number> }[];
  };
  assert.equal(traffic.windowSeconds, 60);
  const plainRates = traffic.topics.find((entry) => entry.topic === plainTopic);
  assert.deepEqual(
    { ...plainRates, produce: { ...plainRates!.produce }, fetch: { ...plainRates!.fetch } },
    {
      topic: plainTopic,
      cluster: clusterName,
      produce: { bytesPerSecond: B / 60, recordsPerSecond: N / 60 },
      fetch: { bytesPerSecond: B / 60, recordsPerSecond: N / 60 },
    },
  );
  const producerRates = traffic.clients.find((entry) => entry.clientId === PRODUCER_ID);
  assert.equal(producerRates?.principal, USER);
  assert.equal(producerRates?.produce.recordsPerSecond, (N + M) / 60);
});

/** A raw client connected to the proxy and authenticated as USER. */
async function authenticatedRawClient(): Promise<RawKafkaClient> {
  const raw = await RawKafkaClient.connect(proxy.bootstrap);
  try {
    const handshake = await raw.request(ApiKey.SaslHandshake, apiInfo(ApiKey.SaslHandshake)!.maxVersion, {
      mechanism: "PLAIN",
    });
    assert.equal(handshake.errorCode, ErrorCode.NONE);
    const authenticated = await raw.request(
      ApiKey.SaslAuthenticate,
      apiInfo(ApiKey.SaslAuthenticate)!.maxVersion,
      {
        authBytes: Buffer.from(`\u0000${USER}\u0000${PASSWORD}`),
      },
    );
    assert.equal(authenticated.errorCode, ErrorCode.NONE);
    return raw;
  } catch (error) {
    raw.close();
    throw error;
  }
}

test("partition error codes of Fetch responses are counted by API and error", async () => {
  const errorLabels = { api_key: "Fetch", error: "OFFSET_OUT_OF_RANGE" };
  const counted = (samples: Sample[]) => countedOrZero(samples, "kafka_proxy_errors_total", errorLabels);
  const before = counted((await scrape()).samples);
  const raw = await authenticatedRawClient();
  try {
    const response = await raw.request(
      ApiKey.Fetch,
      FETCH_BY_NAME,
      onePartitionFetch(plainTopic, 0, 1_000_000n, 1 << 16),
    );
    assert.equal(response.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  } finally {
    raw.close();
  }
  const after = (await scrape()).samples;
  assert.equal(counted(after), before + 1);
  assert.equal(
    countedOrZero(after, "kafka_proxy_requests_errors_total", {
      api_key: "Fetch",
      error_type: "OFFSET_OUT_OF_RANGE",
    }),
    before + 1,
    "the same count under the reference project's name",
  );
  assert.ok(
    countedOrZero(after, "kafka_proxy_active_broker_connections", {}) > 0,
    "broker connections are open",
  );
});

test("partition error codes of Produce responses are counted once, passed on raw or answered by the proxy", async () => {
  const errorLabels = { api_key: "Produce", error: "UNKNOWN_TOPIC_OR_PARTITION" };
  const counted = async () =>
    countedOrZero((await scrape()).samples, "kafka_proxy_errors_total", errorLabels);
  const records = buildBatch({ records: [{ value: "refused" }] });
  const raw = await authenticatedRawClient();
  const produce = async (topic: string, partition: number): Promise<number> => {
    const response = await raw.request(ApiKey.Produce, PRODUCE_BY_NAME, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, topicId: ZERO_UUID, partitionData: [{ index: partition, records }] }],
    });
    assert.equal(response.responses.length, 1);
    assert.equal(response.responses[0].partitionResponses.length, 1);
    return response.responses[0].partitionResponses[0].errorCode;
  };
  try {
    // A partition the topic does not have: the broker refuses it, and the response is passed on raw.
    const before = await counted();
    assert.equal(await produce(errorTopic, 1), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await counted(), before + 1);
    // A virtual partition past the topic's V: the proxy refuses it itself, in a response it encodes.
    assert.equal(await produce(virtualErrorTopic, V), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await counted(), before + 2);
    // A Produce that succeeds counts no error.
    assert.equal(await produce(errorTopic, 0), ErrorCode.NONE);
    assert.equal(await counted(), before + 2);
  } finally {
    raw.close();
  }
});

test("every metric the Grafana dashboard and the alert rules name exists in /metrics", async () => {
  const dashboard = JSON.parse(readFileSync(`${DEPLOY}grafana-dashboard.json`, "utf8")) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query?: { query: string } | string }[] };
  };
  const expressions: string[] = [];
  for (const panel of dashboard.panels)
    for (const target of panel.targets ?? []) expressions.push(target.expr);
  for (const variable of dashboard.templating.list) {
    const query = variable.query;
    if (query && typeof query === "object") expressions.push(query.query);
  }
  const alerts = parse(readFileSync(`${DEPLOY}prometheus-alerts.yaml`, "utf8")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const alertNames = alerts.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
  for (const wanted of [
    "ClusterNotReady",
    "HighErrorRate",
    "Throttling",
    "ConsumerLagGrowing",
    "NearLimit",
  ]) {
    assert.ok(
      alertNames.some((name) => name.includes(wanted)),
      `an alert for ${wanted} in ${alertNames}`,
    );
  }
  for (const group of alerts.groups) for (const rule of group.rules) expressions.push(rule.expr);
  const named = new Set<string>();
  for (const expression of expressions) {
    for (const match of expression.matchAll(/\b(?:kafka_proxy|kpp)_[a-z0-9_]+/g)) named.add(match[0]);
  }
  assert.ok(named.size >= 20, `metric names found: ${[...named]}`);
  const { declared } = await scrape();
  const missing = [...named].filter((name) => !declared.has(name));
  assert.deepEqual(missing, [], `named in deploy/ but not in /metrics: ${missing}`);
});
