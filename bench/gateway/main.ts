/**
 * Forwarding overhead of the gateway against one real cluster: Kafka's perf tools, a fixed-rate end-to-end
 * latency probe, KafkaJS and raw Metadata requests run directly and through the proxy in alternating turns;
 * then virtualized rows, and idle connections on fresh proxies. For each proxied turn, the proxy's CPU time
 * per MB forwarded and its peak RSS, from /proc.
 *
 * usage: npm run bench -- [--quick] [--brokers N] [--only perf,kafkajs,latency,virtual,metadata,idle,security,clusters,metrics]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import kafkajs from "kafkajs";
import { start, stop } from "../../scripts/kafka/cluster.ts";
import { SASL_USERS } from "../../scripts/kafka/security.ts";
import { toolsClasspath } from "../../scripts/kafka/versions.ts";
import { addStoredUser } from "../../src/security/credentials.ts";
import { type ProxyProcess, startProxy } from "../../test/helpers/proxy.ts";
import { consumerPerf, producerPerf } from "./perf-tools.ts";
import { idleClients, kafkaJs, latencyProbe, metadataLatency } from "./probes.ts";
import { openFds, PeakRss, peakMethod, rssKb, type Usage, usageDuring } from "./resources.ts";

type Side = "direct" | "proxy";

interface Row {
  name: string;
  direct: number | null;
  proxy: number | null;
  /** The median of the rounds' proxy/direct ratios (`pairedRatio`). */
  ratio: number | null;
  /** median(proxy) / median(direct), for comparison with runs before ratios were paired. */
  ratioOfMedians: number | null;
  unit: string;
  proxyCpuMsPerMb: number | null;
  proxyPeakRssMb: number | null;
  samples: { direct: number[]; proxy: number[] };
  note?: string;
}

interface Check {
  name: string;
  value: number | null;
  target: string;
  pass: boolean;
  /** How far apart the direct turns of the row were: the run's own noise, next to the margin it is judged by. */
  noise?: string;
}

interface Accumulated {
  unit: string;
  direct: number[];
  proxy: number[];
  cpuMs: number;
  mb: number;
  peakRssKb: number;
  note?: string;
}

const SECTIONS = [
  "perf",
  "kafkajs",
  "latency",
  "virtual",
  "metadata",
  "idle",
  "security",
  "clusters",
  "metrics",
] as const;
type Section = (typeof SECTIONS)[number];

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "results", "latest.json");
const RECORD_SIZE = 1024;
const PARTITIONS = 3;
const VIRTUAL_TOPIC_PATTERN = "^bench-virtual-.*";
const VIRTUAL_RATIO = 8;
const VIRTUAL_PHYSICAL_PARTITIONS = 3;
const VIRTUAL_VARIANTS = [
  { compression: "lz4", marker: "stripped" },
  { compression: "none", marker: "stripped" },
  { compression: "lz4", marker: "kept" },
  { compression: "none", marker: "kept" },
] as const;
const PROBE_RATE = 5_000;
const PROBE_FETCH_MAX_WAIT_MS = 10;
const METADATA_PARTITIONS = 1_000;
const KAFKAJS_BATCH = 100;
const MIB = 1024 * 1024;
const DEFAULT_BROKER_JVM_OPTS = "-Xmx1g -XX:+UseG1GC";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    brokers: { type: "string", default: "1" },
    only: { type: "string" },
  },
});
const quick = values.quick!;
const brokers = Number(values.brokers);
const sections = new Set<Section>(
  values.only ? (values.only.split(",").map((s) => s.trim()) as Section[]) : SECTIONS,
);
for (const section of sections) {
  if (!SECTIONS.includes(section))
    throw new Error(`unknown section ${section} (known: ${SECTIONS.join(", ")})`);
}
const plan = quick
  ? {
      rounds: 2,
      perfRounds: 2,
      records: 50_000,
      warmupRecords: 20_000,
      kafkajsRecords: 50_000,
      probeWarmupSeconds: 3,
      probeSeconds: 10,
      metadataRequests: 200,
      idleConnections: 10_000,
      exchangedConnections: 1_000,
      settleMs: 3_000,
    }
  : {
      rounds: 3,
      perfRounds: 7,
      records: 200_000,
      warmupRecords: 100_000,
      kafkajsRecords: 200_000,
      probeWarmupSeconds: 5,
      probeSeconds: 30,
      metadataRequests: 500,
      idleConnections: 10_000,
      exchangedConnections: 1_000,
      settleMs: 5_000,
    };

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function roundTo(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Alternating turns: round 0 direct first, round 1 proxy first, and so on. */
function* turns(rounds = plan.rounds): Generator<{ round: number; side: Side }> {
  for (let round = 0; round < rounds; round++) {
    const order: Side[] = round % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
    for (const side of order) yield { round, side };
  }
}

/**
 * The median over rounds of each round's proxy/direct: a round's two turns run back to back, so the machine's
 * slower and faster spells (the direct turns alone differ by tens of percent) fall on both sides of a ratio.
 */
function pairedRatio(direct: number[], proxy: number[]): number | null {
  if (direct.length === 0 || direct.length !== proxy.length) {
    return direct.length && proxy.length ? roundTo(median(proxy) / median(direct), 3) : null;
  }
  const ratios: number[] = [];
  for (let i = 0; i < direct.length; i++) if (direct[i]! > 0) ratios.push(proxy[i]! / direct[i]!);
  return ratios.length ? roundTo(median(ratios), 3) : null;
}

class Results {
  readonly rows = new Map<string, Accumulated>();

  private entry(name: string, unit: string): Accumulated {
    let entry = this.rows.get(name);
    if (!entry) {
      entry = { unit, direct: [], proxy: [], cpuMs: 0, mb: 0, peakRssKb: 0 };
      this.rows.set(name, entry);
    }
    return entry;
  }

  sample(name: string, unit: string, side: Side, value: number): void {
    this.entry(name, unit)[side].push(value);
  }

  /** The proxy's CPU and peak RSS over a proxied turn; `mb` forwarded when CPU per MB applies. */
  usage(name: string, unit: string, usage: Usage | undefined, mb?: number): void {
    if (!usage) return;
    const entry = this.entry(name, unit);
    entry.peakRssKb = Math.max(entry.peakRssKb, usage.peakRssKb);
    if (mb !== undefined) {
      entry.cpuMs += usage.cpuMs;
      entry.mb += mb;
    }
  }

  note(name: string, unit: string, note: string): void {
    this.entry(name, unit).note = note;
  }

  get(name: string): Row | undefined {
    return this.list().find((row) => row.name === name);
  }

  list(): Row[] {
    return [...this.rows].map(([name, entry]) => {
      const direct = entry.direct.length ? roundTo(median(entry.direct), 3) : null;
      const proxy = entry.proxy.length ? roundTo(median(entry.proxy), 3) : null;
      return {
        name,
        direct,
        proxy,
        ratio: pairedRatio(entry.direct, entry.proxy),
        ratioOfMedians: direct && proxy !== null ? roundTo(proxy / direct, 3) : null,
        unit: entry.unit,
        proxyCpuMsPerMb: entry.mb > 0 ? roundTo(entry.cpuMs / entry.mb) : null,
        proxyPeakRssMb: entry.peakRssKb > 0 ? roundTo(entry.peakRssKb / 1024, 1) : null,
        samples: { direct: entry.direct, proxy: entry.proxy },
        ...(entry.note ? { note: entry.note } : {}),
      };
    });
  }
}

async function connectionsGauge(adminPort: number): Promise<number | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    let total = 0;
    for (const match of text.matchAll(/^kpp_client_connections\{[^}]*\} (\d+)/gm)) total += Number(match[1]);
    return total;
  } catch {
    return undefined;
  }
}

