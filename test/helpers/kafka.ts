/**
 * Real Kafka clusters for integration tests.
 *
 *   const kafka = await useKafkaCluster({ brokers: 3 });
 *   const topic = kafka.uniqueTopic("orders");
 *   await kafka.tool("kafka-topics", ["--create", "--topic", topic, "--replication-factor", "3"]);
 *
 * One cluster per distinct options per test process (= per test file under `node --test`), started on first
 * use and torn down when the process exits, however it exits: an exit hook kills the JVMs, and a detached
 * reaper process (watching from before the first JVM starts) does it if this process is killed outright. `npm test` additionally sweeps every JVM carrying
 * the run's `-Dkpp.run=<id>` marker when the run ends.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ClusterInfo,
  clusterMarker,
  type KafkaVersion,
  killBroker,
  readState,
  restartBroker,
  type Security,
  start,
  stop,
  type ToolOptions,
  type ToolResult,
  tool,
} from "../../scripts/kafka/cluster.ts";
import { killWithMarkerSync, pidsWithMarker, startTime } from "../../scripts/kafka/processes.ts";

export type { ClusterInfo, KafkaVersion, Security, ToolResult } from "../../scripts/kafka/cluster.ts";

export interface KafkaClusterOptions {
  brokers?: number;
  version?: KafkaVersion;
  security?: Security;
  /** Extra broker properties (part of the cache key); `{port}` and the like in values: see StartOptions. */
  brokerProperties?: Record<string, string>;
}

export interface KafkaTestCluster extends ClusterInfo {
  /** Runs a Kafka CLI tool against this cluster; `--bootstrap-server` is added for tools that take it. */
  tool(name: string, args: string[], options?: Omit<ToolOptions, "dir">): Promise<ToolResult>;
  /** Like `tool`, but throws with the tool's output when it exits non-zero. */
  toolOk(name: string, args: string[], options?: Omit<ToolOptions, "dir">): Promise<string>;
  killBroker(id: number, signal?: NodeJS.Signals): Promise<void>;
  restartBroker(id: number): Promise<void>;
  /** A topic name no other test (in this or any other process) uses. */
  uniqueTopic(prefix?: string): string;
  /** Creates a topic with kafka-topics (1 partition, replication factor 1 unless told), with `--config` entries. */
  createTopic(
    topic: string,
    options?: { partitions?: number; replicationFactor?: number; configs?: string[] },
  ): Promise<void>;
  /** Stops the cluster now instead of at process exit. */
  stop(): Promise<void>;
}

const REAPER = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "kafka", "reaper.ts");

const clusters = new Map<string, Promise<KafkaTestCluster>>();
const liveDirs = new Set<string>();
let topicCounter = 0;
let hooksInstalled = false;

export function useKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaTestCluster> {
  const normalized = {
    brokers: options.brokers ?? 1,
    version: options.version ?? "4",
    security: options.security ?? "plaintext",
    brokerProperties: options.brokerProperties ?? {},
  } satisfies Required<KafkaClusterOptions>;
  const key = JSON.stringify(normalized);
  let cluster = clusters.get(key);
  if (!cluster) {
    cluster = startForTests(normalized);
    clusters.set(key, cluster);
    cluster.catch(() => clusters.delete(key));
  }
  return cluster;
}

async function startForTests(options: Required<KafkaClusterOptions>): Promise<KafkaTestCluster> {
  installExitHooks();
  const dir = uniqueDir(process.env.KPP_TEST_TMP ?? tmpdir());
  liveDirs.add(dir);
  spawnReaper(dir);
  const info = await start({
    ...options,
    dir,
    log: process.env.KPP_HARNESS_DEBUG ? (line) => process.stderr.write(`[kafka] ${line}\n`) : () => {},
  });
  const cluster: KafkaTestCluster = {
    ...info,
    tool: (name, args, toolOptions = {}) => tool(name, args, { timeoutMs: 120_000, ...toolOptions, dir }),
    toolOk: async (name, args, toolOptions = {}) => {
      const result = await tool(name, args, { timeoutMs: 120_000, ...toolOptions, dir });
      if (result.exitCode !== 0) {
        throw new Error(
          `${name} ${args.join(" ")} exited ${result.exitCode ?? result.signal}${result.timedOut ? " (timed out)" : ""}\n${result.stderr}\n${result.stdout}`,
        );
      }
      return result.stdout;
    },
    killBroker: (id, signal) => killBroker(dir, id, signal),
    restartBroker: async (id) => {
      await restartBroker(dir, id);
      const state = readState(dir);
      if (state) cluster.brokers = state.brokers;
    },
    createTopic: async (topic, { partitions = 1, replicationFactor = 1, configs = [] } = {}) => {
      await cluster.toolOk("kafka-topics", [
        "--create",
        "--topic",
        topic,
        "--partitions",
        String(partitions),
        "--replication-factor",
        String(replicationFactor),
        ...configs.flatMap((config) => ["--config", config]),
      ]);
    },
    uniqueTopic: (prefix = "t") =>
      `${prefix}-${process.pid}-${++topicCounter}-${Math.random().toString(36).slice(2, 6)}`,
    stop: async () => {
      for (const [key, value] of clusters)
        if ((await value.catch(() => undefined))?.dir === dir) clusters.delete(key);
      await stop(dir);
      liveDirs.delete(dir);
    },
  };
  return cluster;
}

function uniqueDir(parent: string): string {
  return join(
    parent,
    `kpp-kafka-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`,
  );
}

function spawnReaper(dir: string): void {
  const args = [REAPER, String(process.pid), startTime(process.pid) ?? "unknown", dir];
  const reaper = spawn(process.execPath, args, { detached: true, stdio: "ignore" });
  reaper.on("error", () => {});
  reaper.unref();
}

/** Synchronous teardown usable from an exit hook. */
function stopAllSync(): void {
  for (const dir of liveDirs) {
    const marker = clusterMarker(dir);
    const state = readState(dir);
    killWithMarkerSync([...(state?.brokers.map((b) => b.pid) ?? []), ...pidsWithMarker(marker)], marker);
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {}
  }
  liveDirs.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", stopAllSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      stopAllSync();
      process.kill(process.pid, signal);
    });
  }
}
