import { readFileSync } from "node:fs";
import { type ToolResult, tool } from "../../scripts/kafka/cluster.ts";

export class PerfToolError extends Error {
  override name = "PerfToolError";
}

export interface ProducerRun {
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ConsumerRun {
  mbPerSec: number;
  recordsPerSec: number;
  fetchMbPerSec: number;
  fetchRecordsPerSec: number;
}

export interface LatencyRun {
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
}

async function run(dir: string, name: string, args: string[], timeoutMs: number): Promise<ToolResult> {
  const result = await tool(name, args, { dir, timeoutMs });
  if (result.exitCode !== 0 || result.timedOut) {
    throw new PerfToolError(
      `${name} ${args.join(" ")} ${result.timedOut ? "timed out" : `exited ${result.exitCode}`}:\n${result.stderr.slice(-2000)}`,
    );
  }
  return result;
}

/** The final summary line: "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, p50 ms 50th, ..." */
export function parseProducerSummary(stdout: string): ProducerRun {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => /records sent.*50th/.test(l));
  const match = line
    ? /([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.*?(\d+) ms 50th.*?(\d+) ms 99th/.exec(
        line,
      )
    : null;
  if (!match) throw new PerfToolError(`no producer summary in:\n${stdout.slice(-1000)}`);
  return {
    recordsPerSec: Number(match[1]),
    mbPerSec: Number(match[2]),
    avgLatencyMs: Number(match[3]),
    p50Ms: Number(match[4]),
    p99Ms: Number(match[5]),
  };
}

/** The CSV row after the header: start, end, MB, MB.sec, nMsg, nMsg.sec, rebalance.ms, fetch.ms, fetch.MB.sec, fetch.nMsg.sec. */
export function parseConsumerSummary(stdout: string): ConsumerRun {
  const row = stdout
    .split("\n")
    .map((l) => l.split(",").map((c) => c.trim()))
    .find((cells) => cells.length >= 10 && /^\d/.test(cells[2] ?? ""));
  if (!row) throw new PerfToolError(`no consumer summary in:\n${stdout.slice(-1000)}`);
  return {
    mbPerSec: Number(row[3]),
    recordsPerSec: Number(row[5]),
    fetchMbPerSec: Number(row[8]),
    fetchRecordsPerSec: Number(row[9]),
  };
}

/** "Avg latency: 1.2345 ms" and "Percentiles: 50th = 1, 99th = 3, 99.9th = 7". */
export function parseLatencySummary(stdout: string): LatencyRun {
  const avg = /Avg latency: ([\d.]+) ms/.exec(stdout);
  const percentiles = /50th = (\d+), 99th = (\d+)/.exec(stdout);
  if (!avg || !percentiles) throw new PerfToolError(`no latency summary in:\n${stdout.slice(-1000)}`);
  return { avgMs: Number(avg[1]), p50Ms: Number(percentiles[1]), p99Ms: Number(percentiles[2]) };
}

export async function producerPerf(
  dir: string,
  bootstrap: string,
  topic: string,
  records: number,
  recordSize: number,
  /**
   * `configFile`: client properties (security settings) passed as --command-config. `recordsPerSecond`: a fixed
   * pace instead of as fast as possible.
   */
  options: { acks?: "1" | "all"; properties?: string[]; configFile?: string; recordsPerSecond?: number } = {},
): Promise<ProducerRun> {
  const result = await run(
    dir,
    "kafka-producer-perf-test",
    [
      "--bootstrap-server",
      bootstrap,
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--record-size",
      String(recordSize),
      "--throughput",
      String(options.recordsPerSecond ?? -1),
      ...(options.configFile ? ["--command-config", options.configFile] : []),
      "--command-property",
      `acks=${options.acks ?? "1"}`,
      "linger.ms=5",
      "batch.size=65536",
      ...(options.properties ?? []),
    ],
    300_000,
  );
  return parseProducerSummary(result.stdout);
}

export async function consumerPerf(
  dir: string,
  bootstrap: string,
  topic: string,
  records: number,
  group: string,
  options: { configFile?: string } = {},
): Promise<ConsumerRun> {
  const result = await run(
    dir,
    "kafka-consumer-perf-test",
    [
      "--bootstrap-server",
      bootstrap,
      "--topic",
      topic,
      "--num-records",
      String(records),
      "--group",
      group,
      "--timeout",
      "60000",
      ...(options.configFile ? ["--command-config", options.configFile] : []),
    ],
    300_000,
  );
  return parseConsumerSummary(result.stdout);
}

export async function endToEndLatency(
  dir: string,
  bootstrap: string,
  topic: string,
  records: number,
  recordSize: number,
): Promise<LatencyRun> {
  const result = await run(
    dir,
    "kafka-e2e-latency",
    [bootstrap, topic, String(records), "1", String(recordSize)],
    300_000,
  );
  return parseLatencySummary(result.stdout);
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process so far, in milliseconds (from /proc/<pid>/stat). */
export function cpuMs(pid: number): number {
  const { user, system } = cpuSplitMs(pid);
  return user + system;
}

/** User and system CPU time of a process so far, apart, in milliseconds (from /proc/<pid>/stat). */
export function cpuSplitMs(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    user: (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_SECOND,
    system: (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_SECOND,
  };
}
