/**
 * Installs what the integration and compatibility tests need, each part only when it is missing:
 *
 *   python  a venv in .cache/python/ with confluent-kafka from PyPI, for the librdkafka drivers
 *           (not needed when KPP_PYTHON names an interpreter; it is then only checked)
 *   go      the franz-go driver's modules (`go mod download` into Go's module cache)
 *   maven   the Kafka broker and tools jars (into ~/.m2, as `npm run kafka -- warm` does)
 *   kcat    Debian's kcat, with apt-get when running as root
 *
 * Each part leaves a record of what it installed, so on a prepared machine the set-up costs a few file reads.
 * A part that cannot be installed prints one line naming what is missing, and the tests that need it fail.
 * Concurrent set-ups (two test runs, or test files run on their own) take turns through a lock in .cache/.
 *
 * usage: node scripts/test/setup.ts [python] [go] [maven] [kcat]
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { brokerClasspath, KAFKA_VERSIONS, toolsClasspath } from "../kafka/versions.ts";
import { findExecutable, MissingPrerequisiteError } from "../maven/resolve.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CACHE = join(ROOT, ".cache");
const LOCK = join(CACHE, "test-setup.lock");
const INSTALL_TIMEOUT_MS = 15 * 60_000;

export type Part = "python" | "go" | "maven" | "kcat";
export const PARTS: readonly Part[] = ["python", "go", "maven", "kcat"];

/** A part that could not be installed; the message is one line saying what is missing and how to get it. */
export class SetupProblem extends Error {
  override name = "SetupProblem";
}

interface Venv {
  dir: string;
  python: string;
  requirements: string[];
}

function venv(name: string, requirements: string[]): Venv {
  const dir = join(CACHE, "python", name);
  return { dir, python: join(dir, "bin", "python"), requirements };
}

const CONFLUENT_KAFKA_VERSION = "2.16.2";
/** The librdkafka drivers' interpreter: confluent-kafka's manylinux wheel bundles librdkafka. */
export const CLIENTS_VENV = venv(`confluent-kafka-${CONFLUENT_KAFKA_VERSION}`, [
  `confluent-kafka==${CONFLUENT_KAFKA_VERSION}`,
]);
const VENVS = [CLIENTS_VENV];

interface VenvRecord {
  requirements: string[];
  installed: Record<string, string>;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

const venvRecordFile = (v: Venv) => join(v.dir, "kpp-installed.json");

export function venvReady(v: Venv): boolean {
  const record = readJson<VenvRecord>(venvRecordFile(v));
  return existsSync(v.python) && JSON.stringify(record?.requirements) === JSON.stringify(v.requirements);
}

const FRANZ = join(ROOT, "test", "compat", "franz");
const GO_RECORD = join(CACHE, "go", "franz-modules.json");

interface GoRecord {
  sums: string;
  modcache: string;
}

function franzSums(): string {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(FRANZ, file)));
  return hash.digest("hex");
}

function goReady(): boolean {
  if (!existsSync(join(FRANZ, "go.mod"))) return true;
  const record = readJson<GoRecord>(GO_RECORD);
  return record?.sums === franzSums() && existsSync(record.modcache);
}

export function kcatCommand(): string {
  return process.env.KPP_KCAT ?? "kcat";
}

