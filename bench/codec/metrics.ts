import { Counter, Histogram, Registry } from "prom-client";
import { ProxyMetrics } from "../../src/admin/metrics.ts";
import { countBatches } from "../../src/features/traffic/record-batches.ts";
import { ApiKey } from "../../src/protocol/api.ts";
import { encodeRequest } from "../../src/protocol/frame.ts";
import { walkProduce } from "../../src/protocol/produce-request-peek.ts";
import { sampleBatch } from "./batches.ts";
import { measure, printTable } from "./timing.ts";

const REQUESTS = 10_000;
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What counting one request costs: the proxy's own metrics (requests, bytes in and out, latency in the proxy and
 * at the broker, under both metric names), against the same counts made with prom-client's labelled children.
 */
export function benchMetrics(budgetMs: number): void {
  const metrics = new ProxyMetrics((apiKey) => `api-${apiKey}`);
  const arrivedAt = performance.now();
  const proxyMs = measure(() => {
    for (let i = 0; i < REQUESTS; i++) {
      metrics.countRequest(ApiKey.Produce, 65_536);
      metrics.observeUpstream(ApiKey.Produce, arrivedAt);
      metrics.countResponse(ApiKey.Produce, 64);
      metrics.observeRequest(ApiKey.Produce, arrivedAt);
    }
  }, budgetMs);

  const registry = new Registry();
  const counter = (name: string, labelNames: string[] = []) =>
    new Counter({ name, help: name, labelNames, registers: [registry] });
  const histogram = (name: string) =>
    new Histogram({ name, help: name, labelNames: ["api"], buckets: BUCKETS, registers: [registry] });
  const requests = counter("requests", ["api"]).labels("Produce");
  const reference = counter("reference", ["api"]).labels("Produce");
  const requestBytes = counter("request_bytes", ["api"]).labels("Produce");
  const responseBytes = counter("response_bytes", ["api"]).labels("Produce");
  const received = counter("received");
  const sent = counter("sent");
  const inProxy = histogram("seconds").labels("Produce");
  const inProxyReference = histogram("reference_seconds").labels("Produce");
  const atBroker = histogram("upstream_seconds").labels("Produce");
  const promClientMs = measure(() => {
    for (let i = 0; i < REQUESTS; i++) {
      requests.inc();
      reference.inc();
      requestBytes.inc(65_536);
      received.inc(65_536);
      atBroker.observe((performance.now() - arrivedAt) / 1000);
      responseBytes.inc(64);
      sent.inc(64);
      const seconds = (performance.now() - arrivedAt) / 1000;
      inProxy.observe(seconds);
      inProxyReference.observe(seconds);
    }
  }, budgetMs);
  const perRequest = (ms: number) => ((ms * 1e6) / REQUESTS).toFixed(0);
  printTable(
    "Counting one request (requests, bytes, latencies, both metric names)",
    ["implementation", "ns per request"],
    [
      ["the proxy's metrics (tallies)", perRequest(proxyMs)],
      ["prom-client labelled children", perRequest(promClientMs)],
    ],
  );
}

/** A Produce v13 request frame: `partitions` partitions of one topic (by id), each one batch of `batchBytes`. */
function produceFrame(partitions: number, batchBytes: number): Buffer {
  const records = sampleBatch("none", batchBytes, 1024);
  return encodeRequest(
    { apiKey: ApiKey.Produce, apiVersion: 13, correlationId: 1, clientId: "bench" },
    {
      transactionalId: null,
      acks: 1,
      timeoutMs: 30_000,
      topicData: [
        {
          name: "",
          topicId: "0123456789abcdef0123456789abcdef",
          partitionData: Array.from({ length: partitions }, (_, index) => ({ index, records })),
        },
      ],
    },
  );
}

/**
 * What traffic counting reads of each Produce request: its topics and the headers of its batches (bytes and
 * record counts), without decoding it, for a request as a producer at full speed sends it and for one over 24
 * virtual partitions.
 */
export function benchTrafficWalk(budgetMs: number): void {
  const rows: string[][] = [];
  for (const [partitions, batchBytes] of [
    [3, 64 * 1024],
    [24, 8 * 1024],
  ] as const) {
    const frame = produceFrame(partitions, batchBytes);
    let records = 0;
    const visitTopic = () => false;
    const visitRecords = (batches: Buffer) => {
      records += countBatches(batches, 0, batches.length).records;
    };
    const walkMs = measure(() => {
      for (let i = 0; i < REQUESTS; i++) walkProduce(frame, 13, visitTopic, visitRecords);
    }, budgetMs);
    if (records === 0) throw new Error("the walk counted no records");
    rows.push([
      `${partitions} partitions x ${batchBytes / 1024} KB`,
      ((walkMs * 1e6) / REQUESTS).toFixed(0),
      ((walkMs * 1e6) / REQUESTS / (frame.length / (1024 * 1024)) / 1e6).toFixed(4),
    ]);
  }
  printTable(
    "Traffic counting: reading one Produce request's topics and batch headers",
    ["request", "ns per request", "ms per MB"],
    rows,
  );
}
