/**
 * Forwarding overhead of the gateway: Kafka's own perf tools run directly against a real cluster and through
 * the proxy, in alternating turns, and the proxy's CPU time per MB forwarded.
 *
 * usage: npm run bench -- [--quick] [--brokers N]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { start, stop } from "../../scripts/kafka/cluster.ts";
import { type ProxyProcess, startProxy } from "../../test/helpers/proxy.ts";
import { consumerPerf, cpuMs, createTopic, endToEndLatency, producerPerf } from "./perf-tools.ts";

interface Row {
  name: string;
  direct: number;
  proxy: number;
  ratio: number;
  unit: string;
}

type Side = "direct" | "proxy";

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "results", "latest.json");
const RECORD_SIZE = 1024;
const VIRTUAL_TOPIC_PATTERN = "^bench-virtual-.*";
const VIRTUAL_RATIO = 8;
const VIRTUAL_PHYSICAL_PARTITIONS = 3;
const VIRTUAL_VARIANTS = [
  { compression: "lz4", marker: "stripped" },
  { compression: "none", marker: "stripped" },
  { compression: "lz4", marker: "kept" },
  { compression: "none", marker: "kept" },
] as const;
const MIB = 1024 * 1024;

const { values } = parseArgs({
  options: { quick: { type: "boolean", default: false }, brokers: { type: "string", default: "1" } },
});
const quick = values.quick!;
const brokers = Number(values.brokers);
const plan = quick
  ? { rounds: 2, records: 50_000, latencyRecords: 1_000 }
  : { rounds: 3, records: 200_000, latencyRecords: 5_000 };

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  log(`starting a ${brokers}-broker Kafka 4.4.0 cluster (${quick ? "quick" : "full"} run)`);
  const cluster = await start({ brokers, version: "4" });
  let proxy: ProxyProcess | undefined;
  let keptProxy: ProxyProcess | undefined;
  const virtualRules = {
    [VIRTUAL_TOPIC_PATTERN]: {
      virtual_partitions: VIRTUAL_PHYSICAL_PARTITIONS * VIRTUAL_RATIO,
      physical_partitions: VIRTUAL_PHYSICAL_PARTITIONS,
    },
  };
  const cleanup = async () => {
    await proxy?.stop().catch(() => {});
    await keptProxy?.stop().catch(() => {});
    await stop(cluster.dir);
  };
  const interrupt = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  try {
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { logging: { level: "warn", json: true }, mapping: { topics: virtualRules } },
    });
    const pid = proxy.process.pid!;
    const bootstrap: Record<Side, string> = { direct: cluster.bootstrap, proxy: proxy.bootstrap };
    const replication = Math.min(brokers, 3);
    const samples = new Map<string, Record<Side, number[]>>();
    const record = (name: string, side: Side, value: number) => {
      const entry = samples.get(name) ?? { direct: [], proxy: [] };
      entry[side].push(value);
      samples.set(name, entry);
    };
    let proxyCpuMs = 0;
    let proxyMib = 0;
    const virtualCpu = new Map<string, { ms: number; mib: number }>();
    const units: Record<string, string> = {
      "produce throughput": "MB/s",
      "consume throughput": "MB/s",
    };
    const payloadMib = (plan.records * RECORD_SIZE) / MIB;

    for (let round = 0; round < plan.rounds; round++) {
      const order: Side[] = round % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
      for (const side of order) {
        const topic = `bench-${side}-${round}`;
        await createTopic(cluster.dir, topic, 3, replication);
        const cpuBefore = cpuMs(pid);
        const produced = await producerPerf(cluster.dir, bootstrap[side], topic, plan.records, RECORD_SIZE);
        const consumed = await consumerPerf(
          cluster.dir,
          bootstrap[side],
          topic,
          plan.records,
          `bench-${side}-${round}`,
        );
        if (side === "proxy") {
          proxyCpuMs += cpuMs(pid) - cpuBefore;
          proxyMib += 2 * payloadMib;
        }
        record("produce throughput", side, produced.mbPerSec);
        record("produce latency p50", side, produced.p50Ms);
        record("produce latency p99", side, produced.p99Ms);
        record("consume throughput", side, consumed.fetchMbPerSec);
        log(
          `round ${round + 1}/${plan.rounds} ${side}: produce ${produced.mbPerSec} MB/s (p99 ${produced.p99Ms} ms), ` +
            `consume ${consumed.fetchMbPerSec} MB/s`,
        );
      }
    }

    keptProxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: {
        logging: { level: "warn", json: true },
        mapping: { topics: virtualRules, keep_marker: true },
      },
    });
    const keptPid = keptProxy.process.pid!;
    for (const variant of VIRTUAL_VARIANTS) {
      const viaProxy = variant.marker === "kept" ? keptProxy.bootstrap : proxy.bootstrap;
      const viaPid = variant.marker === "kept" ? keptPid : pid;
      const label = `virtualized k=${VIRTUAL_RATIO} ${variant.compression} ${variant.marker}`;
      for (let round = 0; round < plan.rounds; round++) {
        const order: Side[] = round % 2 === 0 ? ["direct", "proxy"] : ["proxy", "direct"];
        for (const side of order) {
          const name = `${variant.compression}-${variant.marker}-${round}`;
          const topic = side === "direct" ? `bench-plain-${name}` : `bench-virtual-${name}`;
          await createTopic(cluster.dir, topic, VIRTUAL_PHYSICAL_PARTITIONS, replication);
          const cpuBefore = cpuMs(viaPid);
          const target = side === "direct" ? cluster.bootstrap : viaProxy;
          const produced = await producerPerf(cluster.dir, target, topic, plan.records, RECORD_SIZE, [
            `compression.type=${variant.compression}`,
          ]);
          const consumed = await consumerPerf(cluster.dir, target, topic, plan.records, `${topic}-g`);
          if (side === "proxy") {
            const cpu = virtualCpu.get(label) ?? { ms: 0, mib: 0 };
            cpu.ms += cpuMs(viaPid) - cpuBefore;
            cpu.mib += 2 * payloadMib;
            virtualCpu.set(label, cpu);
          }
          record(`${label} produce`, side, produced.mbPerSec);
          record(`${label} consume`, side, consumed.fetchMbPerSec);
          units[`${label} produce`] = "MB/s";
          units[`${label} consume`] = "MB/s";
          log(
            `round ${round + 1}/${plan.rounds} ${side === "direct" ? `direct ${variant.compression}` : label}: ` +
              `produce ${produced.mbPerSec} MB/s, consume ${consumed.fetchMbPerSec} MB/s`,
          );
        }
      }
    }

    for (const [round, side] of (["direct", "proxy", "proxy", "direct"] as Side[]).entries()) {
      const topic = `bench-latency-${side}-${round}`;
      await createTopic(cluster.dir, topic, 1, replication);
      const latency = await endToEndLatency(
        cluster.dir,
        bootstrap[side],
        topic,
        plan.latencyRecords,
        RECORD_SIZE,
      );
      record("end-to-end latency p50", side, latency.p50Ms);
      record("end-to-end latency p99", side, latency.p99Ms);
      record("end-to-end latency avg", side, latency.avgMs);
      log(`end-to-end ${side}: avg ${latency.avgMs} ms, p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms`);
    }

    const rows: Row[] = [...samples].map(([name, sides]) => {
      const direct = round2(median(sides.direct));
      const proxied = round2(median(sides.proxy));
      return {
        name,
        direct,
        proxy: proxied,
        ratio: direct === 0 ? Number.NaN : Number((proxied / direct).toFixed(3)),
        unit: units[name] ?? "ms",
      };
    });
    const cpuPerMib = proxyMib > 0 ? Number((proxyCpuMs / proxyMib).toFixed(2)) : 0;
    const virtualCpuPerMib = Object.fromEntries(
      [...virtualCpu].map(([label, cpu]) => [label, cpu.mib > 0 ? Number((cpu.ms / cpu.mib).toFixed(2)) : 0]),
    );

    console.log(
      `\nGateway forwarding overhead: ${brokers}-broker Kafka 4.4.0, ${plan.records} records x ${RECORD_SIZE} B ` +
        `per turn, acks=1, ${plan.rounds} alternating rounds (medians), ${cpus().length} cores\n`,
    );
    console.log(
      ["name".padEnd(40), "direct".padStart(10), "proxy".padStart(10), "ratio".padStart(7), "  unit"].join(
        "",
      ),
    );
    for (const row of rows) {
      console.log(
        [
          row.name.padEnd(40),
          String(row.direct).padStart(10),
          String(row.proxy).padStart(10),
          String(row.ratio).padStart(7),
          `  ${row.unit}`,
        ].join(""),
      );
    }
    console.log(
      `\nvirtualized rows: k=${VIRTUAL_RATIO} (${VIRTUAL_PHYSICAL_PARTITIONS * VIRTUAL_RATIO} virtual on ${VIRTUAL_PHYSICAL_PARTITIONS} physical); ` +
        `direct is the same codec on a plain ${VIRTUAL_PHYSICAL_PARTITIONS}-partition topic; proxy CPU per MB: ` +
        Object.entries(virtualCpuPerMib)
          .map(([label, ms]) => `${label.replace("virtualized ", "")} ${ms} ms`)
          .join(", "),
    );
    console.log(
      `\nproxy CPU: ${cpuPerMib} ms per MB forwarded (${Math.round(proxyCpuMs)} ms over ${round2(proxyMib)} MB produced + consumed)`,
    );

    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(
      RESULTS,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          mode: quick ? "quick" : "full",
          cluster: { brokers, version: "4.4.0" },
          recordsPerTurn: plan.records,
          recordSize: RECORD_SIZE,
          rounds: plan.rounds,
          cores: cpus().length,
          proxyCpuMsPerMb: cpuPerMib,
          virtualizedProxyCpuMsPerMb: virtualCpuPerMib,
          virtualized: {
            ratio: VIRTUAL_RATIO,
            physicalPartitions: VIRTUAL_PHYSICAL_PARTITIONS,
            direct: "the same codec on a plain topic with the physical partition count",
          },
          durationSeconds: Math.round((Date.now() - startedAt) / 1000),
          rows,
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
