// Byte-compatibility vectors against Kafka's Java implementation.
//
//   npm run vectors [-- --count N] [--java-count N] [--seed S] [--kafka 3.9.2] [--allow-mismatch] [--dry-run]
//
// Two directions, both refereed by kafka-clients' own generated classes (tools/java/vectors):
// 1. Ours to Kafka: for every API in API_KEYS, every version, request and response (plus request headers
//    v1-2 and response headers v0-1), --count seeded random instances (default: one per PROFILES entry)
//    from randomMessage are encoded by our codec; Kafka's *Data class parses the bytes (every byte must be
//    consumed) and serializes them again, and the two byte strings must be equal.
// 2. Kafka to ours: --java-count random messages per version generated on the Java side from Kafka's
//    schemas (RandomWire.java) and canonicalized by the *Data classes must decode with our codec and
//    re-encode to the same bytes.
// In both, our decoder's values are compared field by field with Kafka's JsonConverter output for the
// same bytes, and API_KEYS is compared with kafka-clients' ApiMessageType. Agreeing cases become vectors
// in test/vectors/protocol-<kafka-clients version>.jsonl.gz; every disagreement is listed (both byte
// strings, Kafka's reading of the message) and makes the script exit non-zero unless --allow-mismatch.
// --kafka <release> referees with another kafka-clients release (e.g. 3.9.2, the older broker line) for
// the versions it shares with ours, and writes test/vectors/protocol-<release>.jsonl.gz.
// Needs Java 17+ and Maven (the first run resolves kafka-clients from Maven Central; later runs are offline).
import { parseArgs } from "node:util";
import { API_KEYS } from "../../src/protocol/generated/api-keys.ts";
import type { MessageSchema } from "../../src/protocol/schema-types.ts";
import {
  messageSchema,
  messageSchemaByName,
  type RandomMessageOptions,
  randomMessageOf,
  seededRng,
} from "../../src/protocol/testing/random-message.ts";
import { decodeCase, encodeCase, reencodeCase } from "./codec.ts";
import {
  KAFKA_CLIENTS_VERSION,
  kafkaApiVersions,
  kafkaGeneratedCases,
  type RefereeCase,
  type RefereeVerdict,
  reserializeWithKafka,
} from "./java-referee.ts";
import { compareWithKafkaJson, parseKafkaJson } from "./kafka-json.ts";
import { stretchMessage } from "./stretch.ts";
import { type Vector, vectorFilePath, writeVectors } from "./vector-file.ts";

// Request header v0 (ControlledShutdown v0 only) is outside kafka-clients 4.x's RequestHeaderData, whose
// validVersions are 1-2 and whose reader expects a client id unconditionally: Java cannot referee it.
const REQUEST_HEADER_VERSIONS = [1, 2];
const RESPONSE_HEADER_VERSIONS = [0, 1];

/** Instance i of a message version uses profile i % PROFILES.length. */
const PROFILES: ReadonlyArray<{ name: string; options: RandomMessageOptions; stretch: boolean }> = [
  { name: "default", options: {}, stretch: false },
  { name: "full", options: { nullProbability: 0, unknownTaggedProbability: 0 }, stretch: false },
  {
    name: "sparse",
    options: { nullProbability: 1, maxArrayLength: 0, unknownTaggedProbability: 0 },
    stretch: false,
  },
  { name: "tagged", options: { unknownTaggedProbability: 1, nullProbability: 0.1 }, stretch: false },
  { name: "long", options: { nullProbability: 0.1 }, stretch: true },
  { name: "long-tagged", options: { nullProbability: 0, unknownTaggedProbability: 1 }, stretch: true },
];

interface Case extends RefereeCase {
  seed: number;
  profile: string;
  schema: MessageSchema;
  message: unknown;
}

interface Mismatch {
  what: string;
  ours: string;
  kafka: string;
  detail: string;
}

const { values: options } = parseArgs({
  options: {
    count: { type: "string", default: String(PROFILES.length) },
    "java-count": { type: "string" },
    kafka: { type: "string", default: KAFKA_CLIENTS_VERSION },
    seed: { type: "string", default: "20261122" },
    "allow-mismatch": { type: "boolean", default: false },
    "dry-run": { type: "boolean", default: false },
  },
});
const count = Number(options.count);
const baseSeed = Number(options.seed);
const kafkaVersion = options.kafka;
const isCodecRelease = kafkaVersion === KAFKA_CLIENTS_VERSION;
// Java-side generation walks the Schema classes of the release our codec comes from; other releases
// only referee our messages unless asked.
const javaCount = Number(options["java-count"] ?? (isCodecRelease ? 3 : 0));

