import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cacheRoot, javaExecutable } from "../maven/resolve.ts";
import { classDataSharing } from "./class-data-sharing.ts";
import { brokerLoggingFlags, toolLoggingFlags } from "./logging.ts";
import { probeMetadata } from "./metadata-probe.ts";
import { commandArguments, isAliveWith, killWithMarker, pidsWithMarker } from "./processes.ts";
import {
  clientProperties,
  createTlsFiles,
  SASL_MECHANISMS,
  SASL_USERS,
  type SaslMechanism,
  saslSslBrokerProperties,
  scramFormatArguments,
} from "./security.ts";
import {
  brokerClasspath,
  DISTRIBUTIONS,
  distribution,
  type KafkaVersion,
  toolsClasspath,
} from "./versions.ts";

export type Security = "plaintext" | "sasl_ssl";
export type { KafkaVersion } from "./versions.ts";

export class ClusterError extends Error {
  override name = "ClusterError";
}

class PortInUseError extends ClusterError {
  override name = "PortInUseError";
}

export interface StartOptions {
  brokers?: number;
  version?: KafkaVersion;
  security?: Security;
  /** Directory holding configs, data, logs and pids; a fresh temp dir when omitted. */
  dir?: string;
  /** Marks every JVM with `-Dkpp.run=<id>` so a test runner can sweep them; defaults to `$KPP_RUN_ID`. */
  runId?: string;
  /**
   * Extra broker properties, applied last. In their values `{port}`, `{controller_port}` and `{id}` stand for
   * the broker's own PLAINTEXT port, controller port and node id (e.g. to add a listener to `listeners`).
   */
  brokerProperties?: Record<string, string>;
  /** JVM flags replacing the default heap/GC flags. */
  jvmOptions?: string[];
  /** Picks `count` ports for an attempt (1-based); free ports by default. Lets tests provoke collisions. */
  choosePorts?: (count: number, attempt: number) => Promise<number[]>;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface BrokerInfo {
  id: number;
  port: number;
  controllerPort: number;
  saslPort?: number;
  /** The TLS listener without SASL (SSL), beside SASL_SSL. */
  tlsPort?: number;
  pid: number;
}

export interface SaslInfo {
  bootstrap: string;
  /** The brokers' SSL listeners (TLS, no SASL), same certificate. */
  tlsBootstrap: string;
  ports: { id: number; port: number }[];
  mechanisms: SaslMechanism[];
  users: { username: string; password: string }[];
  caFile: string;
  /** Java client property files, one per mechanism, authenticating as alice. */
  clientConfigs: Record<SaslMechanism, string>;
}

export interface ClusterInfo {
  bootstrap: string;
  dir: string;
  version: KafkaVersion;
  brokerVersion: string;
  security: Security;
  clusterId: string;
  runId?: string;
  brokers: BrokerInfo[];
  sasl?: SaslInfo;
}

export interface BrokerStatus {
  id: number;
  pid: number;
  alive: boolean;
}

export interface ClusterStatus {
  dir: string;
  running: boolean;
  brokers: BrokerStatus[];
}

interface LaunchCommand {
  java: string;
  args: string[];
}

export const DEFAULT_JVM_OPTIONS = [
  "-Xms128m",
  "-Xmx384m",
  "-XX:+UseSerialGC",
  "-XX:TieredStopAtLevel=1",
  "-XX:+ExitOnOutOfMemoryError",
  "-Djava.awt.headless=true",
];
const TOOL_JVM_OPTIONS = ["-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"];
const STATE_FILE = "cluster.json";
const PORT_ATTEMPTS = 4;

/** `KPP_KAFKA_JVM_OPTS` (space-separated) replaces the default broker heap/GC/JIT flags. */
function jvmOptionsFromEnvironment(): string[] | undefined {
  const text = process.env.KPP_KAFKA_JVM_OPTS?.trim();
  return text ? text.split(/\s+/) : undefined;
}

export function clusterMarker(dir: string): string {
  return `-Dkpp.cluster=${dir}`;
}

export function runMarker(runId: string): string {
  return `-Dkpp.run=${runId}`;
}

/** Starts a KRaft cluster of combined broker+controller JVMs that outlive this process. */
export async function start(options: StartOptions = {}): Promise<ClusterInfo> {
  const brokerCount = options.brokers ?? 1;
  if (!Number.isInteger(brokerCount) || brokerCount < 1 || brokerCount > 9) {
    throw new ClusterError(`--brokers must be between 1 and 9, got ${options.brokers}`);
  }
  const version = options.version ?? "4";
  const dist = distribution(version);
  const security = options.security ?? "plaintext";
  if (security !== "plaintext" && security !== "sasl_ssl") {
    throw new ClusterError(`--security must be plaintext or sasl_ssl, got ${security}`);
  }
  const log = options.log ?? (() => {});
  const dir = options.dir
    ? resolve(options.dir)
    : mkdtempSync(join(process.env.KPP_TEST_TMP ?? tmpdir(), "kpp-kafka-"));
  const previous = readState(dir);
  if (previous?.brokers.some((b) => isAliveWith(b.pid, clusterMarker(dir)))) {
    throw new ClusterError(`a cluster is already running in ${dir}; stop it first`);
  }
  mkdirSync(dir, { recursive: true });
  const runId = options.runId ?? process.env.KPP_RUN_ID;
  const java = javaExecutable();
  const classpath = (await brokerClasspath(version, { log })).join(":");
  const tls = security === "sasl_ssl" ? await createTlsFiles(join(dir, "tls")) : undefined;
  const clusterId = newClusterId();
  const timeoutMs = options.timeoutMs ?? 180_000;

  for (let attempt = 1; ; attempt++) {
    const perBroker = tls ? 4 : 2;
    const ports = await (options.choosePorts ?? freePorts)(brokerCount * perBroker, attempt);
    const brokers: BrokerInfo[] = Array.from({ length: brokerCount }, (_, i) => ({
      id: i + 1,
      port: ports[i * perBroker]!,
      controllerPort: ports[i * perBroker + 1]!,
      ...(tls ? { saslPort: ports[i * perBroker + 2]!, tlsPort: ports[i * perBroker + 3]! } : {}),
      pid: 0,
    }));
    const info: ClusterInfo = {
      bootstrap: brokers.map((b) => `127.0.0.1:${b.port}`).join(","),
      dir,
      version,
      brokerVersion: dist.brokerVersion,
      security,
      clusterId,
      ...(runId ? { runId } : {}),
      brokers,
      ...(tls ? { sasl: saslInfo(dir, brokers, tls.caFile) } : {}),
    };
    const children = new Map<number, ChildProcess>();
    try {
      const startedAt = Date.now();
      await Promise.all(
        brokers.map(async (broker) => {
          const brokerDir = join(dir, `broker-${broker.id}`);
          rmSync(brokerDir, { recursive: true, force: true });
          mkdirSync(brokerDir, { recursive: true });
          const propertiesFile = join(brokerDir, "server.properties");
          writeFileSync(propertiesFile, propertiesText(brokerProperties(info, broker, options, tls)));
          await formatStorage(
            java,
            classpath,
            version,
            dir,
            propertiesFile,
            clusterId,
            tls !== undefined,
            runId,
          );
        }),
      );
      log(`formatted ${brokerCount} node(s) in ${Date.now() - startedAt} ms`);
      for (const broker of brokers) {
        const brokerDir = join(dir, `broker-${broker.id}`);
        const command: LaunchCommand = {
          java,
          args: [
            ...(options.jvmOptions ?? jvmOptionsFromEnvironment() ?? DEFAULT_JVM_OPTIONS),
            clusterMarker(dir),
            ...(runId ? [runMarker(runId)] : []),
            `-Dkpp.broker=${broker.id}`,
            ...brokerLoggingFlags(dist.logging, brokerDir, brokerDir),
            "-cp",
            classpath,
            "kafka.Kafka",
            join(brokerDir, "server.properties"),
          ],
        };
        writeFileSync(join(brokerDir, "launch.json"), JSON.stringify(command, null, 1));
        const child = launch(command, brokerDir);
        children.set(broker.id, child);
        broker.pid = child.pid ?? 0;
      }
      writeState(info);
      await waitUntilReady(info, timeoutMs, children);
      log(`cluster of ${brokerCount} ready in ${Date.now() - startedAt} ms`);
      return info;
    } catch (error) {
      await killWithMarker(
        brokers.map((b) => b.pid),
        clusterMarker(dir),
      );
      if (error instanceof PortInUseError && attempt < PORT_ATTEMPTS) {
        log(`${error.message}; retrying with other ports (attempt ${attempt + 1}/${PORT_ATTEMPTS})`);
        continue;
      }
      throw error;
    }
  }
}

function saslInfo(dir: string, brokers: BrokerInfo[], caFile: string): SaslInfo {
  const clientConfigs = {} as Record<SaslMechanism, string>;
  for (const mechanism of SASL_MECHANISMS) {
    const file = join(dir, "tls", `client-${mechanism.toLowerCase()}.properties`);
    writeFileSync(file, clientProperties(mechanism, caFile, "alice", SASL_USERS.alice!));
    clientConfigs[mechanism] = file;
  }
  return {
    bootstrap: brokers.map((b) => `127.0.0.1:${b.saslPort}`).join(","),
    tlsBootstrap: brokers.map((b) => `127.0.0.1:${b.tlsPort}`).join(","),
    ports: brokers.map((b) => ({ id: b.id, port: b.saslPort! })),
    mechanisms: [...SASL_MECHANISMS],
    users: Object.entries(SASL_USERS).map(([username, password]) => ({ username, password })),
    caFile,
    clientConfigs,
  };
}

function brokerProperties(
  info: ClusterInfo,
  broker: BrokerInfo,
  options: StartOptions,
  tls: { caFile: string; keystoreFile: string } | undefined,
): Record<string, string> {
  const count = info.brokers.length;
  const replication = String(Math.min(count, 3));
  const minIsr = count >= 3 ? "2" : "1";
  const listeners = [
    `PLAINTEXT://127.0.0.1:${broker.port}`,
    `CONTROLLER://127.0.0.1:${broker.controllerPort}`,
  ];
  const advertised = [`PLAINTEXT://127.0.0.1:${broker.port}`];
  if (broker.saslPort) {
    listeners.push(`SASL_SSL://127.0.0.1:${broker.saslPort}`, `SSL://127.0.0.1:${broker.tlsPort}`);
    advertised.push(`SASL_SSL://127.0.0.1:${broker.saslPort}`, `SSL://127.0.0.1:${broker.tlsPort}`);
  }
  const properties: Record<string, string> = {
    "process.roles": "broker,controller",
    "node.id": String(broker.id),
    "controller.quorum.voters": info.brokers.map((b) => `${b.id}@127.0.0.1:${b.controllerPort}`).join(","),
    listeners: listeners.join(","),
    "advertised.listeners": advertised.join(","),
    "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "log.dirs": join(info.dir, `broker-${broker.id}`, "data"),
    "num.partitions": "1",
    "offsets.topic.replication.factor": replication,
    "transaction.state.log.replication.factor": replication,
    "transaction.state.log.min.isr": minIsr,
    "group.initial.rebalance.delay.ms": "0",
    "log.segment.bytes": String(16 * 1024 * 1024),
    "log.index.size.max.bytes": String(1024 * 1024),
    "log.retention.hours": "24",
    "metadata.log.segment.bytes": String(8 * 1024 * 1024),
    "num.recovery.threads.per.data.dir": "1",
  };
  if (info.version !== "3.9") {
    properties["share.coordinator.state.topic.replication.factor"] = replication;
    properties["share.coordinator.state.topic.min.isr"] = minIsr;
  }
  if (tls) Object.assign(properties, saslSslBrokerProperties(tls));
  return { ...properties, ...brokerPlaceholders(options.brokerProperties ?? {}, broker) };
}

/** Substitutes `{port}`, `{controller_port}` and `{id}` in extra broker property values. */
function brokerPlaceholders(extra: Record<string, string>, broker: BrokerInfo): Record<string, string> {
  return Object.fromEntries(
    Object.entries(extra).map(([key, value]) => [
      key,
      value
        .replaceAll("{port}", String(broker.port))
        .replaceAll("{controller_port}", String(broker.controllerPort))
        .replaceAll("{id}", String(broker.id)),
    ]),
  );
}

function propertiesText(properties: Record<string, string>): string {
  const escapeValue = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
  return `${Object.entries(properties)
    .map(([key, value]) => `${key}=${escapeValue(value)}`)
    .join("\n")}\n`;
}

function formatStorage(
  java: string,
  classpath: string,
  version: KafkaVersion,
  dir: string,
  propertiesFile: string,
  clusterId: string,
  withScram: boolean,
  runId: string | undefined,
): Promise<void> {
  const sharing = classDataSharing(java, classpath, "kafka.tools.StorageTool");
  const args = [
    ...TOOL_JVM_OPTIONS,
    ...sharing.flags,
    ...(runId ? [runMarker(runId)] : []),
    ...toolLoggingFlags(DISTRIBUTIONS[version].logging, join(dir, "tools")),
    "-cp",
    classpath,
    "kafka.tools.StorageTool",
    "format",
    "-t",
    clusterId,
    "-c",
    propertiesFile,
    ...(withScram ? scramFormatArguments() : []),
  ];
  return new Promise((resolvePromise, reject) => {
    execFile(java, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      sharing.finish(error ? 1 : 0);
      if (error) {
        const detail = `${stderr}\n${stdout}`.trim().split("\n").slice(-3).join(" | ");
        reject(new ClusterError(`formatting ${propertiesFile} failed: ${detail || error.message}`));
        return;
      }
      resolvePromise();
    });
  });
}

