/**
 * The Java side of the fault-injection suite: `FaultWorkload.java` (an idempotent producer and a consumer-group
 * member in one JVM), compiled once per test file, run as a child process whose stdout lines the test watches,
 * and the checks of what it acknowledged and consumed.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runMarker } from "../../../scripts/kafka/cluster.ts";
import { toolsClasspath } from "../../../scripts/kafka/versions.ts";
import { javaExecutable } from "../../../scripts/maven/resolve.ts";

const SOURCE = fileURLToPath(new URL("./FaultWorkload.java", import.meta.url));

export interface CompiledWorkload {
  classpath: string;
  /** Where the classes are. */
  directory: string;
}

/** Compiles FaultWorkload.java once (javac next to the java the harness uses). */
export async function compileWorkload(): Promise<CompiledWorkload> {
  const kafkaClasspath = (await toolsClasspath("4")).join(":");
  const java = javaExecutable();
  const javac = path.join(path.dirname(realpathSync(java)), "javac");
  const out = mkdtempSync(path.join(process.env.KPP_TEST_TMP ?? tmpdir(), "kpp-faults-classes-"));
  await promisify(execFile)(javac, ["-d", out, "-cp", kafkaClasspath, SOURCE], { timeout: 120_000 });
  return { classpath: `${out}:${kafkaClasspath}`, directory: out };
}

export interface WorkloadOptions {
  bootstrap: string;
  topic: string;
  group: string;
  count: number;
  rate: number;
  quietMs: number;
  drainMs: number;
  /** Both clients' request.timeout.ms. */
  requestTimeoutMs: number;
}

export interface WorkloadRun {
  dir: string;
  lines: string[];
  stderr(): string;
  /** The highest "acked <n>" line so far. */
  acked(): number;
  /** Resolves when a stdout line satisfies `match`, rejects when the program exits first or after `timeoutMs`. */
  waitFor(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
  kill(): void;
}

export function startWorkload(compiled: CompiledWorkload, options: WorkloadOptions): WorkloadRun {
  const dir = mkdtempSync(path.join(process.env.KPP_TEST_TMP ?? tmpdir(), "kpp-faults-run-"));
  const runId = process.env.KPP_RUN_ID;
  const child: ChildProcess = spawn(
    javaExecutable(),
    [
      "-Xmx256m",
      "-XX:+UseSerialGC",
      "-XX:TieredStopAtLevel=1",
      ...(runId ? [runMarker(runId)] : []),
      "-cp",
      compiled.classpath,
      "FaultWorkload",
      options.bootstrap,
      options.topic,
      options.group,
      String(options.count),
      String(options.rate),
      dir,
      String(options.quietMs),
      String(options.drainMs),
      String(options.requestTimeoutMs),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const watchers = new Set<() => void>();
  let pending = "";
  let stderr = "";
  let acked = 0;
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split("\n");
    pending = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith("acked ")) acked = Math.max(acked, Number(line.slice(6)));
    }
    for (const watcher of watchers) watcher();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20_000);
  });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      process.off("exit", kill);
      for (const watcher of watchers) watcher();
      resolve(code);
    }),
  );
  return {
    dir,
    lines,
    stderr: () => stderr,
    acked: () => acked,
    exited,
    kill,
    waitFor(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        let checked = 0;
        const check = () => {
          for (; checked < lines.length; checked++) {
            if (match(lines[checked]!)) {
              done();
              resolve(lines[checked]!);
              return;
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`workload exited (${child.exitCode ?? child.signalCode}) first:\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching line after ${timeoutMs} ms; last lines: ${lines.slice(-5)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
  };
}

export interface Acked {
  index: number;
  partition: number;
  offset: number;
}

export interface Consumed {
  partition: number;
  offset: number;
  index: number;
}

function readLines(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.length > 0);
}

export function readResults(dir: string): { acked: Acked[]; errors: string[]; consumed: Consumed[] } {
  const acked = readLines(path.join(dir, "acked.txt")).map((line) => {
    const [index, partition, offset] = line.split(" ").map(Number) as [number, number, number];
    return { index, partition, offset };
  });
  const consumed = readLines(path.join(dir, "consumed.txt")).map((line) => {
    const [partition, offset, index] = line.split(" ").map(Number) as [number, number, number];
    return { partition, offset, index };
  });
  return { acked, errors: readLines(path.join(dir, "errors.txt")), consumed };
}

export interface ConsumptionReport {
  /** Acknowledged records never consumed. */
  lost: Acked[];
  /** (partition, sequence) pairs delivered more than once, with the offsets of each delivery. */
  duplicates: { partition: number; index: number; offsets: number[] }[];
  /** Records consumed from another partition than the one their acknowledgement named. */
  misplaced: { index: number; ackedPartition: number; consumedPartition: number }[];
  /** Per partition, deliveries whose offset or sequence is not above the previous delivery's. */
  outOfOrder: { partition: number; previous: Consumed; next: Consumed }[];
  /** Records consumed that the producer never had acknowledged (a failed send that was written anyway). */
  unacknowledgedConsumed: number;
}

/** Every acknowledged record consumed, once, from its partition, in order per partition. */
export function checkConsumption(acked: Acked[], consumed: Consumed[]): ConsumptionReport {
  const ackedByIndex = new Map(acked.map((a) => [a.index, a]));
  const deliveries = new Map<string, number[]>();
  const misplaced: ConsumptionReport["misplaced"] = [];
  const outOfOrder: ConsumptionReport["outOfOrder"] = [];
  const lastPerPartition = new Map<number, Consumed>();
  let unacknowledgedConsumed = 0;
  for (const record of consumed) {
    const key = `${record.partition} ${record.index}`;
    const offsets = deliveries.get(key);
    if (offsets) offsets.push(record.offset);
    else deliveries.set(key, [record.offset]);
    const ack = ackedByIndex.get(record.index);
    if (!ack) unacknowledgedConsumed++;
    else if (ack.partition !== record.partition) {
      misplaced.push({
        index: record.index,
        ackedPartition: ack.partition,
        consumedPartition: record.partition,
      });
    }
    const previous = lastPerPartition.get(record.partition);
    if (previous && (record.offset <= previous.offset || record.index <= previous.index)) {
      outOfOrder.push({ partition: record.partition, previous, next: record });
    }
    lastPerPartition.set(record.partition, record);
  }
  const duplicates: ConsumptionReport["duplicates"] = [];
  for (const [key, offsets] of deliveries) {
    if (offsets.length > 1) {
      const [partition, index] = key.split(" ").map(Number) as [number, number];
      duplicates.push({ partition, index, offsets });
    }
  }
  const lost = acked.filter((a) => !deliveries.has(`${a.partition} ${a.index}`));
  return { lost, duplicates, misplaced, outOfOrder, unacknowledgedConsumed };
}
