// Runs the Java referee in tools/java/vectors: Kafka's own generated message classes parse each case
// and re-serialize it. Builds the jar for the requested kafka-clients release with Maven when it is
// missing or older than its sources (target/kafka-<version>/).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** The release our codec is generated from; other releases referee the versions they share with it. */
export const KAFKA_CLIENTS_VERSION = "4.4.0";

export type VectorKind = "request" | "response" | "requestHeader" | "responseHeader";

export interface RefereeCase {
  kind: VectorKind;
  apiKey: number;
  version: number;
  hex: string;
}

/** What the referee adds to each verdict: Kafka's toString() of the message, or its JsonConverter output. */
export type RefereeDetail = "none" | "describe" | "json";

export type RefereeVerdict = { ok: true; hex: string; detail?: string } | { ok: false; error: string };

export interface JavaApiVersions {
  apiKey: number;
  name: string;
  minVersion: number;
  /** Including a latest version marked unstable. */
  maxVersion: number;
  maxStableVersion: number;
}

const projectDir = resolve(import.meta.dirname, "../../tools/java/vectors");

function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureRefereeJar(kafkaVersion = KAFKA_CLIENTS_VERSION): string {
  const jarPath = join(projectDir, `target/kafka-${kafkaVersion}/kafka-protocol-vectors.jar`);
  const sourcesMtime = Math.max(
    statSync(join(projectDir, "pom.xml")).mtimeMs,
    newestSourceMtime(join(projectDir, "src")),
  );
  if (existsSync(jarPath) && statSync(jarPath).mtimeMs >= sourcesMtime) return jarPath;
  const build = spawnSync(
    "mvn",
    ["-q", "-B", "-Dstyle.color=never", `-Dkafka.version=${kafkaVersion}`, "package"],
    { cwd: projectDir, stdio: "inherit", timeout: 540_000 },
  );
  if (build.status !== 0 || !existsSync(jarPath)) {
    throw new Error(`Maven build of ${projectDir} failed (exit ${build.status ?? build.signal})`);
  }
  return jarPath;
}

function runJava(kafkaVersion: string, args: string[], input: string): string {
  const jar = ensureRefereeJar(kafkaVersion);
  const result = spawnSync("java", ["-Xmx512m", "-XX:+UseSerialGC", "-jar", jar, ...args], {
    input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
    timeout: 300_000,
  });
  if (result.status !== 0) {
    throw new Error(`Java referee exited with ${result.status ?? result.signal}: ${result.stderr}`);
  }
  return result.stdout;
}

/** Sends every case to the Java referee in one process; verdicts come back in input order. */
export function reserializeWithKafka(
  cases: readonly RefereeCase[],
  detail: RefereeDetail = "none",
  kafkaVersion = KAFKA_CLIENTS_VERSION,
): RefereeVerdict[] {
  const input = cases.map((c) => `${c.kind} ${c.apiKey} ${c.version} ${c.hex}\n`).join("");
  const lines = runJava(kafkaVersion, detail === "none" ? [] : [`--${detail}`], input).split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length !== cases.length) {
    throw new Error(`Java referee answered ${lines.length} lines for ${cases.length} cases`);
  }
  return lines.map((line): RefereeVerdict => {
    if (line.startsWith("ERROR ")) return { ok: false, error: line.slice("ERROR ".length) };
    const tab = line.indexOf("\t");
    const fields = (tab < 0 ? line : line.slice(0, tab)).split(" ");
    const verdict: RefereeVerdict = { ok: true, hex: fields[3] ?? "" };
    if (tab >= 0) verdict.detail = line.slice(tab + 1);
    return verdict;
  });
}

/** The API table of kafka-clients' ApiMessageType. */
export function kafkaApiVersions(kafkaVersion = KAFKA_CLIENTS_VERSION): JavaApiVersions[] {
  return runJava(kafkaVersion, ["--versions"], "")
    .trim()
    .split("\n")
    .map((line) => {
      const [apiKey, name, minVersion, maxVersion, maxStableVersion] = line.split(" ");
      return {
        apiKey: Number(apiKey),
        name: name!,
        minVersion: Number(minVersion),
        maxVersion: Number(maxVersion),
        maxStableVersion: Number(maxStableVersion),
      };
    });
}

/**
 * Cases that start on the Java side: random wire bytes per kafka-clients' schemas, canonicalized by the
 * generated *Data classes (see RandomWire.java). Failures on the Java side come back as errors.
 */
export function kafkaGeneratedCases(
  count: number,
  seed: number,
  kafkaVersion = KAFKA_CLIENTS_VERSION,
): { cases: RefereeCase[]; errors: string[] } {
  const cases: RefereeCase[] = [];
  const errors: string[] = [];
  for (const line of runJava(kafkaVersion, ["--generate", String(count), String(seed)], "").split("\n")) {
    if (line === "") continue;
    if (line.startsWith("ERROR ")) {
      errors.push(line.slice("ERROR ".length));
      continue;
    }
    const [kind, apiKey, version, hex] = line.split(" ");
    cases.push({
      kind: kind as VectorKind,
      apiKey: Number(apiKey),
      version: Number(version),
      hex: hex ?? "",
    });
  }
  return { cases, errors };
}
