/**
 * Real Kafka clusters for integration tests.
 *
 *   const kafka = await useKafkaCluster({ brokers: 3 });
 *   const topic = kafka.uniqueTopic("orders");
 *   await kafka.tool("kafka-topics", ["--create", "--topic", topic, "--replication-factor", "3"]);
 *
 * Under `npm test` (scripts/test/run.ts sets KPP_SHARED_KAFKA_DIR) clusters are shared by the run's test files:
 * the first file asking for a set of options starts that cluster in the shared dir, later files asking for the
 * same options reuse it while all its brokers answer (a dead or half-started one is replaced), and it runs until
 * the run ends, when the runner stops it. A mkdir lock per cluster keeps concurrent files from starting two. Tests
 * on a shared cluster cannot kill, restart or stop brokers (those calls throw); a file that must, or that changes
 * broker-wide state or asserts on cluster-wide listings, asks for `exclusive: true`.
 *
 * An exclusive cluster, and every cluster outside `npm test` (a file run by hand with `node --test`), belongs to
 * its test process (= test file): one per distinct options, started on first use and torn down when the process
 * exits, however it exits: an exit hook kills the JVMs, and a detached reaper process (watching from before the
 * first JVM starts) does it if this process is killed outright. `npm test` additionally sweeps every JVM carrying
 * the run's `-Dkpp.run=<id>` marker when the run ends.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
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
import { probeMetadata } from "../../scripts/kafka/metadata-probe.ts";
import { isAliveWith, killWithMarkerSync, pidsWithMarker, startTime } from "../../scripts/kafka/processes.ts";
import { spawnReaper } from "../../scripts/kafka/reaper.ts";

export type { ClusterInfo, KafkaVersion, Security, ToolResult } from "../../scripts/kafka/cluster.ts";

export interface KafkaClusterOptions {
  brokers?: number;
  version?: KafkaVersion;
  security?: Security;
  /** Extra broker properties (part of the cache key); `{port}` and the like in values: see StartOptions. */
  brokerProperties?: Record<string, string>;
  /**
   * A cluster of this test file's own instead of one shared with the run's other files: needed to kill, restart
   * or stop brokers, to change broker-wide or cluster-wide settings, or to assert on cluster-wide listings.
   */
  exclusive?: boolean;
}

export interface KafkaTestCluster extends ClusterInfo {
  /** Whether other test files of the run use this cluster too; then `killBroker`, `restartBroker` and `stop` throw. */
  shared: boolean;
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

type ClusterOptions = Required<Omit<KafkaClusterOptions, "exclusive">>;

/** Set by scripts/test/run.ts: the directory holding the clusters the run's test files share. */
export const SHARED_KAFKA_DIR_VARIABLE = "KPP_SHARED_KAFKA_DIR";
const READY_FILE = "shared-ready";
const LOCK_WAIT_MS = 300_000;
const LOCK_OWNER_FILE = "owner";

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
  } satisfies ClusterOptions;
  const sharedRoot = options.exclusive ? undefined : sharedClustersDir();
  const key = JSON.stringify({ ...normalized, shared: sharedRoot !== undefined });
  let cluster = clusters.get(key);
  if (!cluster) {
    cluster = sharedRoot ? useSharedCluster(normalized, sharedRoot) : startOwnCluster(normalized);
    clusters.set(key, cluster);
    cluster.catch(() => clusters.delete(key));
  }
  return cluster;
}

/** The run's shared cluster dir; undefined outside `npm test`, or when the run that made it has ended. */
function sharedClustersDir(): string | undefined {
  const dir = process.env[SHARED_KAFKA_DIR_VARIABLE];
  return dir && existsSync(dir) ? resolve(dir) : undefined;
}

async function startOwnCluster(options: ClusterOptions): Promise<KafkaTestCluster> {
  installExitHooks();
  const dir = uniqueDir(process.env.KPP_TEST_TMP ?? tmpdir());
  liveDirs.add(dir);
  spawnReaper(dir);
  const info = await start({ ...options, dir, log: harnessLog() });
  return testCluster(info, false);
}

