import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { KafkaVersion } from "../../../scripts/kafka/cluster.ts";
import { toolsClasspath } from "../../../scripts/kafka/versions.ts";
import { javaExecutable } from "../../../scripts/maven/resolve.ts";

export interface ProgramResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a single-file Java program from this folder (source-file mode) with Kafka's client jars on the classpath. */
export async function runJavaProgram(
  file: string,
  args: string[],
  options: { version?: KafkaVersion; timeoutMs?: number } = {},
): Promise<ProgramResult> {
  const classpath = (await toolsClasspath(options.version ?? "4")).join(":");
  const source = fileURLToPath(new URL(file, import.meta.url));
  const child = spawn(
    javaExecutable(),
    ["-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath, source, ...args],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const timeoutMs = options.timeoutMs ?? 90_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  const result = {
    exitCode,
    stdout: Buffer.concat(stdout).toString("utf8"),
    stderr: Buffer.concat(stderr).toString("utf8"),
  };
  if (exitCode !== 0) {
    throw new Error(
      `${file} exited with ${exitCode} (limit ${timeoutMs} ms):\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}
