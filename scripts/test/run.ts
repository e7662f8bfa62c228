/**
 * Test runner behind `npm test`: installs what the tests need (scripts/test/setup.ts; not for unit and fuzz
 * tests alone), runs `node --test` with a run id, then kills every process the run left behind (JVMs carry
 * `-Dkpp.run=<id>`) and removes the run's temp dir, also on Ctrl-C, failures and timeouts.
 *
 * Kafka clusters are shared by the run's test files (test/helpers/kafka.ts): they live in the dir named by
 * KPP_SHARED_KAFKA_DIR (inside the run's temp dir) and outlive the files that started them; the runner stops them
 * when the run ends, and a detached reaper does it if the runner itself is killed outright.
 *
 * Files run one at a time (they start JVMs; the CI machine has 2 cores) except for unit-only runs.
 *
 * usage: node scripts/test/run.ts [--unit | --integration] [node --test flags] [files or globs...]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { clusterMarker } from "../kafka/cluster.ts";
import { killWithMarker, pidsMentioning, pidsWithMarker } from "../kafka/processes.ts";
import { spawnReaper } from "../kafka/reaper.ts";
import { CLIENTS_VENV, ROOT, setUp, venvReady } from "./setup.ts";

const UNIT = "test/unit/**/*.test.ts";
const INTEGRATION = "test/integration/**/*.test.ts";
const FUZZ = "test/fuzz/**/*.test.ts";
const COMPAT = "test/compat/**/*.test.ts";
/** Below CI's own limit (90 minutes), so that a run that overruns still ends with its summary. */
const DEFAULT_RUN_TIMEOUT_MS = 80 * 60_000;
const DEFAULT_TEST_TIMEOUT_MS = 10 * 60_000;
const SHUTDOWN_GRACE_MS = 10_000;
const KAFKAJS_REQUEST_QUEUE = pathToFileURL(join(ROOT, "test/helpers/kafkajs-request-queue.ts")).href;

function plan(argv: string[]): { patterns: string[]; flags: string[] } {
  const flags: string[] = [];
  const patterns: string[] = [];
  for (const arg of argv) {
    if (arg === "--unit") patterns.push(UNIT);
    else if (arg === "--integration") patterns.push(INTEGRATION, COMPAT);
    else if (arg.startsWith("-")) flags.push(arg);
    else patterns.push(arg);
  }
  if (patterns.length === 0) patterns.push(UNIT, FUZZ, INTEGRATION, COMPAT);
  return { patterns, flags };
}

async function main(): Promise<number> {
  const { patterns, flags } = plan(process.argv.slice(2));
  const runId = `${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const onlyUnit = patterns.every((p) => p.startsWith("test/unit/"));
  const needsClients = !patterns.every((p) => p.startsWith("test/unit/") || p.startsWith("test/fuzz/"));
  const env: NodeJS.ProcessEnv = { ...process.env, KPP_RUN_ID: runId };
  delete env.NODE_TEST_CONTEXT;
  if (needsClients) await setUpClients(env);
  const runTmp = join(tmpdir(), `kpp-test-${runId}`);
  mkdirSync(runTmp, { recursive: true });
  env.KPP_TEST_TMP = runTmp;
  const sharedKafkaDir = join(runTmp, "shared-kafka");
  mkdirSync(sharedKafkaDir);
  env.KPP_SHARED_KAFKA_DIR = sharedKafkaDir;
  spawnReaper(sharedKafkaDir, { clustersUnder: true });
  const concurrency = onlyUnit ? Math.max(1, availableParallelism()) : 1;
  const args = [
    ...(needsClients ? ["--import", KAFKAJS_REQUEST_QUEUE] : []),
    "--test",
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${process.env.KPP_TEST_TIMEOUT_MS ?? DEFAULT_TEST_TIMEOUT_MS}`,
    ...flags,
    ...patterns,
  ];
  const child = spawn(process.execPath, args, { stdio: "inherit", env });

  let interrupted: NodeJS.Signals | undefined;
  const forward = (signal: NodeJS.Signals) => {
    interrupted = signal;
    child.kill(signal);
    setTimeout(() => child.kill("SIGKILL"), SHUTDOWN_GRACE_MS).unref();
  };
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  process.on("SIGHUP", forward);
  const runTimeoutMs = Number(process.env.KPP_RUN_TIMEOUT_MS ?? DEFAULT_RUN_TIMEOUT_MS);
  const runTimer = setTimeout(() => {
    process.stderr.write(`test run exceeded ${runTimeoutMs} ms; stopping it\n`);
    forward("SIGTERM");
  }, runTimeoutMs);

  const exitCode = await new Promise<number>((resolve) => {
    child.on("error", (error) => {
      process.stderr.write(`could not start node --test: ${error.message}\n`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  });
  clearTimeout(runTimer);
  await stopSharedClusters(sharedKafkaDir);
  await sweep(runId);
  rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
  if (interrupted) return 128 + signalNumber(interrupted);
  return exitCode;
}

/**
 * Installs the clients and jars the tests use, tells the tests so (KPP_TEST_SET_UP) and points them at the Python
 * venv: through KPP_PYTHON, and first on PATH for scripts that run a bare `python3`.
 */
async function setUpClients(env: NodeJS.ProcessEnv): Promise<void> {
  const { problems, ms } = await setUp();
  const outcome =
    problems.length === 0 ? "ready" : `${problems.length} problem(s) above; the tests needing them will fail`;
  process.stderr.write(`test set-up: ${outcome} (${Math.round(ms)} ms)\n`);
  env.KPP_TEST_SET_UP = "1";
  if (!env.KPP_PYTHON && venvReady(CLIENTS_VENV)) {
    env.KPP_PYTHON = CLIENTS_VENV.python;
    env.PATH = `${dirname(CLIENTS_VENV.python)}${delimiter}${env.PATH ?? ""}`;
  }
}

/** Stops every cluster the run's test files shared (JVMs marked `-Dkpp.cluster=<dir>/...`) and removes the dir. */
async function stopSharedClusters(dir: string): Promise<void> {
  const marker = `${clusterMarker(dir)}/`;
  await killWithMarker(pidsMentioning(marker), marker, "SIGKILL", 10_000, true);
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Kills whatever the run left: JVMs (marked `-Dkpp.run=<id>`) and harness reapers watching its dirs. */
async function sweep(runId: string): Promise<void> {
  const marker = `-Dkpp.run=${runId}`;
  const leftovers = pidsWithMarker(marker);
  if (leftovers.length > 0) {
    process.stderr.write(`stopping ${leftovers.length} process(es) left by test run ${runId}\n`);
    await killWithMarker(leftovers, marker);
  }
  const runDir = `kpp-test-${runId}`;
  await killWithMarker(pidsMentioning(runDir), runDir, "SIGKILL", 10_000, true);
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 1;
}

process.exitCode = await main();