/**
 * The versions to check per API key: all of ours against our own release; against another release, the
 * versions both have, up to its latest stable one (an unstable version there may have another layout).
 */
function versionRanges(): Map<number, [number, number]> {
  const ranges = new Map<number, [number, number]>();
  if (isCodecRelease) {
    for (const api of API_KEYS) ranges.set(api.apiKey, [api.minVersion, api.maxVersion]);
    return ranges;
  }
  const theirs = new Map(kafkaApiVersions(kafkaVersion).map((api) => [api.apiKey, api]));
  for (const api of API_KEYS) {
    const other = theirs.get(api.apiKey);
    if (other === undefined) continue;
    const lo = Math.max(api.minVersion, other.minVersion);
    const hi = Math.min(api.maxVersion, other.maxStableVersion);
    if (lo <= hi) ranges.set(api.apiKey, [lo, hi]);
  }
  return ranges;
}
const RANGES = versionRanges();
/** Fields another release names differently from ours (same bytes; values not compared by name). */
const otherNames = new Set<string>();

function caseSeed(kind: string, apiKey: number, version: number, index: number): number {
  let h = baseSeed >>> 0;
  // Another release gets other instances than ours, rather than the same bytes again.
  const release = isCodecRelease ? [] : [kafkaVersion];
  for (const part of [...release, kind, String(apiKey), String(version), String(index)]) {
    for (let i = 0; i < part.length; i++) h = Math.imul(h ^ part.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 0x2f, 0x01000193) >>> 0;
  }
  return h;
}

function buildCases(): { cases: Case[]; failures: Mismatch[] } {
  const cases: Case[] = [];
  const failures: Mismatch[] = [];
  const add = (kind: RefereeCase["kind"], apiKey: number, version: number, schema: MessageSchema) => {
    for (let index = 0; index < count; index++) {
      const seed = caseSeed(kind, apiKey, version, index);
      const profile = PROFILES[index % PROFILES.length]!;
      let message: Record<string, unknown> | undefined;
      try {
        const rng = seededRng(seed);
        message = randomMessageOf(schema, version, rng, profile.options);
        if (profile.stretch) message = stretchMessage(schema, version, message, rng);
        const hex = encodeCase({ kind, apiKey, version }, message).toString("hex");
        cases.push({ kind, apiKey, version, seed, profile: profile.name, schema, message, hex });
      } catch (error) {
        failures.push({
          what: `${describeCase({ kind, apiKey, version })} seed ${seed} (${profile.name})`,
          ours: "(our encoder threw)",
          kafka: "",
          detail: `${error instanceof Error ? (error.stack ?? error.message) : error}\n  our message: ${jsonOf(message)}`,
        });
      }
    }
  };
  for (const [apiKey, [lo, hi]] of RANGES) {
    for (let version = lo; version <= hi; version++) {
      for (const kind of ["request", "response"] as const) {
        add(kind, apiKey, version, messageSchema(apiKey, kind));
      }
    }
  }
  for (const version of REQUEST_HEADER_VERSIONS) {
    add("requestHeader", 0, version, messageSchemaByName("RequestHeader"));
  }
  for (const version of RESPONSE_HEADER_VERSIONS) {
    add("responseHeader", 0, version, messageSchemaByName("ResponseHeader"));
  }
  return { cases, failures };
}

const apiNames = new Map(API_KEYS.map((api) => [api.apiKey, api.name]));

function describeCase(c: Pick<RefereeCase, "kind" | "apiKey" | "version">): string {
  if (c.kind === "requestHeader" || c.kind === "responseHeader") return `${c.kind} v${c.version}`;
  return `${apiNames.get(c.apiKey) ?? "?"}(${c.apiKey}) ${c.kind} v${c.version}`;
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return Math.floor(i / 2);
}

function jsonOf(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (typeof v === "bigint") return `${v}n`;
    if (v && typeof v === "object" && v.type === "Buffer" && Array.isArray(v.data)) {
      return `<Buffer ${Buffer.from(v.data).toString("hex")}>`;
    }
    return v;
  });
}

