/**
 * Pieces of the abuse suite: the proxy process's resident memory sampled while an abuse runs, and a
 * well-behaved client whose request rate and latency show what the abuse costs everyone else.
 */
import { readFileSync } from "node:fs";
import { ApiKey, ErrorCode, lastVersion, ZERO_UUID } from "../../src/protocol/api.ts";
import { buildBatch } from "../../src/records/index.ts";
import { RawKafkaClient } from "./raw-kafka.ts";

const PRODUCE_BY_NAME = lastVersion("ProduceRequest", "topicData.name")!;

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; `peakMb` is the largest sample. */
export class RssSampler {
  peakMb: number;
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, everyMs = 50) {
    this.peakMb = rssMb(pid);
    this.timer = setInterval(() => {
      try {
        this.peakMb = Math.max(this.peakMb, rssMb(pid));
      } catch {
        // The process is gone: the test's own checks say so.
      }
    }, everyMs);
  }

  stop(): number {
    clearInterval(this.timer);
    return this.peakMb;
  }
}

export interface SteadyReport {
  requests: number;
  errors: string[];
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * A well-behaved producer: one acks=1 Produce of a small batch at a time to `topic` partition 0 through
 * `bootstrap`, until `stop` resolves; each request's latency is recorded.
 */
export async function steadyProducer(
  bootstrap: string,
  topic: string,
  stop: Promise<void>,
): Promise<SteadyReport> {
  const client = await RawKafkaClient.connect(bootstrap);
  const latencies: number[] = [];
  const errors: string[] = [];
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const started = performance.now();
  try {
    while (!stopped) {
      const records = buildBatch({ records: [{ value: Buffer.alloc(512, 7) }] });
      const sentAt = performance.now();
      try {
        const response = await client.request(
          ApiKey.Produce,
          PRODUCE_BY_NAME,
          {
            transactionalId: null,
            acks: 1,
            timeoutMs: 10_000,
            topicData: [{ name: topic, topicId: ZERO_UUID, partitionData: [{ index: 0, records }] }],
          },
          30_000,
        );
        const errorCode = response.responses[0].partitionResponses[0].errorCode;
        if (errorCode !== ErrorCode.NONE) errors.push(`error code ${errorCode}`);
      } catch (error) {
        errors.push((error as Error).message);
        if (client.socket.destroyed) break;
      }
      latencies.push(performance.now() - sentAt);
    }
  } finally {
    client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    requests: latencies.length,
    errors,
    perSecond: Math.round(latencies.length / seconds),
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  };
}

export function describeReport(
  name: string,
  report: SteadyReport,
  baselineMb: number,
  peakMb: number,
): string {
  return (
    `${name}: proxy RSS ${baselineMb.toFixed(0)} MB before, ${peakMb.toFixed(0)} MB peak; ` +
    `well-behaved producer ${report.perSecond} req/s, p50 ${report.p50Ms} ms, p99 ${report.p99Ms} ms, ` +
    `max ${report.maxMs} ms, ${report.errors.length} errors`
  );
}