function launch(command: LaunchCommand, brokerDir: string): ChildProcess {
  const output = openSync(join(brokerDir, "stdout.log"), "a");
  try {
    const child = spawn(command.java, command.args, { detached: true, stdio: ["ignore", output, output] });
    child.on("error", () => {});
    child.unref();
    return child;
  } finally {
    closeSync(output);
  }
}

async function waitUntilReady(
  info: ClusterInfo,
  timeoutMs: number,
  children: Map<number, ChildProcess>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const expected = info.brokers.length;
  const pending = new Set(info.brokers.map((b) => b.id));
  let lastProblem = "no answer yet";
  while (pending.size > 0) {
    for (const broker of info.brokers) {
      const child = children.get(broker.id);
      const exited = child ? child.exitCode !== null || child.signalCode !== null : false;
      if (exited || (!child && !isAliveWith(broker.pid, clusterMarker(info.dir)))) {
        throw brokerDied(info.dir, broker.id);
      }
    }
    for (const id of [...pending]) {
      const broker = info.brokers.find((b) => b.id === id)!;
      try {
        const metadata = await probeMetadata("127.0.0.1", broker.port, 2000);
        if (metadata.clusterId !== info.clusterId) {
          lastProblem = `port ${broker.port} answers for cluster ${metadata.clusterId}, not ${info.clusterId}`;
        } else if (
          info.brokers.every((b) => metadata.brokers.some((m) => m.id === b.id && m.port === b.port))
        ) {
          pending.delete(id);
        } else {
          lastProblem = `broker ${id} sees ${metadata.brokers.length}/${expected} brokers`;
        }
      } catch (error) {
        lastProblem = `broker ${id}: ${(error as Error).message}`;
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new ClusterError(
        `cluster in ${info.dir} not ready after ${timeoutMs} ms (${lastProblem}); logs: ${info.dir}/broker-*/server.log`,
      );
    }
    await sleep(200);
  }
}

function brokerDied(dir: string, id: number): ClusterError {
  const brokerDir = join(dir, `broker-${id}`);
  const text = ["stdout.log", "server.log"]
    .map((name) => {
      try {
        return readFileSync(join(brokerDir, name), "utf8");
      } catch {
        return "";
      }
    })
    .join("\n");
  if (/Address already in use|BindException/.test(text)) {
    return new PortInUseError(`broker ${id} could not bind its port`);
  }
  const lastError =
    text
      .split("\n")
      .filter((line) => /ERROR|Exception|Error:/.test(line))
      .slice(-2)
      .join(" | ") || "no error in logs";
  return new ClusterError(`broker ${id} exited during startup: ${lastError} (logs: ${brokerDir})`);
}

/** Ports free on 127.0.0.1 right now, all distinct. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolvePromise, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolvePromise(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

export function readState(dir: string): ClusterInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(resolve(dir), STATE_FILE), "utf8")) as ClusterInfo;
  } catch {
    return undefined;
  }
}

function requireState(dir: string): ClusterInfo {
  const state = readState(dir);
  if (!state) throw new ClusterError(`no cluster in ${resolve(dir)} (missing ${STATE_FILE})`);
  return state;
}

function writeState(info: ClusterInfo): void {
  const file = join(info.dir, STATE_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 1));
  renameSync(`${file}.tmp`, file);
}

/** Kills the cluster's JVMs (only those whose command line names its dir) and deletes its directory. */
export async function stop(dir: string, options: { keepData?: boolean } = {}): Promise<void> {
  const absolute = resolve(dir);
  const state = readState(absolute);
  const marker = clusterMarker(absolute);
  const pids = new Set([...(state?.brokers.map((b) => b.pid) ?? []), ...pidsWithMarker(marker)]);
  await killWithMarker([...pids], marker);
  if (!options.keepData && (state || existsSync(join(absolute, "broker-1")))) {
    rmSync(absolute, { recursive: true, force: true, maxRetries: 3 });
  }
}

export function status(dir: string): ClusterStatus {
  const state = requireState(dir);
  const marker = clusterMarker(state.dir);
  const brokers = state.brokers.map((b) => ({ id: b.id, pid: b.pid, alive: isAliveWith(b.pid, marker) }));
  return { dir: state.dir, running: brokers.some((b) => b.alive), brokers };
}

/** Kills one broker (SIGKILL by default, SIGTERM for a controlled shutdown) and waits for it to exit. */
export async function killBroker(dir: string, id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  const state = requireState(dir);
  const broker = state.brokers.find((b) => b.id === id);
  if (!broker) throw new ClusterError(`no broker ${id} in ${state.dir}`);
  const pids = pidsWithMarker(clusterMarker(state.dir)).filter((pid) =>
    commandArguments(pid)?.includes(`-Dkpp.broker=${id}`),
  );
  await killWithMarker([broker.pid, ...pids], clusterMarker(state.dir), signal, 30_000);
}

/** Starts a broker again on its old ports (killing it first if alive) and waits until the cluster sees it. */
export async function restartBroker(
  dir: string,
  id: number,
  options: { timeoutMs?: number } = {},
): Promise<void> {
  const state = requireState(dir);
  const broker = state.brokers.find((b) => b.id === id);
  if (!broker) throw new ClusterError(`no broker ${id} in ${state.dir}`);
  if (isAliveWith(broker.pid, clusterMarker(state.dir))) await killBroker(dir, id);
  const brokerDir = join(state.dir, `broker-${id}`);
  const command = JSON.parse(readFileSync(join(brokerDir, "launch.json"), "utf8")) as LaunchCommand;
  const child = launch(command, brokerDir);
  broker.pid = child.pid ?? 0;
  writeState(state);
  await waitUntilReadyTolerant(state, options.timeoutMs ?? 120_000, child, broker);
}

async function waitUntilReadyTolerant(
  state: ClusterInfo,
  timeoutMs: number,
  child: ChildProcess,
  broker: BrokerInfo,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "no answer yet";
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw brokerDied(state.dir, broker.id);
    try {
      const metadata = await probeMetadata("127.0.0.1", broker.port, 2000);
      if (metadata.clusterId === state.clusterId && metadata.brokers.some((b) => b.id === broker.id)) return;
      lastProblem = `broker ${broker.id} not yet registered`;
    } catch (error) {
      lastProblem = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new ClusterError(`broker ${broker.id} not back after ${timeoutMs} ms (${lastProblem})`);
    }
    await sleep(200);
  }
}