function checkApiTable(): Mismatch[] {
  const kafka = new Map(kafkaApiVersions().map((api) => [api.apiKey, api]));
  const problems: Mismatch[] = [];
  for (const api of API_KEYS) {
    const reference = kafka.get(api.apiKey);
    const ours = `${api.name} ${api.minVersion}..${api.maxVersion}`;
    const theirs = reference
      ? `${reference.name} ${reference.minVersion}..${reference.maxVersion}`
      : "(absent)";
    if (ours !== theirs)
      problems.push({ what: `API table key ${api.apiKey}`, ours, kafka: theirs, detail: "" });
  }
  for (const reference of kafka.values()) {
    if (reference.maxVersion >= reference.minVersion && !apiNames.has(reference.apiKey)) {
      problems.push({
        what: `API table key ${reference.apiKey}`,
        ours: "(absent)",
        kafka: `${reference.name} ${reference.minVersion}..${reference.maxVersion}`,
        detail: "",
      });
    }
  }
  return problems;
}

function schemaOf(kind: RefereeCase["kind"], apiKey: number): MessageSchema {
  if (kind === "requestHeader") return messageSchemaByName("RequestHeader");
  if (kind === "responseHeader") return messageSchemaByName("ResponseHeader");
  return messageSchema(apiKey, kind);
}

function inOurTable(c: RefereeCase): boolean {
  if (c.kind === "requestHeader") return REQUEST_HEADER_VERSIONS.includes(c.version);
  if (c.kind === "responseHeader") return RESPONSE_HEADER_VERSIONS.includes(c.version);
  const range = RANGES.get(c.apiKey);
  return range !== undefined && c.version >= range[0] && c.version <= range[1];
}

/**
 * The other direction: messages that Java generated from kafka-clients' schemas (random wire bytes,
 * canonicalized by the *Data classes) must decode with our codec, re-encode to the same bytes, and read
 * the same values as Kafka's JsonConverter shows.
 */
function checkKafkaGenerated(): {
  vectors: Vector[];
  mismatches: Mismatch[];
  total: number;
} {
  const { cases, errors } = kafkaGeneratedCases(javaCount, baseSeed, kafkaVersion);
  const mismatches: Mismatch[] = errors.map((error) => ({
    what: "Java-side generation failed",
    ours: "",
    kafka: error,
    detail: "",
  }));
  const candidates: RefereeCase[] = [];
  for (const c of cases.filter(inOurTable)) {
    let again: string;
    try {
      again = reencodeCase(c, Buffer.from(c.hex, "hex")).toString("hex");
    } catch (error) {
      again = `(our codec threw: ${error instanceof Error ? error.message : String(error)})`;
    }
    if (again === c.hex) {
      candidates.push(c);
    } else {
      mismatches.push({
        what: `${describeCase(c)} generated by Java: our decode + encode differs`,
        ours: again,
        kafka: c.hex,
        detail: `first difference at byte ${firstDifference(again, c.hex)}`,
      });
    }
  }
  const vectors: Vector[] = [];
  const verdicts = reserializeWithKafka(candidates, "json", kafkaVersion);
  candidates.forEach((c, i) => {
    const verdict = verdicts[i]!;
    const differences = verdict.ok
      ? readDifferentlyThan(c, schemaOf(c.kind, c.apiKey), verdict.detail ?? "null")
      : [`Kafka rejects its own bytes: ${verdict.error}`];
    if (differences.length === 0) vectors.push(c);
    else {
      mismatches.push({
        what: `${describeCase(c)} generated by Java: same bytes, but Kafka reads other values`,
        ours: c.hex,
        kafka: verdict.ok ? (verdict.detail ?? "") : "",
        detail: differences.join("\n  "),
      });
    }
  });
  return { vectors, mismatches, total: cases.length };
}

