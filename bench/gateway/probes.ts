import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { javaExecutable } from "../../scripts/maven/resolve.ts";
import { RawKafkaClient } from "../../test/helpers/raw-kafka.ts";
import { PerfToolError } from "./perf-tools.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const METADATA = 3;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(
  command: string,
  args: string[],
  timeoutMs: number,
  showStderr = false,
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", showStderr ? "inherit" : "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ProbeLatency {
  sent: number;
  received: number;
  measured: number;
  errors: number;
  rate: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  avg: number;
}

export interface LatencyProbeOptions {
  classpath: string;
  bootstrap: string;
  topic: string;
  rate: number;
  warmupSeconds: number;
  seconds: number;
  recordSize: number;
  fetchMaxWaitMs: number;
}

/** Runs LatencyProbe.java (fixed-rate producer and consumer in one JVM) and parses its result line. */
export async function latencyProbe(options: LatencyProbeOptions): Promise<ProbeLatency> {
  const finished = await runProcess(
    javaExecutable(),
    [
      "-Xms512m",
      "-Xmx512m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      "-cp",
      options.classpath,
      join(HERE, "LatencyProbe.java"),
      options.bootstrap,
      options.topic,
      String(options.rate),
      String(options.warmupSeconds),
      String(options.seconds),
      String(options.recordSize),
      String(options.fetchMaxWaitMs),
    ],
    (options.warmupSeconds + options.seconds) * 1000 + 120_000,
    Boolean(process.env.KPP_BENCH_TIMELINE),
  );
  const line = finished.stdout.split("\n").find((l) => l.startsWith("result "));
  if (!line || finished.code !== 0) {
    throw new PerfToolError(
      `LatencyProbe on ${options.bootstrap} exited ${finished.code}: ${line ?? ""}\n${finished.stderr.slice(-2000)}`,
    );
  }
  const fields = Object.fromEntries(
    line
      .slice("result ".length)
      .split(" ")
      .map((pair) => pair.split("=") as [string, string])
      .map(([key, value]) => [key, Number(value)]),
  );
  return fields as unknown as ProbeLatency;
}

export interface KafkaJsRun {
  records: number;
  seconds: number;
  mbPerSec: number;
  recordsPerSec: number;
  joinSeconds?: number;
}

/** One phase of kafkajs-driver.ts in its own node process. */
export async function kafkaJs(
  phase: "produce" | "consume",
  options: { bootstrap: string; topic: string; records: number; size: number; batch: number; group?: string },
): Promise<KafkaJsRun> {
  const finished = await runProcess(
    process.execPath,
    [
      join(HERE, "kafkajs-driver.ts"),
      phase,
      "--bootstrap",
      options.bootstrap,
      "--topic",
      options.topic,
      "--records",
      String(options.records),
      "--size",
      String(options.size),
      "--batch",
      String(options.batch),
      ...(options.group ? ["--group", options.group] : []),
    ],
    180_000,
  );
  const line = finished.stdout.trim().split("\n").pop() ?? "";
  if (finished.code !== 0 || !line.startsWith("{")) {
    throw new PerfToolError(
      `kafkajs ${phase} on ${options.bootstrap} exited ${finished.code}\n${finished.stderr.slice(-2000)}`,
    );
  }
  return JSON.parse(line) as KafkaJsRun;
}

export interface MetadataLatency {
  p50Ms: number;
  p99Ms: number;
  partitions: number;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1))]!;
}

/** `requests` sequential Metadata v12 requests for one topic over one connection, after `warmup` unmeasured. */
export async function metadataLatency(
  bootstrap: string,
  topic: string,
  requests: number,
  warmup: number,
): Promise<MetadataLatency> {
  const client = await RawKafkaClient.connect(bootstrap.split(",")[0]!);
  const times: number[] = [];
  let partitions = 0;
  try {
    for (let i = 0; i < warmup + requests; i++) {
      const started = process.hrtime.bigint();
      const body = await client.request(METADATA, 12, {
        topics: [{ topicId: "0".repeat(32), name: topic }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
      const entry = body.topics[0];
      if (entry?.errorCode !== 0) throw new PerfToolError(`Metadata for ${topic}: error ${entry?.errorCode}`);
      partitions = entry.partitions.length;
      if (i >= warmup) times.push(elapsed);
    }
  } finally {
    client.close();
  }
  times.sort((a, b) => a - b);
  return {
    p50Ms: Number(percentile(times, 0.5).toFixed(3)),
    p99Ms: Number(percentile(times, 0.99).toFixed(3)),
    partitions,
  };
}

export interface IdleClients {
  connected: number;
  failed: number;
  errors: Record<string, number>;
  child: ChildProcess;
  close(): Promise<void>;
}

/** Starts idle-clients.ts and waits until its connections are settled; close() releases them. */
export function idleClients(address: string, count: number, apiVersions: boolean): Promise<IdleClients> {
  const child = spawn(
    process.execPath,
    [join(HERE, "idle-clients.ts"), address, String(count), ...(apiVersions ? ["--api-versions"] : [])],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-5000);
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const close = async () => {
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new PerfToolError(`idle clients did not settle:\n${stderr}`));
    }, 180_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n") && line) {
        clearTimeout(timer);
        resolve({ ...JSON.parse(line), child, close });
      }
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      reject(new PerfToolError(`idle clients exited ${code}:\n${stderr}`));
    });
  });
}