export interface ToolOptions {
  /** A cluster dir: gives the bootstrap servers and the Kafka version. */
  dir?: string;
  bootstrap?: string;
  version?: KafkaVersion;
  /** Text written to the tool's stdin (then closed). */
  input?: string | Buffer;
  timeoutMs?: number;
  /** "inherit" passes stdin/stdout/stderr through (the CLI does this). */
  stdio?: "pipe" | "inherit";
  jvmOptions?: string[];
  runId?: string;
}

export interface ToolResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function toolNames(version: KafkaVersion = "4"): string[] {
  return Object.keys(DISTRIBUTIONS[version].mainClasses);
}

/**
 * Runs one of Kafka's CLI tools (by script name, e.g. "kafka-topics", or a fully-qualified main class).
 * `{bootstrap}`, `{sasl_bootstrap}` and `{dir}` in arguments are replaced by the cluster's values.
 */
export async function tool(name: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  const state = options.dir ? requireState(options.dir) : undefined;
  const version = options.version ?? state?.version ?? "4";
  const dist = distribution(version);
  const mainClass =
    dist.mainClasses[name] ?? (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+$/.test(name) ? name : undefined);
  if (!mainClass) {
    throw new ClusterError(
      `unknown tool "${name}" (known: ${toolNames(version).join(", ")}, or a main class)`,
    );
  }
  const bootstrap = options.bootstrap ?? state?.bootstrap;
  const substituted = args.map((arg) =>
    arg
      .replaceAll("{bootstrap}", bootstrap ?? "")
      .replaceAll("{sasl_bootstrap}", state?.sasl?.bootstrap ?? "")
      .replaceAll("{dir}", state?.dir ?? ""),
  );
  const hasBootstrap = substituted.some((a) => /^--(bootstrap-servers?|broker-list)(=|$)/.test(a));
  const wantsHelp = substituted.some((a) => a === "--help" || a === "--version");
  if (bootstrap && dist.bootstrapFlagTools.includes(name) && !hasBootstrap && !wantsHelp) {
    substituted.unshift("--bootstrap-server", bootstrap);
  }
  const classpath = (await toolsClasspath(version)).join(":");
  const runId = options.runId ?? state?.runId ?? process.env.KPP_RUN_ID;
  const java = javaExecutable();
  const sharing = classDataSharing(java, classpath, mainClass);
  const javaArgs = [
    ...(options.jvmOptions ?? TOOL_JVM_OPTIONS),
    ...sharing.flags,
    ...(runId ? [runMarker(runId)] : []),
    "-Dkpp.tool=1",
    ...toolLoggingFlags(dist.logging, join(cacheRoot(), "logging", version)),
    "-cp",
    classpath,
    mainClass,
    ...substituted,
  ];
  const timeoutMs = options.timeoutMs ?? 180_000;
  return new Promise((resolvePromise, reject) => {
    const inherit = options.stdio === "inherit";
    const child = spawn(java, javaArgs, {
      stdio: inherit ? "inherit" : [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    if (options.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {});
      child.stdin.end(options.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      sharing.finish(null);
      reject(error);
    });
    child.on("close", (exitCode, signal) => {
      clearTimeout(timer);
      sharing.finish(exitCode);
      resolvePromise({
        exitCode,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        timedOut,
      });
    });
  });
}

/** A random Kafka cluster id; one that starts with "-" would be read as an option by the storage tool. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString("base64url");
    if (!id.startsWith("-")) return id;
  }
}
