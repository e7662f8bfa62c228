/**
 * Soak: a 1-broker cluster and the proxy (virtualization rule on "kppv-"), mixed steady traffic through it, and
 * the proxy's memory sampled every few seconds:
 *   - KafkaJS: an idempotent producer and a consumer group on a plain and a virtualized topic, every record
 *     checked (well-behaved-client.ts: none lost, duplicated, misrouted or out of order);
 *   - Kafka's Java perf tools: kafka-producer-perf-test (idempotent, acks=all) at a fixed rate into a
 *     virtualized topic, and kafka-consumer-perf-test reading it back through the proxy; afterwards the
 *     physical topic must hold exactly the records sent (no duplicate) and the consumer must have read them all.
 * Samples: RSS from /proc/<pid>/status (VmRSS) and, from the proxy's /metrics (prom-client's default metrics,
 * prefix kpp_), V8 heap used and total, external memory, and the frame pool's idle bytes.
 *
 * Growth verdict, on RSS (the V8 heap is reported alongside, not judged: a heap leak shows in RSS too, and RSS
 * also holds the Buffers and native memory the heap figure leaves out). Warm-up (JIT, pools, caches, the
 * broker's first segments) is in the first half, so the trend is estimated over the later samples two ways:
 *   - slope: least-squares fit over the second half's samples, in MB/min;
 *   - medians: median of the last third minus median of the middle third, divided by the time between the
 *     thirds' centres, in MB/min.
 * RSS grows when BOTH exceed the bound (default 3 MB/min). A GC sawtooth can tilt a short fit either way but
 * barely moves the medians of whole thirds; a one-off step (a pool filling once) moves the medians but leaves
 * the fit of a flat second half level. A leak moves both.
 */
import kafkajs from "kafkajs";
import { parseConsumerSummary, parseProducerSummary } from "../../bench/gateway/perf-tools.ts";
import { type LiveEnvironment, startLiveEnvironment } from "../fuzz/environment.ts";
import { metricSum, scrapeMetrics } from "../fuzz/proxy-watch.ts";
import { type ClientReport, WellBehavedClient } from "../fuzz/well-behaved-client.ts";

export interface SoakOptions {
  durationMs: number;
  /** Sampling period (default 5 s). */
  sampleEveryMs?: number;
  /** KafkaJS records per second over its two topics (default 200). */
  clientRecordsPerSecond?: number;
  /** Java perf producer records per second; 0 leaves the perf tools out (default 400). */
  perfRecordsPerSecond?: number;
  /** The growth bound, MB/min (default 3). */
  limitMbPerMin?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface Sample {
  /** Seconds since the traffic started. */
  t: number;
  rssMb: number | undefined;
  heapUsedMb: number | undefined;
  heapTotalMb: number | undefined;
  externalMb: number | undefined;
  poolIdleMb: number | undefined;
  connections: number | undefined;
  /** Client requests the proxy has received so far (kpp_requests_total). */
  requests: number | undefined;
  produced: number;
  consumed: number;
}

export interface Trend {
  /** Least-squares slope over the second half of the samples, MB per minute. */
  slopeMbPerMin: number;
  /** Median of the last third minus median of the middle third, MB. */
  stepMb: number;
  /** `stepMb` over the minutes between the two thirds' centres. */
  medianRateMbPerMin: number;
  middleMedianMb: number;
  lastMedianMb: number;
  samples: number;
}

export interface PerfOutcome {
  records: number;
  sent: number | undefined;
  consumed: number | undefined;
  /** Records in the physical topic (sum of end minus start offsets), straight from the broker. */
  stored: number | undefined;
  producerRecordsPerSec: number | undefined;
  producerP99Ms: number | undefined;
  errors: string[];
}

export interface SoakReport {
  durationMs: number;
  pid: number;
  samples: Sample[];
  rss: Trend | undefined;
  heapUsed: Trend | undefined;
  limitMbPerMin: number;
  client: ClientReport;
  clientCaughtUp: boolean;
  perf: PerfOutcome | undefined;
  /** The proxy's exit when it died during the soak. */
  proxyExit: { code: number | null; signal: string | null } | undefined;
  proxyTail: string | undefined;
  failures: string[];
}

const MB = 1024 * 1024;
export const DEFAULT_LIMIT_MB_PER_MIN = 3;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const seed = (options.seed ?? Date.now()) >>> 0;
  const tag = `soak${seed % 100_000}`;
  const perfTopic = `kppv-perf-${tag}`;
  const perfRate = options.perfRecordsPerSecond ?? 400;
  const env = await startLiveEnvironment({
    tag,
    proxyLogLevel: "warn",
    extraTopics: perfRate > 0 ? [{ name: perfTopic, partitions: 8 }] : [],
    log,
  });
  try {
    return await soak(env, { ...options, seed }, perfTopic, perfRate, log);
  } finally {
    await env.close();
  }
}