export function kcatReady(): boolean {
  return findExecutable(kcatCommand()) !== undefined;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<RunResult>((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The last lines of a failed command's output, for the one-line problem report. */
function tail(result: RunResult): string {
  const lines = `${result.stdout}\n${result.stderr}`.trim().split("\n").filter(Boolean);
  return lines.slice(-3).join(" | ");
}

const isRoot = () => process.getuid?.() === 0;
let aptUpdated = false;

/** Installs Debian packages when running as root; otherwise a SetupProblem names them. */
async function aptInstall(packages: string[], why: string): Promise<void> {
  const command = `apt-get install ${packages.join(" ")}`;
  if (!isRoot() || !findExecutable("apt-get")) {
    throw new SetupProblem(`${why}: install Debian's ${packages.join(", ")} (\`sudo ${command}\`)`);
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const lockWait = ["-o", "DPkg::Lock::Timeout=300"];
  if (!aptUpdated) {
    const update = await run("apt-get", ["update", "-qq", ...lockWait], { env });
    if (update.code !== 0) throw new SetupProblem(`${why}: apt-get update failed: ${tail(update)}`);
    aptUpdated = true;
  }
  const install = await run(
    "apt-get",
    ["install", "-y", "-qq", "--no-install-recommends", ...lockWait, ...packages],
    { env },
  );
  if (install.code !== 0) throw new SetupProblem(`${why}: \`${command}\` failed: ${tail(install)}`);
}

async function createVenv(v: Venv): Promise<void> {
  const why = "the librdkafka tests need Python 3 with venv";
  if (!findExecutable("python3")) await aptInstall(["python3", "python3-venv"], why);
  rmSync(v.dir, { recursive: true, force: true });
  mkdirSync(dirname(v.dir), { recursive: true });
  let created = await run("python3", ["-m", "venv", v.dir]);
  if (created.code !== 0 && /ensurepip|python3-venv/.test(created.stdout + created.stderr)) {
    await aptInstall(["python3-venv"], why);
    rmSync(v.dir, { recursive: true, force: true });
    created = await run("python3", ["-m", "venv", v.dir]);
  }
  if (created.code !== 0) throw new SetupProblem(`${why}: python3 -m venv failed: ${tail(created)}`);
}

const REPORT_VERSIONS =
  "import json, importlib.metadata, confluent_kafka; print(json.dumps({'confluent-kafka': " +
  "importlib.metadata.version('confluent-kafka'), 'librdkafka': confluent_kafka.libversion()[0]}))";

async function installVenv(v: Venv): Promise<string> {
  await createVenv(v);
  const pip = await run(v.python, [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--no-input",
    "--quiet",
    "--only-binary=:all:",
    ...v.requirements,
  ]);
  if (pip.code !== 0) {
    throw new SetupProblem(`pip could not install ${v.requirements.join(" ")}: ${tail(pip)}`);
  }
  const versions = await run(v.python, ["-c", REPORT_VERSIONS]);
  if (versions.code !== 0) throw new SetupProblem(`confluent-kafka does not import: ${tail(versions)}`);
  const installed = JSON.parse(versions.stdout.trim()) as Record<string, string>;
  writeFileSync(
    venvRecordFile(v),
    `${JSON.stringify({ requirements: v.requirements, installed }, null, 1)}\n`,
  );
  const described = Object.entries(installed).map(([name, version]) => `${name} ${version}`);
  return `${described.join(", ")} in ${relative(ROOT, v.dir)}`;
}

/** Venvs of earlier requirement sets, left behind when a version changed. */
function removeStaleVenvs(): void {
  const root = join(CACHE, "python");
  if (!existsSync(root)) return;
  const current = new Set(VENVS.map((v) => v.dir));
  for (const entry of readdirSync(root)) {
    if (!current.has(join(root, entry))) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

async function checkChosenPython(python: string): Promise<string> {
  const versions = await run(python, ["-c", REPORT_VERSIONS]);
  if (versions.code !== 0) {
    throw new SetupProblem(
      `KPP_PYTHON=${python} cannot import confluent_kafka (pip install confluent-kafka): ${tail(versions)}`,
    );
  }
  return `KPP_PYTHON=${python} has ${versions.stdout.trim()}`;
}

async function downloadGoModules(): Promise<string> {
  if (!findExecutable("go")) {
    throw new SetupProblem(
      "go is missing: the franz-go tests need Go (test/compat/franz/go.mod names the version)",
    );
  }
  const download = await run("go", ["mod", "download"], { cwd: FRANZ });
  if (download.code !== 0) throw new SetupProblem(`go mod download failed: ${tail(download)}`);
  const modcache = await run("go", ["env", "GOMODCACHE"], { cwd: FRANZ });
  const record: GoRecord = { sums: franzSums(), modcache: modcache.stdout.trim() };
  mkdirSync(dirname(GO_RECORD), { recursive: true });
  writeFileSync(GO_RECORD, `${JSON.stringify(record, null, 1)}\n`);
  return `franz-go modules in ${record.modcache}`;
}

/** Resolves the jars the harness runs; a cached classpath costs a few stats, a missing one a Maven run. */
async function resolveKafkaJars(): Promise<string | undefined> {
  let ranMaven = false;
  const log = () => {
    ranMaven = true;
  };
  try {
    for (const version of KAFKA_VERSIONS) {
      await brokerClasspath(version, { log });
      await toolsClasspath(version, { log });
    }
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    throw new SetupProblem(
      error instanceof MissingPrerequisiteError ? message : `resolving Kafka's jars failed: ${message}`,
    );
  }
  return ranMaven ? "Kafka broker and tools jars resolved into ~/.m2" : undefined;
}

async function installKcat(): Promise<string> {
  const why = "kcat is missing (the kcat tests drive it)";
  if (process.env.KPP_KCAT) throw new SetupProblem(`KPP_KCAT=${process.env.KPP_KCAT} is not an executable`);
  await aptInstall(["kcat"], why);
  if (!kcatReady()) throw new SetupProblem(`${why}: apt-get installed kcat but it is not on PATH`);
  return `kcat at ${findExecutable("kcat")}`;
}

interface Step {
  ready(): boolean;
  install(): Promise<string | undefined>;
}

const STEPS: Record<Part, Step> = {
  python: process.env.KPP_PYTHON
    ? { ready: () => false, install: () => checkChosenPython(process.env.KPP_PYTHON!) }
    : {
        ready: () => VENVS.every(venvReady),
        install: async () => {
          removeStaleVenvs();
          const done: string[] = [];
          for (const v of VENVS) if (!venvReady(v)) done.push(await installVenv(v));
          return done.join("; ");
        },
      },
  go: { ready: goReady, install: downloadGoModules },
  maven: { ready: () => false, install: resolveKafkaJars },
  kcat: { ready: kcatReady, install: installKcat },
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function withLock<T>(log: (line: string) => void, work: () => Promise<T>): Promise<T> {
  mkdirSync(CACHE, { recursive: true });
  const ownerFile = join(LOCK, "pid");
  let told = false;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(ownerFile, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(readJson<number>(ownerFile));
    const stale = owner > 0 ? !alive(owner) : Date.now() - lockTaken() > 10_000;
    if (stale) {
      rmSync(LOCK, { recursive: true, force: true });
      continue;
    }
    if (!told) log(`waiting for the test set-up${owner > 0 ? ` of process ${owner}` : ""} to finish`);
    told = true;
    await sleep(250);
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function lockTaken(): number {
  try {
    return statSync(LOCK).mtimeMs;
  } catch {
    return Date.now();
  }
}

export interface SetupReport {
  installed: string[];
  problems: string[];
  ms: number;
}

/** Installs the parts that are missing; never throws for a part that cannot be had, it reports it. */
export async function setUp(
  parts: readonly Part[] = PARTS,
  log: (line: string) => void = (line) => process.stderr.write(`test set-up: ${line}\n`),
): Promise<SetupReport> {
  const started = performance.now();
  const report: SetupReport = { installed: [], problems: [], ms: 0 };
  const attempt = async (part: Part) => {
    const partStarted = performance.now();
    try {
      const done = await STEPS[part].install();
      if (done) {
        report.installed.push(done);
        log(`${part}: ${done} (${((performance.now() - partStarted) / 1000).toFixed(1)} s)`);
      }
    } catch (error) {
      const message = error instanceof SetupProblem ? error.message : `${part}: ${(error as Error).stack}`;
      report.problems.push(message);
      log(message);
    }
  };
  const lockedParts = parts.filter((part) => part !== "maven" && !STEPS[part].ready());
  if (lockedParts.length > 0) {
    await withLock(log, async () => {
      for (const part of lockedParts) if (!STEPS[part].ready()) await attempt(part);
    });
  }
  if (parts.includes("maven")) await attempt("maven");
  report.ms = performance.now() - started;
  return report;
}

if (import.meta.main) {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((part) => !PARTS.includes(part as Part));
  if (unknown.length > 0) {
    process.stderr.write(`unknown part(s) ${unknown.join(", ")}; known: ${PARTS.join(", ")}\n`);
    process.exit(2);
  }
  const report = await setUp(asked.length > 0 ? (asked as Part[]) : PARTS);
  process.stderr.write(
    `test set-up: ${report.problems.length === 0 ? "ready" : `${report.problems.length} problem(s)`} in ${Math.round(report.ms)} ms\n`,
  );
  process.exitCode = report.problems.length === 0 ? 0 : 1;
}