/** Reuses the run's running cluster with these options, or starts it (left running when this process ends). */
async function useSharedCluster(options: ClusterOptions, root: string): Promise<KafkaTestCluster> {
  const dir = join(root, sharedClusterName(options));
  const release = await acquireLock(`${dir}.lock`);
  try {
    const running = await healthySharedCluster(dir);
    if (running) return testCluster(running, true);
    // Whatever is there is dead, half-started or failed to start: it goes, and a fresh cluster takes its place.
    await stop(dir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    try {
      const info = await start({ ...options, dir, log: harnessLog() });
      writeFileSync(join(dir, READY_FILE), `${process.pid}\n`);
      return testCluster(info, true);
    } catch (error) {
      await stop(dir).catch(() => {});
      throw error;
    }
  } finally {
    release();
  }
}

function sharedClusterName(options: ClusterOptions): string {
  const digest = createHash("sha256").update(JSON.stringify(options)).digest("hex").slice(0, 12);
  return `kafka-${options.version}-${options.brokers}b-${options.security}-${digest}`;
}

/** The cluster in `dir` when it finished starting and every broker is alive and answers for it. */
async function healthySharedCluster(dir: string): Promise<ClusterInfo | undefined> {
  if (!existsSync(join(dir, READY_FILE))) return undefined;
  const state = readState(dir);
  if (!state) return undefined;
  const marker = clusterMarker(dir);
  if (!state.brokers.every((broker) => isAliveWith(broker.pid, marker))) return undefined;
  try {
    const answers = await Promise.all(
      state.brokers.map((broker) => probeMetadata("127.0.0.1", broker.port, 5000)),
    );
    return answers.every((metadata) => metadata.clusterId === state.clusterId) ? state : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An atomic lock (mkdir) naming its owner (pid + kernel start time); a lock whose owner is gone is broken.
 * Returns the release function.
 */
async function acquireLock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, LOCK_OWNER_FILE), `${process.pid} ${startTime(process.pid) ?? "unknown"}`);
      return () => rmSync(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (lockOwnerGone(path)) {
      breakLock(path);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`waited ${LOCK_WAIT_MS} ms for the shared cluster lock ${path} (${lockOwner(path)})`);
    }
    await sleep(200);
  }
}

function lockOwner(path: string): string {
  try {
    return `held by ${readFileSync(join(path, LOCK_OWNER_FILE), "utf8")}`;
  } catch {
    return "owner unknown";
  }
}

function lockOwnerGone(path: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(path, LOCK_OWNER_FILE), "utf8");
  } catch {
    // Between mkdir and writing the owner, or its owner died right there: give it a few seconds.
    try {
      return Date.now() - statSync(path).mtimeMs > 10_000;
    } catch {
      return false;
    }
  }
  const [pid, started] = text.split(" ");
  return startTime(Number(pid)) !== started;
}

function breakLock(path: string): void {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else broke it first
  }
  rmSync(aside, { recursive: true, force: true });
}

function harnessLog(): (line: string) => void {
  return process.env.KPP_HARNESS_DEBUG ? (line) => process.stderr.write(`[kafka] ${line}\n`) : () => {};
}

function sharedRefusal(dir: string, what: string): Promise<never> {
  return Promise.reject(
    new Error(
      `${what} on the Kafka cluster in ${dir}, which other test files of this run share: ` +
        "pass exclusive: true to useKafkaCluster() to get a cluster of this file's own",
    ),
  );
}

function testCluster(info: ClusterInfo, shared: boolean): KafkaTestCluster {
  const { dir } = info;
  const cluster: KafkaTestCluster = {
    ...info,
    shared,
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
    killBroker: (id, signal) =>
      shared ? sharedRefusal(dir, `killBroker(${id})`) : killBroker(dir, id, signal),
    restartBroker: async (id) => {
      if (shared) return sharedRefusal(dir, `restartBroker(${id})`);
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
      if (shared) return sharedRefusal(dir, "stop()");
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