async function soak(
  env: LiveEnvironment,
  options: SoakOptions,
  perfTopic: string,
  perfRate: number,
  log: (line: string) => void,
): Promise<SoakReport> {
  const { watch, names } = env;
  const limit = options.limitMbPerMin ?? DEFAULT_LIMIT_MB_PER_MIN;
  const client = new WellBehavedClient({
    bootstrap: env.proxy.bootstrap,
    topics: [
      { name: names.clientPlain, partitions: env.plainPartitions },
      { name: names.clientVirtual, partitions: env.virtualPartitions },
    ],
    groupId: names.clientGroup,
    clientId: "kpp-soak",
    recordsPerSecond: options.clientRecordsPerSecond ?? 200,
    seed: options.seed ?? 1,
    log,
  });
  await client.start();

  const seconds = Math.max(1, Math.round(options.durationMs / 1000));
  const perfRecords = perfRate * seconds;
  const toolTimeoutMs = options.durationMs + 180_000;
  const perfProducer =
    perfRate > 0
      ? env.cluster.tool(
          "kafka-producer-perf-test",
          [
            "--topic",
            perfTopic,
            "--num-records",
            String(perfRecords),
            "--record-size",
            "200",
            "--throughput",
            String(perfRate),
            "--command-property",
            "acks=all",
            "linger.ms=5",
          ],
          { bootstrap: env.proxy.bootstrap, timeoutMs: toolTimeoutMs },
        )
      : undefined;
  const perfConsumer =
    perfRate > 0
      ? env.cluster.tool(
          "kafka-consumer-perf-test",
          [
            "--topic",
            perfTopic,
            "--num-records",
            String(perfRecords),
            "--group",
            `kpp-soak-perf-${options.seed}`,
            "--timeout",
            "60000",
          ],
          { bootstrap: env.proxy.bootstrap, timeoutMs: toolTimeoutMs },
        )
      : undefined;
  if (perfProducer)
    log(`java perf tools: ${perfRecords} records of 200 bytes at ${perfRate}/s into ${perfTopic}`);

  const samples: Sample[] = [];
  const started = performance.now();
  const every = options.sampleEveryMs ?? 5_000;
  log(SAMPLE_HEADER);
  for (let next = 0; next <= options.durationMs && watch.alive; next += every) {
    const wait = started + next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!watch.alive) break;
    const metrics = await scrapeMetrics(env.proxy.adminPort);
    const mb = (name: string) => {
      const value = metrics ? metricSum(metrics, name) : undefined;
      return value === undefined ? undefined : value / MB;
    };
    const sample: Sample = {
      t: Math.round((performance.now() - started) / 100) / 10,
      rssMb: watch.rssMb(),
      heapUsedMb: mb("kpp_nodejs_heap_size_used_bytes"),
      heapTotalMb: mb("kpp_nodejs_heap_size_total_bytes"),
      externalMb: mb("kpp_nodejs_external_memory_bytes"),
      poolIdleMb: mb("kpp_frame_pool_idle_bytes"),
      connections: metrics ? metricSum(metrics, "kpp_client_connections") : undefined,
      requests: metrics ? metricSum(metrics, "kpp_requests_total") : undefined,
      produced: client.produced,
      consumed: client.consumed,
    };
    samples.push(sample);
    log(formatSample(sample));
  }

  await client.stopProducing();
  let perf: PerfOutcome | undefined;
  if (perfProducer && perfConsumer)
    perf = await perfOutcome(env, perfTopic, perfRecords, perfProducer, perfConsumer);
  const clientCaughtUp = watch.alive ? await client.waitForAll(90_000) : false;
  const report: SoakReport = {
    durationMs: Math.round(performance.now() - started),
    pid: watch.pid,
    samples,
    rss: trendOf(samples.map((s) => [s.t, s.rssMb])),
    heapUsed: trendOf(samples.map((s) => [s.t, s.heapUsedMb])),
    limitMbPerMin: limit,
    client: client.report(),
    clientCaughtUp,
    perf,
    proxyExit: watch.crashed ? { code: watch.exit!.code, signal: watch.exit!.signal } : undefined,
    proxyTail: watch.crashed ? watch.tail() : undefined,
    failures: [],
  };
  await client.stop();

  const failures = report.failures;
  if (report.proxyExit) {
    failures.push(`the proxy exited (code ${report.proxyExit.code}, signal ${report.proxyExit.signal})`);
  }
  if (!report.rss) failures.push("too few RSS samples for a trend (run longer)");
  else if (growing(report.rss, limit)) {
    failures.push(
      `RSS grows: ${report.rss.slopeMbPerMin.toFixed(2)} MB/min fitted over the second half and ${report.rss.medianRateMbPerMin.toFixed(2)} MB/min between the medians of the middle and last thirds, both above ${limit} MB/min`,
    );
  }
  if (report.client.errors.length > 0)
    failures.push(`the KafkaJS client saw ${report.client.errors.length} error(s)`);
  else if (!clientCaughtUp) failures.push("the KafkaJS client did not receive every record it produced");
  if (report.client.produced === 0) failures.push("the KafkaJS client produced nothing");
  if (perf && perf.errors.length > 0) failures.push(...perf.errors);
  return report;
}

