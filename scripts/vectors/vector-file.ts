// Checked-in byte-compatibility vectors: gzip'd JSON lines of {kind, apiKey, version, hex}, where hex is
// a message (or header) exactly as Kafka's Java classes serialized it.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { RefereeCase, VectorKind } from "./java-referee.ts";

export type Vector = RefereeCase;

export const VECTOR_KINDS: readonly VectorKind[] = ["request", "response", "requestHeader", "responseHeader"];

const vectorDir = resolve(import.meta.dirname, "../../test/vectors");
const VECTOR_FILE = /^protocol-(.+)\.jsonl\.gz$/;

export function vectorFilePath(kafkaVersion: string): string {
  return resolve(vectorDir, `protocol-${kafkaVersion}.jsonl.gz`);
}

/** The kafka-clients releases that have a vector file. */
export function vectorReleases(): string[] {
  return readdirSync(vectorDir)
    .map((name) => VECTOR_FILE.exec(name)?.[1])
    .filter((release) => release !== undefined)
    .sort();
}

export function writeVectors(path: string, vectors: readonly Vector[]): number {
  const text = vectors
    .map((v) => JSON.stringify({ kind: v.kind, apiKey: v.apiKey, version: v.version, hex: v.hex }))
    .join("\n");
  const compressed = gzipSync(`${text}\n`, { level: 9 });
  writeFileSync(path, compressed);
  return compressed.length;
}

export function readVectors(path: string): Vector[] {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").split("\n");
  const vectors: Vector[] = [];
  for (const [index, line] of lines.entries()) {
    if (line === "") continue;
    const v = JSON.parse(line) as Vector;
    if (!VECTOR_KINDS.includes(v.kind) || !Number.isInteger(v.apiKey) || !Number.isInteger(v.version)) {
      throw new Error(`${path}:${index + 1}: malformed vector`);
    }
    if (!/^(?:[0-9a-f]{2})*$/.test(v.hex)) throw new Error(`${path}:${index + 1}: hex is not lowercase hex`);
    vectors.push(v);
  }
  return vectors;
}