function main(): void {
  const started = performance.now();
  const mismatches = isCodecRelease ? checkApiTable() : [];
  const { cases, failures } = buildCases();
  mismatches.push(...failures);
  const verdicts = reserializeWithKafka(cases, "json", kafkaVersion);
  const vectors: Vector[] = [];
  const disagreeing: Case[] = [];
  cases.forEach((c, i) => {
    const verdict = verdicts[i]!;
    if (!verdict.ok || verdict.hex !== c.hex) {
      disagreeing.push(c);
      return;
    }
    const differences = readDifferentlyThan(c, c.schema, verdict.detail ?? "null");
    if (differences.length > 0) {
      mismatches.push({
        what: `${describeCase(c)} seed ${c.seed} (${c.profile}): same bytes, but Kafka reads other values`,
        ours: c.hex,
        kafka: verdict.detail ?? "",
        detail: differences.join("\n  "),
      });
      return;
    }
    vectors.push({ kind: c.kind, apiKey: c.apiKey, version: c.version, hex: c.hex });
  });
  if (disagreeing.length > 0) {
    const described = reserializeWithKafka(disagreeing, "describe", kafkaVersion);
    disagreeing.forEach((c, i) => {
      mismatches.push(explain(c, described[i]!));
    });
  }

  const fromJava = javaCount > 0 ? checkKafkaGenerated() : { vectors: [], mismatches: [], total: 0 };
  mismatches.push(...fromJava.mismatches);
  const seen = new Set(vectors.map((v) => `${v.kind} ${v.apiKey} ${v.version} ${v.hex}`));
  for (const v of fromJava.vectors) {
    const key = `${v.kind} ${v.apiKey} ${v.version} ${v.hex}`;
    if (!seen.has(key)) vectors.push({ kind: v.kind, apiKey: v.apiKey, version: v.version, hex: v.hex });
    seen.add(key);
  }

  const covered = new Set(vectors.map((v) => `${v.kind} ${v.apiKey} ${v.version}`));
  const uncovered = cases.filter((c) => !covered.has(`${c.kind} ${c.apiKey} ${c.version}`));
  const uncoveredNames = [...new Set(uncovered.map((c) => describeCase(c)))];

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `ours: ${cases.length} cases; Java-generated: ${fromJava.total} cases, ${fromJava.vectors.length} agree; ` +
      `${vectors.length} distinct vectors agree with kafka-clients ${kafkaVersion} (${seconds} s)`,
  );
  if (otherNames.size > 0) {
    console.log(
      `fields kafka-clients ${kafkaVersion} names differently: ${[...otherNames].sort().join(", ")}`,
    );
  }
  if (mismatches.length > 0) {
    console.error(`\n${mismatches.length} MISMATCHES between our codec and Kafka's Java classes:`);
    for (const m of mismatches) {
      console.error(
        `\n- ${m.what}\n  ours:  ${m.ours}\n  kafka: ${m.kafka}${m.detail ? `\n  ${m.detail}` : ""}`,
      );
    }
    console.error(
      `\n(${mismatches.length} mismatches; ${uncoveredNames.length} message versions without a vector)`,
    );
    if (uncoveredNames.length > 0) console.error(`without a vector: ${uncoveredNames.join(", ")}`);
  }
  if (!options["dry-run"]) {
    const path = vectorFilePath(kafkaVersion);
    const bytes = writeVectors(path, vectors);
    console.log(`wrote ${vectors.length} vectors to ${path} (${(bytes / 1024).toFixed(1)} KiB)`);
  }
  if (mismatches.length > 0 && !options["allow-mismatch"]) process.exitCode = 1;
}

/** Decodes Kafka's bytes with our codec and compares the values with Kafka's JSON of the same bytes. */
function readDifferentlyThan(c: RefereeCase, schema: MessageSchema, kafkaJson: string): string[] {
  try {
    const decoded = decodeCase(c, Buffer.from(c.hex, "hex"));
    const onOtherName = isCodecRelease ? undefined : (path: string) => otherNames.add(path);
    return compareWithKafkaJson(schema, c.version, decoded, parseKafkaJson(kafkaJson), onOtherName);
  } catch (error) {
    return [`our decoder failed: ${error instanceof Error ? error.message : String(error)}`];
  }
}

function explain(c: Case, verdict: RefereeVerdict): Mismatch {
  const what = `${describeCase(c)} seed ${c.seed} (${c.profile})`;
  const ourMessage = `our message: ${jsonOf(c.message)}`;
  if (!verdict.ok) return { what, ours: c.hex, kafka: `rejected: ${verdict.error}`, detail: ourMessage };
  const offset = firstDifference(c.hex, verdict.hex);
  return {
    what: `${what}: bytes differ from offset ${offset} (ours ${c.hex.length / 2} B, kafka ${verdict.hex.length / 2} B)`,
    ours: c.hex,
    kafka: verdict.hex,
    detail: `kafka read: ${verdict.detail ?? ""}\n  ${ourMessage}`,
  };
}

main();