async function perfOutcome(
  env: LiveEnvironment,
  topic: string,
  records: number,
  producer: ReturnType<LiveEnvironment["cluster"]["tool"]>,
  consumer: ReturnType<LiveEnvironment["cluster"]["tool"]>,
): Promise<PerfOutcome> {
  const outcome: PerfOutcome = {
    records,
    sent: undefined,
    consumed: undefined,
    stored: undefined,
    producerRecordsPerSec: undefined,
    producerP99Ms: undefined,
    errors: [],
  };
  const produced = await producer;
  if (produced.exitCode !== 0 || produced.timedOut) {
    outcome.errors.push(
      `kafka-producer-perf-test ${produced.timedOut ? "timed out" : `exited ${produced.exitCode}`}: ${produced.stderr.slice(-1500)}`,
    );
  } else {
    const sent = /(\d+) records sent,[^\n]*50th/.exec(
      produced.stdout
        .split("\n")
        .reverse()
        .find((l) => /50th/.test(l)) ?? "",
    );
    outcome.sent = sent ? Number(sent[1]) : undefined;
    try {
      const summary = parseProducerSummary(produced.stdout);
      outcome.producerRecordsPerSec = summary.recordsPerSec;
      outcome.producerP99Ms = summary.p99Ms;
    } catch (error) {
      outcome.errors.push((error as Error).message.slice(0, 1000));
    }
    if (outcome.sent !== records)
      outcome.errors.push(`the Java producer sent ${outcome.sent} of ${records} records`);
    if (/Exception|ERROR/.test(produced.stderr + produced.stdout)) {
      const line = (produced.stderr + produced.stdout).split("\n").find((l) => /Exception|ERROR/.test(l));
      outcome.errors.push(`the Java producer reported: ${line?.slice(0, 500)}`);
    }
  }
  const consumed = await consumer;
  if (consumed.exitCode !== 0 || consumed.timedOut) {
    outcome.errors.push(
      `kafka-consumer-perf-test ${consumed.timedOut ? "timed out" : `exited ${consumed.exitCode}`}: ${consumed.stderr.slice(-1500)}`,
    );
  } else {
    try {
      const row = consumed.stdout
        .split("\n")
        .map((l) => l.split(",").map((c) => c.trim()))
        .find((cells) => cells.length >= 10 && /^\d/.test(cells[2] ?? ""));
      outcome.consumed = row ? Number(row[4]) : undefined;
      parseConsumerSummary(consumed.stdout);
    } catch (error) {
      outcome.errors.push((error as Error).message.slice(0, 1000));
    }
    if (outcome.consumed !== records) {
      outcome.errors.push(
        `the Java consumer read ${outcome.consumed} of ${records} records through the proxy`,
      );
    }
  }
  const admin = new kafkajs.Kafka({
    clientId: "kpp-soak-check",
    brokers: env.cluster.bootstrap.split(","),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    outcome.stored = offsets.reduce((sum, o) => sum + (Number(o.high) - Number(o.low)), 0);
  } finally {
    await admin.disconnect();
  }
  if (outcome.sent !== undefined && outcome.stored !== outcome.sent) {
    outcome.errors.push(
      `the physical topic holds ${outcome.stored} records for ${outcome.sent} sent (${(outcome.stored ?? 0) > outcome.sent ? "duplicates" : "lost records"})`,
    );
  }
  return outcome;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Whether both estimates of the trend exceed the bound. */
export function growing(trend: Trend, limitMbPerMin: number): boolean {
  return trend.slopeMbPerMin > limitMbPerMin && trend.medianRateMbPerMin > limitMbPerMin;
}

/** The slope of the second half and the step between the medians of the middle and last thirds. */
export function trendOf(points: [number, number | undefined][]): Trend | undefined {
  const valid = points.filter((p): p is [number, number] => p[1] !== undefined);
  if (valid.length < 6) return undefined;
  const half = valid.slice(Math.floor(valid.length / 2));
  const n = half.length;
  const meanX = half.reduce((s, [x]) => s + x, 0) / n;
  const meanY = half.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of half) {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  }
  const perSecond = sxx === 0 ? 0 : sxy / sxx;
  const third = Math.floor(valid.length / 3);
  const middle = valid.slice(third, 2 * third);
  const last = valid.slice(2 * third);
  const middleMedianMb = median(middle.map(([, y]) => y));
  const lastMedianMb = median(last.map(([, y]) => y));
  const centre = (points: [number, number][]) => (points[0]![0] + points.at(-1)![0]) / 2;
  const minutesApart = (centre(last) - centre(middle)) / 60;
  const stepMb = lastMedianMb - middleMedianMb;
  return {
    slopeMbPerMin: perSecond * 60,
    stepMb,
    medianRateMbPerMin: minutesApart > 0 ? stepMb / minutesApart : 0,
    middleMedianMb,
    lastMedianMb,
    samples: valid.length,
  };
}

const cell = (value: number | undefined, width: number, digits = 1) =>
  (value === undefined ? "?" : value.toFixed(digits)).padStart(width);

export const SAMPLE_HEADER = `${"t(s)".padStart(8)}${"rss MB".padStart(9)}${"heap MB".padStart(10)}${"heapTot".padStart(11)}${"extern".padStart(10)}${"poolIdle".padStart(10)}${"conns".padStart(7)}${"produced".padStart(10)}${"consumed".padStart(10)}`;

export function formatSample(s: Sample): string {
  return `${cell(s.t, 8, 0)}${cell(s.rssMb, 9)}${cell(s.heapUsedMb, 10)}${cell(s.heapTotalMb, 11)}${cell(s.externalMb, 10)}${cell(s.poolIdleMb, 10)}${cell(s.connections, 7, 0)}${cell(s.produced, 10, 0)}${cell(s.consumed, 10, 0)}`;
}

export function summarizeSoak(report: SoakReport): string[] {
  const lines: string[] = [];
  const trend = (name: string, t: Trend | undefined) =>
    t
      ? `${name}: ${t.slopeMbPerMin.toFixed(2)} MB/min fitted over the second half; medians ${t.middleMedianMb.toFixed(1)} MB (middle third) -> ${t.lastMedianMb.toFixed(1)} MB (last third), ${t.stepMb >= 0 ? "+" : ""}${t.stepMb.toFixed(1)} MB = ${t.medianRateMbPerMin.toFixed(2)} MB/min; ${t.samples} samples`
      : `${name}: not enough samples`;
  const first = report.samples[0];
  const last = report.samples.at(-1);
  lines.push(
    `soak of ${(report.durationMs / 1000).toFixed(0)} s, proxy pid ${report.pid}: RSS ${first?.rssMb?.toFixed(1)} MB at the start, ${last?.rssMb?.toFixed(1)} MB at the end, peak ${Math.max(...report.samples.map((s) => s.rssMb ?? 0)).toFixed(1)} MB`,
  );
  const requests = (last?.requests ?? 0) - (first?.requests ?? 0);
  const span = (last?.t ?? 0) - (first?.t ?? 0);
  lines.push(
    `requests through the proxy: ${requests} in ${span.toFixed(0)} s (${span > 0 ? (requests / span).toFixed(0) : "?"}/s)`,
  );
  lines.push(trend("RSS trend", report.rss));
  lines.push(trend("V8 heap used trend (reported, not judged)", report.heapUsed));
  lines.push(
    `growth bound: RSS grows when both the fitted slope and the medians' rate exceed ${report.limitMbPerMin} MB/min${report.rss ? ` (${growing(report.rss, report.limitMbPerMin) ? "it does" : "it does not"})` : ""}`,
  );
  const c = report.client;
  lines.push(
    `KafkaJS: ${c.produced} records produced, ${c.consumed} consumed, ${c.redelivered} redelivered after ${c.rebalances} group joins, ${c.duplicates} duplicates, ${c.lost} lost, ${c.misrouted} misrouted, ${c.outOfOrder} out of order, ${c.errors.length} errors`,
  );
  for (const error of c.errors.slice(0, 10)) lines.push(`  client error: ${error}`);
  const p = report.perf;
  if (p) {
    lines.push(
      `Java perf tools: ${p.sent ?? "?"} of ${p.records} records sent (${p.producerRecordsPerSec ?? "?"} records/s, p99 ${p.producerP99Ms ?? "?"} ms), ${p.consumed ?? "?"} read back through the proxy, ${p.stored ?? "?"} stored in the physical topic`,
    );
    for (const error of p.errors) lines.push(`  perf error: ${error}`);
  } else lines.push("Java perf tools: not run");
  if (report.proxyTail) lines.push(report.proxyTail);
  lines.push(report.failures.length === 0 ? "PASS" : `FAIL: ${report.failures.join("; ")}`);
  return lines;
}