/** KafkaJS (the admin client here) sets negative timeouts, which Node 24 warns about on every run. */
function quietTimeoutWarnings(): void {
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name === "TimeoutNegativeWarning") return;
    for (const listener of listeners) listener(warning);
  });
}

/** Config merged into every proxy the bench starts, from KPP_BENCH_PROXY_CONFIG (JSON), to compare settings. */
function extraProxyConfig(): Record<string, unknown> {
  const text = process.env.KPP_BENCH_PROXY_CONFIG;
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** The proxy runs as users run it: the compiled build. */
function buildProxy(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const build = spawnSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  if (build.status !== 0) throw new Error("npm run build failed");
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  quietTimeoutWarnings();
  if (process.env.KPP_KAFKA_JVM_OPTS === undefined) process.env.KPP_KAFKA_JVM_OPTS = DEFAULT_BROKER_JVM_OPTS;
  buildProxy();
  log(
    `starting a ${brokers}-broker Kafka 4.4.0 cluster (${quick ? "quick" : "full"} run, broker JVM: ${process.env.KPP_KAFKA_JVM_OPTS})`,
  );
  const cluster = await start({ brokers, version: "4" });
  const proxies: ProxyProcess[] = [];
  const admin = new kafkajs.Kafka({
    clientId: "kpp-bench-admin",
    brokers: cluster.bootstrap.split(","),
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  const virtualRules = {
    [VIRTUAL_TOPIC_PATTERN]: {
      virtual_partitions: VIRTUAL_PHYSICAL_PARTITIONS * VIRTUAL_RATIO,
      physical_partitions: VIRTUAL_PHYSICAL_PARTITIONS,
    },
  };
  const cleanup = async () => {
    await admin.disconnect().catch(() => {});
    for (const proxy of proxies) await proxy.stop().catch(() => {});
    await stop(cluster.dir);
  };
  const interrupt = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  const launch = async (extra: Record<string, unknown>) => {
    const proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { logging: { level: "warn", json: true }, ...extra, ...extraProxyConfig() },
      compiled: true,
    });
    proxies.push(proxy);
    return proxy;
  };
  const retire = async (proxy: ProxyProcess) => {
    await proxy.stop();
    proxies.splice(proxies.indexOf(proxy), 1);
  };

  try {
    await admin.connect();
    const replication = Math.min(brokers, 3);
    /** Creates topics and waits for their leaders; a new topic can briefly be unknown to the metadata, so retry. */
    const createTopics = async (names: string[], partitions: number) => {
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.createTopics({
            topics: names.map((topic) => ({
              topic,
              numPartitions: partitions,
              replicationFactor: replication,
            })),
            waitForLeaders: true,
            timeout: 60_000,
          });
          return;
        } catch (error) {
          if ((error as { type?: string }).type !== "UNKNOWN_TOPIC_OR_PARTITION" || attempt === 5)
            throw error;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    };
    const proxy = await launch({ mapping: { topics: virtualRules } });
    const pid = proxy.process.pid!;
    const bootstrap: Record<Side, string> = { direct: cluster.bootstrap, proxy: proxy.bootstrap };
    const results = new Results();
    const payloadMb = (plan.records * RECORD_SIZE) / MIB;
    /** Runs a turn's work, measuring the proxy `via` when the turn is proxied. */
    const turn = async <T>(side: Side, work: () => Promise<T>, via = pid) => {
      if (side === "direct") return { result: await work(), usage: undefined };
      const { result, ...usage } = await usageDuring(via, work);
      return { result, usage };
    };

    if (sections.has("perf")) {
      log("\n== Kafka perf tools: produce acks=1 and acks=all, consume ==");
      await createTopics(
        [...turns(plan.perfRounds)].flatMap(({ round, side }) => [
          `bench-${side}-${round}-acks1`,
          `bench-${side}-${round}-acksall`,
        ]),
        PARTITIONS,
      );
      log(
        `warm-up, not measured: ${plan.warmupRecords} records produced and consumed directly and through the proxy`,
      );
      await createTopics(["bench-warmup-direct", "bench-warmup-proxy"], PARTITIONS);
      for (const side of ["direct", "proxy"] as const) {
        const topic = `bench-warmup-${side}`;
        await producerPerf(cluster.dir, bootstrap[side], topic, plan.warmupRecords, RECORD_SIZE);
        await consumerPerf(cluster.dir, bootstrap[side], topic, plan.warmupRecords, `${topic}-group`);
      }
      for (const { round, side } of turns(plan.perfRounds)) {
        const topic = `bench-${side}-${round}-acks1`;
        for (const acks of ["1", "all"] as const) {
          const target = acks === "1" ? topic : `bench-${side}-${round}-acksall`;
          const { result, usage } = await turn(side, () =>
            producerPerf(cluster.dir, bootstrap[side], target, plan.records, RECORD_SIZE, { acks }),
          );
          const label = `produce acks=${acks}`;
          results.sample(`${label} throughput`, "MB/s", side, result.mbPerSec);
          results.sample(`${label} records/s`, "records/s", side, Math.round(result.recordsPerSec));
          results.usage(`${label} throughput`, "MB/s", usage, payloadMb);
          results.usage(`${label} records/s`, "records/s", usage, payloadMb);
          if (acks === "1") {
            results.sample(`${label} latency p50`, "ms", side, result.p50Ms);
            results.sample(`${label} latency p99`, "ms", side, result.p99Ms);
            results.usage(`${label} latency p50`, "ms", usage, payloadMb);
            results.usage(`${label} latency p99`, "ms", usage, payloadMb);
          }
          log(
            `round ${round + 1}/${plan.perfRounds} ${side}: ${label} ${result.mbPerSec} MB/s, ${Math.round(result.recordsPerSec)} records/s ` +
              `(p99 ${result.p99Ms} ms)${usage ? `; proxy ${usage.cpuMs} ms CPU, peak ${roundTo(usage.peakRssKb / 1024, 1)} MB` : ""}`,
          );
        }
        const { result: consumed, usage } = await turn(side, () =>
          consumerPerf(cluster.dir, bootstrap[side], topic, plan.records, `bench-${side}-${round}`),
        );
        results.sample("consume throughput", "MB/s", side, consumed.fetchMbPerSec);
        results.sample("consume records/s", "records/s", side, Math.round(consumed.fetchRecordsPerSec));
        results.usage("consume throughput", "MB/s", usage, payloadMb);
        results.usage("consume records/s", "records/s", usage, payloadMb);
        log(
          `round ${round + 1}/${plan.perfRounds} ${side}: consume ${consumed.fetchMbPerSec} MB/s` +
            `${usage ? `; proxy ${usage.cpuMs} ms CPU, peak ${roundTo(usage.peakRssKb / 1024, 1)} MB` : ""}`,
        );
      }
    }

    if (sections.has("kafkajs")) {
      log(
        `\n== KafkaJS: ${plan.kafkajsRecords} x ${RECORD_SIZE} B in batches of ${KAFKAJS_BATCH}, acks=1 ==`,
      );
      await createTopics(
        [...turns()].map(({ round, side }) => `bench-kafkajs-${side}-${round}`),
        PARTITIONS,
      );
      const mb = (plan.kafkajsRecords * RECORD_SIZE) / MIB;
      for (const { round, side } of turns()) {
        const topic = `bench-kafkajs-${side}-${round}`;
        const options = {
          bootstrap: bootstrap[side],
          topic,
          records: plan.kafkajsRecords,
          size: RECORD_SIZE,
          batch: KAFKAJS_BATCH,
        };
        const produced = await turn(side, () => kafkaJs("produce", options));
        const consumed = await turn(side, () => kafkaJs("consume", { ...options, group: `${topic}-g` }));
        results.sample("KafkaJS produce throughput", "MB/s", side, produced.result.mbPerSec);
        results.sample("KafkaJS consume throughput", "MB/s", side, consumed.result.mbPerSec);
        results.usage("KafkaJS produce throughput", "MB/s", produced.usage, mb);
        results.usage("KafkaJS consume throughput", "MB/s", consumed.usage, mb);
        log(
          `round ${round + 1}/${plan.rounds} ${side}: KafkaJS produce ${produced.result.mbPerSec} MB/s, ` +
            `consume ${consumed.result.mbPerSec} MB/s (group join ${consumed.result.joinSeconds} s)`,
        );
      }
    }

    if (sections.has("latency")) {
      log(
        `\n== end-to-end latency at ${PROBE_RATE} records/s, ${RECORD_SIZE} B, acks=1, linger.ms=0: ` +
          `${plan.probeWarmupSeconds} s warm-up + ${plan.probeSeconds} s per turn ==`,
      );
      const classpath = (await toolsClasspath("4")).join(":");
      await createTopics(
        [...turns()].map(({ round, side }) => `bench-e2e-${side}-${round}`),
        1,
      );
      const mb = (2 * PROBE_RATE * (plan.probeWarmupSeconds + plan.probeSeconds) * RECORD_SIZE) / MIB;
      for (const { round, side } of turns()) {
        const { result, usage } = await turn(side, () =>
          latencyProbe({
            classpath,
            bootstrap: bootstrap[side],
            topic: `bench-e2e-${side}-${round}`,
            rate: PROBE_RATE,
            warmupSeconds: plan.probeWarmupSeconds,
            seconds: plan.probeSeconds,
            recordSize: RECORD_SIZE,
            fetchMaxWaitMs: PROBE_FETCH_MAX_WAIT_MS,
          }),
        );
        for (const [label, value] of [
          ["p50", result.p50],
          ["p99", result.p99],
          ["p99.9", result.p999],
        ] as const) {
          results.sample(`e2e latency ${label} @5k/s`, "ms", side, value);
          results.usage(`e2e latency ${label} @5k/s`, "ms", usage, mb);
        }
        log(
          `round ${round + 1}/${plan.rounds} ${side}: e2e p50 ${result.p50} ms, p99 ${result.p99} ms, ` +
            `p99.9 ${result.p999} ms, max ${result.max} ms (${result.measured} measured, sent at ${result.rate}/s)`,
        );
      }
    }

    if (sections.has("virtual")) {
      log(`\n== virtualized k=${VIRTUAL_RATIO} ==`);
      const keptProxy = await launch({ mapping: { topics: virtualRules, keep_marker: true } });
      const names = VIRTUAL_VARIANTS.flatMap((variant) =>
        [...turns()].map(({ round, side }) => {
          const name = `${variant.compression}-${variant.marker}-${round}`;
          return side === "direct" ? `bench-plain-${name}` : `bench-virtual-${name}`;
        }),
      );
      await createTopics(names, VIRTUAL_PHYSICAL_PARTITIONS);
      // Not measured: both proxies compile the virtualization's hot code (and the codecs) first.
      const warmUps = [proxy, keptProxy].map((via, i) => ({ via, topic: `bench-virtual-warm-up-${i}` }));
      await createTopics(
        warmUps.map(({ topic }) => topic),
        VIRTUAL_PHYSICAL_PARTITIONS,
      );
      for (const { via, topic } of warmUps) {
        await producerPerf(cluster.dir, via.bootstrap, topic, plan.warmupRecords, RECORD_SIZE, {
          properties: ["compression.type=lz4"],
        });
        await consumerPerf(cluster.dir, via.bootstrap, topic, plan.warmupRecords, `${topic}-g`);
      }
      log(`warm-up, not measured: ${plan.warmupRecords} records produced and consumed through each proxy`);
      for (const variant of VIRTUAL_VARIANTS) {
        const via = variant.marker === "kept" ? keptProxy : proxy;
        const label = `virtualized k=${VIRTUAL_RATIO} ${variant.compression} ${variant.marker}`;
        for (const { round, side } of turns()) {
          const name = `${variant.compression}-${variant.marker}-${round}`;
          const topic = side === "direct" ? `bench-plain-${name}` : `bench-virtual-${name}`;
          const target = side === "direct" ? cluster.bootstrap : via.bootstrap;
          const viaPid = via.process.pid!;
          const produced = await turn(
            side,
            () =>
              producerPerf(cluster.dir, target, topic, plan.records, RECORD_SIZE, {
                properties: [`compression.type=${variant.compression}`],
              }),
            viaPid,
          );
          const consumed = await turn(
            side,
            () => consumerPerf(cluster.dir, target, topic, plan.records, `${topic}-g`),
            viaPid,
          );
          results.sample(`${label} produce`, "MB/s", side, produced.result.mbPerSec);
          results.sample(`${label} consume`, "MB/s", side, consumed.result.fetchMbPerSec);
          results.usage(`${label} produce`, "MB/s", produced.usage, payloadMb);
          results.usage(`${label} consume`, "MB/s", consumed.usage, payloadMb);
          log(
            `round ${round + 1}/${plan.rounds} ${side === "direct" ? `direct ${variant.compression}` : label}: ` +
              `produce ${produced.result.mbPerSec} MB/s, consume ${consumed.result.fetchMbPerSec} MB/s`,
          );
        }
      }
      await retire(keptProxy);
    }

    if (sections.has("metadata")) {
      const topic = "bench-metadata-1000";
      log(
        `\n== Metadata v12 for a ${METADATA_PARTITIONS}-partition topic, ${plan.metadataRequests} requests ==`,
      );
      await createTopics([topic], METADATA_PARTITIONS);
      for (const { round, side } of turns()) {
        const { result, usage } = await turn(side, () =>
          metadataLatency(bootstrap[side], topic, plan.metadataRequests, 20),
        );
        if (result.partitions !== METADATA_PARTITIONS) {
          throw new Error(
            `Metadata ${side}: ${result.partitions} partitions, expected ${METADATA_PARTITIONS}`,
          );
        }
        results.sample("metadata 1000 partitions p50", "ms", side, result.p50Ms);
        results.sample("metadata 1000 partitions p99", "ms", side, result.p99Ms);
        results.usage("metadata 1000 partitions p50", "ms", usage);
        results.usage("metadata 1000 partitions p99", "ms", usage);
        log(
          `round ${round + 1}/${plan.rounds} ${side}: Metadata p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms`,
        );
      }
      await admin.deleteTopics({ topics: [topic], timeout: 60_000 }).catch(() => {});
    }

    if (sections.has("idle")) {
      log("\n== idle connections, each on a fresh proxy ==");
      const idle = async (name: string, wanted: number, apiVersions: boolean) => {
        for (let count = wanted; count >= wanted / 4; count = Math.floor(count / 2)) {
          const fresh = await launch({
            listen: { max_connections: count + 1_000, max_connections_per_ip: count + 1_000 },
          });
          const freshPid = fresh.process.pid!;
          try {
            await sleep(plan.settleMs);
            const peak = new PeakRss(freshPid);
            const before = rssKb(freshPid);
            const fdsBefore = openFds(freshPid);
            const clients = await idleClients(fresh.bootstrap, count, apiVersions);
            try {
              await sleep(plan.settleMs);
              const after = rssKb(freshPid);
              const fds = openFds(freshPid) - fdsBefore;
              const open = await connectionsGauge(fresh.adminPort);
              const peakKb = peak.stop();
              const perConnection = (after - before) / Math.max(1, clients.connected);
              log(
                `${name}: ${clients.connected} of ${count} connected (${clients.failed} failed ${JSON.stringify(clients.errors)}), ` +
                  `proxy counts ${open}, ${fds} more fds; RSS ${roundTo(before / 1024, 1)} -> ${roundTo(after / 1024, 1)} MB, ` +
                  `${roundTo(perConnection)} KB per connection`,
              );
              if (clients.connected < count * 0.95) {
                throw new Error(
                  `only ${clients.connected} of ${count} connected: ${JSON.stringify(clients.errors)}`,
                );
              }
              results.sample(name, "KB/conn", "proxy", roundTo(perConnection));
              results.usage(name, "KB/conn", { cpuMs: 0, peakRssKb: peakKb });
              results.note(
                name,
                "KB/conn",
                `${clients.connected} connections${count < wanted ? ` (fewer than the ${wanted} planned)` : ""}; ` +
                  `proxy fds +${fds}; RSS ${roundTo(before / 1024, 1)} -> ${roundTo(after / 1024, 1)} MB after ${plan.settleMs / 1000} s`,
              );
              return;
            } finally {
              await clients.close();
            }
          } catch (error) {
            log(`${name} with ${count} connections failed: ${(error as Error).message}`);
          } finally {
            await retire(fresh);
          }
        }
        results.note(name, "KB/conn", "failed: see the run's log");
      };
      await idle("idle connections RSS", plan.idleConnections, false);
      await idle("idle after ApiVersions RSS", plan.exchangedConnections, true);
    }

    if (sections.has("security")) {
      log("\n== TLS and SASL_SSL (SCRAM-SHA-512) on both sides, against the same cluster's TLS listeners ==");
      const secure = await start({ brokers, version: "4", security: "sasl_ssl" });
      const secureProxies: ProxyProcess[] = [];
      try {
        const tlsDir = join(secure.dir, "tls");
        const ca = join(tlsDir, "ca.pem");
        const serverTls = { cert_path: join(tlsDir, "server.pem"), key_path: join(tlsDir, "server.key") };
        const credentials = join(secure.dir, "bench-credentials.txt");
        addStoredUser(credentials, "bench", "SCRAM-SHA-512", "bench-password", 4096);
        const secureProxy = async (listen: Record<string, unknown>, kafka: Record<string, unknown>) => {
          const started = await startProxy({
            upstream: secure.bootstrap,
            compiled: true,
            extra: {
              logging: { level: "warn", json: true },
              listen: { security: listen },
              kafka,
              ...extraProxyConfig(),
            },
          });
          secureProxies.push(started);
          return started;
        };
        const upstreamTls = { ca_cert_path: ca };
        const tlsProxy = await secureProxy(
          { protocol: "SSL", tls: serverTls },
          {
            bootstrap_servers: secure.sasl!.tlsBootstrap.split(","),
            security_protocol: "SSL",
            tls: upstreamTls,
          },
        );
        const saslProxy = await secureProxy(
          {
            protocol: "SASL_SSL",
            tls: serverTls,
            sasl: { enabled_mechanisms: ["SCRAM-SHA-512"], credentials: { file: credentials } },
          },
          {
            bootstrap_servers: secure.sasl!.bootstrap.split(","),
            security_protocol: "SASL_SSL",
            tls: upstreamTls,
            sasl: { mechanism: "SCRAM-SHA-512", username: "admin", password: SASL_USERS.admin },
          },
        );
        const clientConfig = (name: string, lines: string[]) => {
          const file = join(secure.dir, `${name}.properties`);
          writeFileSync(
            file,
            [...lines, "ssl.truststore.type=PEM", `ssl.truststore.location=${ca}`, ""].join("\n"),
          );
          return file;
        };
        const tlsClient = clientConfig("bench-tls", ["security.protocol=SSL"]);
        const scramClient = (user: string, password: string) =>
          clientConfig(`bench-scram-${user}`, [
            "security.protocol=SASL_SSL",
            "sasl.mechanism=SCRAM-SHA-512",
            `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${password}";`,
          ]);
        const secureAdmin = new kafkajs.Kafka({
          clientId: "kpp-bench-admin",
          brokers: secure.bootstrap.split(","),
          logLevel: kafkajs.logLevel.NOTHING,
        }).admin();
        await secureAdmin.connect();
        await secureAdmin.createTopics({
          topics: [...turns()].flatMap(({ round, side }) =>
            ["tls", "sasl"].map((kind) => ({
              topic: `bench-${kind}-${side}-${round}`,
              numPartitions: PARTITIONS,
              replicationFactor: Math.min(brokers, 3),
            })),
          ),
          waitForLeaders: true,
          timeout: 60_000,
        });
        await secureAdmin.disconnect();
        for (const { round, side } of turns()) {
          const tlsTarget = side === "direct" ? secure.sasl!.tlsBootstrap : tlsProxy.bootstrap;
          const tlsTopic = `bench-tls-${side}-${round}`;
          const tlsPid = tlsProxy.process.pid!;
          const produced = await turn(
            side,
            () =>
              producerPerf(secure.dir, tlsTarget, tlsTopic, plan.records, RECORD_SIZE, {
                configFile: tlsClient,
              }),
            tlsPid,
          );
          const consumed = await turn(
            side,
            () =>
              consumerPerf(secure.dir, tlsTarget, tlsTopic, plan.records, `${tlsTopic}-g`, {
                configFile: tlsClient,
              }),
            tlsPid,
          );
          const saslTarget = side === "direct" ? secure.sasl!.bootstrap : saslProxy.bootstrap;
          const saslTopic = `bench-sasl-${side}-${round}`;
          const saslClient =
            side === "direct"
              ? scramClient("alice", SASL_USERS.alice!)
              : scramClient("bench", "bench-password");
          const saslProduced = await turn(
            side,
            () =>
              producerPerf(secure.dir, saslTarget, saslTopic, plan.records, RECORD_SIZE, {
                configFile: saslClient,
              }),
            saslProxy.process.pid!,
          );
          results.sample("TLS both sides produce", "MB/s", side, produced.result.mbPerSec);
          results.sample("TLS both sides consume", "MB/s", side, consumed.result.fetchMbPerSec);
          results.sample("SASL_SSL both sides produce", "MB/s", side, saslProduced.result.mbPerSec);
          results.usage("TLS both sides produce", "MB/s", produced.usage, payloadMb);
          results.usage("TLS both sides consume", "MB/s", consumed.usage, payloadMb);
          results.usage("SASL_SSL both sides produce", "MB/s", saslProduced.usage, payloadMb);
          log(
            `round ${round + 1}/${plan.rounds} ${side}: TLS produce ${produced.result.mbPerSec} MB/s, consume ` +
              `${consumed.result.fetchMbPerSec} MB/s; SASL_SSL produce ${saslProduced.result.mbPerSec} MB/s`,
          );
        }
      } finally {
        for (const started of secureProxies) await started.stop().catch(() => {});
        await stop(secure.dir);
      }
    }

    if (sections.has("clusters")) {
      log(
        "\n== Two clusters behind one proxy against one: perf tools on topics of the default cluster, the second cluster (1 broker) routed beside it ==",
      );
      const second = await start({ brokers: 1, version: "4" });
      let twoClusters: ProxyProcess | undefined;
      try {
        twoClusters = await startProxy({
          upstream: cluster.bootstrap,
          compiled: true,
          brokerSlots: 32,
          extra: {
            logging: { level: "warn", json: true },
            clusters: {
              main: { bootstrap_servers: cluster.bootstrap.split(",") },
              second: { bootstrap_servers: second.bootstrap.split(","), node_id_base: 16 },
            },
            routing: { default_cluster: "main", topics: { "bench-second-.*": "second" } },
            ...extraProxyConfig(),
          },
        });
        proxies.push(twoClusters);
        const twoPid = twoClusters.process.pid!;
        /** "direct" here is the one-cluster proxy: the row's ratio is two clusters against one. */
        const via: Record<Side, string> = { direct: proxy.bootstrap, proxy: twoClusters.bootstrap };
        await createTopics(
          [...turns()].map(({ round, side }) => `bench-clusters-${side}-${round}`),
          PARTITIONS,
        );
        for (const { round, side } of turns()) {
          const topic = `bench-clusters-${side}-${round}`;
          const produced = await turn(
            side,
            () => producerPerf(cluster.dir, via[side], topic, plan.records, RECORD_SIZE, { acks: "all" }),
            twoPid,
          );
          const consumed = await turn(
            side,
            () => consumerPerf(cluster.dir, via[side], topic, plan.records, `${topic}-g`),
            twoPid,
          );
          results.sample("two clusters vs one: produce acks=all", "MB/s", side, produced.result.mbPerSec);
          results.sample("two clusters vs one: consume", "MB/s", side, consumed.result.fetchMbPerSec);
          results.usage("two clusters vs one: produce acks=all", "MB/s", produced.usage, payloadMb);
          results.usage("two clusters vs one: consume", "MB/s", consumed.usage, payloadMb);
          log(
            `round ${round + 1}/${plan.rounds} ${side === "direct" ? "one cluster" : "two clusters"}: produce ${produced.result.mbPerSec} MB/s, consume ${consumed.result.fetchMbPerSec} MB/s`,
          );
        }
        results.note(
          "two clusters vs one: produce acks=all",
          "MB/s",
          "ratio: the two-cluster proxy over the one-cluster proxy, same topics' cluster",
        );
      } finally {
        if (twoClusters) await retire(twoClusters).catch(() => {});
        await stop(second.dir);
      }
    }

    if (sections.has("metrics")) {
      log(
        "\n== Traffic metrics on against off: perf tools through two fresh proxies, one with metrics.traffic: false ==",
      );
      // Both fresh, so that neither carries what earlier sections left (the idle section's 10,000 connections).
      const counting = await launch({ mapping: { topics: virtualRules } });
      const quiet = await launch({ mapping: { topics: virtualRules }, metrics: { traffic: false } });
      try {
        /** "direct" here is the proxy without traffic metrics: the rows' ratios are metrics on over off. */
        const via: Record<Side, ProxyProcess> = { direct: quiet, proxy: counting };
        await createTopics(
          [...turns(plan.perfRounds)].map(({ round, side }) => `bench-metrics-${side}-${round}`),
          PARTITIONS,
        );
        // Not measured: each proxy compiles its hot code first.
        for (const [side, warming] of Object.entries(via)) {
          const topic = `bench-metrics-warm-up-${side}`;
          await createTopics([topic], PARTITIONS);
          await producerPerf(cluster.dir, warming.bootstrap, topic, plan.warmupRecords, RECORD_SIZE);
          await consumerPerf(cluster.dir, warming.bootstrap, topic, plan.warmupRecords, `${topic}-g`);
        }
        for (const { round, side } of turns(plan.perfRounds)) {
          const topic = `bench-metrics-${side}-${round}`;
          const measured = via[side];
          const produced = await usageDuring(measured.process.pid!, () =>
            producerPerf(cluster.dir, measured.bootstrap, topic, plan.records, RECORD_SIZE, { acks: "1" }),
          );
          const consumed = await usageDuring(measured.process.pid!, () =>
            consumerPerf(cluster.dir, measured.bootstrap, topic, plan.records, `${topic}-g`),
          );
          results.sample("metrics on vs off: produce acks=1", "MB/s", side, produced.result.mbPerSec);
          results.sample("metrics on vs off: consume", "MB/s", side, consumed.result.fetchMbPerSec);
          const cpuPerMb = roundTo((produced.cpuMs + consumed.cpuMs) / (2 * payloadMb));
          results.sample("metrics on vs off: proxy CPU per MB", "ms/MB", side, cpuPerMb);
          if (side === "proxy") {
            results.usage("metrics on vs off: produce acks=1", "MB/s", produced, payloadMb);
            results.usage("metrics on vs off: consume", "MB/s", consumed, payloadMb);
          }
          log(
            `round ${round + 1}/${plan.perfRounds} metrics ${side === "direct" ? "off" : "on"}: produce ${produced.result.mbPerSec} MB/s, ` +
              `consume ${consumed.result.fetchMbPerSec} MB/s, proxy ${cpuPerMb} ms CPU/MB`,
          );
        }
        results.note(
          "metrics on vs off: produce acks=1",
          "MB/s",
          "ratio: the proxy with traffic metrics over the same proxy config with metrics.traffic: false",
        );
      } finally {
        await retire(quiet).catch(() => {});
        await retire(counting).catch(() => {});
      }
    }

    const rows = results.list();
    const ratioOf = (name: string) => results.get(name)?.ratio ?? null;
    const checks: Check[] = [];
    const check = (
      name: string,
      value: number | null,
      target: string,
      pass: (v: number) => boolean,
      noise?: string,
    ) =>
      checks.push({
        name,
        value,
        target,
        pass: value !== null && Number.isFinite(value) && pass(value),
        ...(noise ? { noise } : {}),
      });
    /** The spread of a row's direct turns, (max - min) / median, as a percentage. */
    const spread = (name: string) => {
      const direct = results.rows.get(name)?.direct ?? [];
      if (direct.length < 2) return undefined;
      const width = (Math.max(...direct) - Math.min(...direct)) / median(direct);
      return `direct turns ${Math.round(width * 100)}% apart`;
    };
    for (const name of [
      "produce acks=1 throughput",
      "produce acks=all throughput",
      "consume throughput",
      "KafkaJS produce throughput",
      "KafkaJS consume throughput",
    ]) {
      if (results.rows.has(name)) {
        check(`${name} ratio`, ratioOf(name), ">= 0.90", (v) => v >= 0.9, spread(name));
      }
    }
    for (const name of ["metrics on vs off: produce acks=1", "metrics on vs off: consume"]) {
      if (results.rows.has(name)) {
        check(`${name} ratio`, ratioOf(name), ">= 0.98", (v) => v >= 0.98, spread(name));
      }
    }
    const p99 = results.get("e2e latency p99 @5k/s");
    if (p99) {
      const added = p99.proxy !== null && p99.direct !== null ? roundTo(p99.proxy - p99.direct, 3) : null;
      const direct = p99.samples.direct;
      const apart = direct.length > 1 ? roundTo(Math.max(...direct) - Math.min(...direct), 3) : undefined;
      check(
        "added e2e p99 (ms)",
        added,
        "<= 1 ms",
        (v) => v <= 1,
        apart === undefined ? undefined : `direct p99 turns ${apart} ms apart`,
      );
    }
    for (const name of ["produce acks=1 throughput", "produce acks=all throughput", "consume throughput"]) {
      const row = results.get(name);
      if (row) check(`${name}: proxy CPU ms/MB`, row.proxyCpuMsPerMb, "<= 5", (v) => v <= 5);
    }
    const throughputRows = rows.filter((row) => row.unit === "MB/s" && row.proxyPeakRssMb !== null);
    if (throughputRows.length) {
      const worst = throughputRows.reduce((a, b) => (b.proxyPeakRssMb! > a.proxyPeakRssMb! ? b : a));
      check(
        `peak RSS in throughput rows (max: ${worst.name})`,
        worst.proxyPeakRssMb,
        "<= 150 MB",
        (v) => v <= 150,
      );
    }
    for (const name of ["idle connections RSS", "idle after ApiVersions RSS"]) {
      if (results.rows.has(name))
        check(`${name} per connection`, results.get(name)!.proxy, "<= 30 KB", (v) => v <= 30);
    }
    const lz4 = `virtualized k=${VIRTUAL_RATIO} lz4 stripped`;
    if (results.rows.has(`${lz4} produce`)) {
      for (const [what, target] of [
        ["produce", 0.7],
        ["consume", 0.6],
      ] as const) {
        const name = `${lz4} ${what}`;
        check(`${name} ratio`, ratioOf(name), `>= ${target.toFixed(2)}`, (v) => v >= target, spread(name));
      }
    }
    for (const name of ["TLS both sides produce", "TLS both sides consume", "SASL_SSL both sides produce"]) {
      if (results.rows.has(name)) {
        check(`${name} ratio`, ratioOf(name), ">= 0.85", (v) => v >= 0.85, spread(name));
      }
    }
    const passThrough = ["produce acks=1 throughput", "produce acks=all throughput", "consume throughput"]
      .map((name) => results.rows.get(name))
      .filter((entry) => entry && entry.mb > 0);
    const passThroughCpu = passThrough.length
      ? roundTo(passThrough.reduce((s, e) => s + e!.cpuMs, 0) / passThrough.reduce((s, e) => s + e!.mb, 0))
      : null;

    console.log(
      `\nGateway: ${brokers}-broker Kafka 4.4.0 (broker JVM ${process.env.KPP_KAFKA_JVM_OPTS}), ${cpus().length} cores, ` +
        `${quick ? "quick" : "full"} run: ${plan.rounds} alternating rounds (${plan.perfRounds} for the perf tools; direct and proxy are medians, ratio the median of each round's proxy/direct), ${plan.records} x ${RECORD_SIZE} B ` +
        `per perf-tool turn, ${PARTITIONS} partitions\n`,
    );
    const header = [
      "name".padEnd(44),
      "direct".padStart(10),
      "proxy".padStart(10),
      "ratio".padStart(7),
      "  unit".padEnd(12),
      "cpu ms/MB".padStart(10),
      "peak RSS MB".padStart(12),
    ].join("");
    console.log(header);
    const show = (value: number | null) => (value === null ? "-" : String(value));
    for (const row of rows) {
      console.log(
        [
          row.name.padEnd(44),
          show(row.direct).padStart(10),
          show(row.proxy).padStart(10),
          show(row.ratio).padStart(7),
          `  ${row.unit}`.padEnd(12),
          show(row.proxyCpuMsPerMb).padStart(10),
          show(row.proxyPeakRssMb).padStart(12),
        ].join(""),
      );
    }
    for (const row of rows.filter((r) => r.note)) console.log(`  ${row.name}: ${row.note}`);
    console.log(
      `\ncpu ms/MB: proxy user+system CPU per MB forwarded over its proxied turns (produce: MB sent; consume: MB read; ` +
        `e2e: both). peak RSS: ${peakMethod()} of the proxy over the row's proxied turns. ` +
        `Virtualized rows: ${VIRTUAL_PHYSICAL_PARTITIONS * VIRTUAL_RATIO} virtual on ${VIRTUAL_PHYSICAL_PARTITIONS} physical; ` +
        `direct is the same codec on a plain ${VIRTUAL_PHYSICAL_PARTITIONS}-partition topic.`,
    );
    console.log("\ntargets:");
    for (const c of checks) {
      console.log(
        `  ${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${show(c.value)} (target ${c.target})${c.noise ? `; ${c.noise}` : ""}`,
      );
    }

    const durationSeconds = Math.round((Date.now() - startedAt) / 1000);
    console.log(`\n${durationSeconds} s in total`);
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          mode: quick ? "quick" : "full",
          sections: [...sections],
          cluster: { brokers, version: "4.4.0", brokerJvmOptions: process.env.KPP_KAFKA_JVM_OPTS },
          cores: cpus().length,
          recordSize: RECORD_SIZE,
          partitions: PARTITIONS,
          rounds: plan.rounds,
          plan,
          latencyProbe: {
            rate: PROBE_RATE,
            acks: "1",
            lingerMs: 0,
            fetchMaxWaitMs: PROBE_FETCH_MAX_WAIT_MS,
            warmupSeconds: plan.probeWarmupSeconds,
            seconds: plan.probeSeconds,
          },
          virtualized: {
            ratio: VIRTUAL_RATIO,
            physicalPartitions: VIRTUAL_PHYSICAL_PARTITIONS,
            direct: "the same codec on a plain topic with the physical partition count",
          },
          peakRss: peakMethod(),
          proxyCpuMsPerMb: passThroughCpu,
          durationSeconds,
          rows,
          checks,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${RESULTS}`);
  } finally {
    await cleanup();
  }
}

await main();
