// Byte compatibility with Kafka's Java implementation: every checked-in vector is a message as
// kafka-clients serialized it; our codec must decode all of it and re-encode the identical bytes.
// protocol-<release>.jsonl.gz exists for the release our codec is generated from (which must cover every
// API version) and for older releases (the versions they share with ours).
// Regenerate with `npm run vectors` (see test/vectors/README.md).
import assert from "node:assert/strict";
import { test } from "node:test";
import { reencodeCase } from "../../../../scripts/vectors/codec.ts";
import { KAFKA_CLIENTS_VERSION } from "../../../../scripts/vectors/java-referee.ts";
import {
  readVectors,
  type Vector,
  vectorFilePath,
  vectorReleases,
} from "../../../../scripts/vectors/vector-file.ts";
import { API_KEYS } from "../../../../src/protocol/generated/index.ts";
import { Writer } from "../../../../src/protocol/primitives/writer.ts";

const vectors = readVectors(vectorFilePath(KAFKA_CLIENTS_VERSION));

function label(v: Vector): string {
  const name = API_KEYS.find((api) => api.apiKey === v.apiKey)?.name ?? "?";
  return v.kind.endsWith("Header")
    ? `${v.kind} v${v.version}`
    : `${name}(${v.apiKey}) ${v.kind} v${v.version}`;
}

function assertRoundTrips(release: string, all: readonly Vector[]): void {
  const w = new Writer();
  const failures: string[] = [];
  for (const v of all) {
    const bytes = Buffer.from(v.hex, "hex");
    try {
      const again = reencodeCase(v, bytes, w);
      if (!again.equals(bytes)) {
        failures.push(`${label(v)}: re-encoded ${again.toString("hex")}\n  kafka bytes  ${v.hex}`);
      }
    } catch (error) {
      failures.push(
        `${label(v)}: ${error instanceof Error ? error.message : String(error)}\n  kafka bytes ${v.hex}`,
      );
    }
  }
  assert.deepEqual(
    failures,
    [],
    `kafka-clients ${release}: ${failures.length} of ${all.length} vectors differ:\n${failures.join("\n")}`,
  );
}

test("there are vectors from the codec's own kafka-clients release", () => {
  assert.ok(vectorReleases().includes(KAFKA_CLIENTS_VERSION), vectorReleases().join(", "));
  assert.ok(vectors.length > 1000, `only ${vectors.length} vectors`);
});

for (const release of vectorReleases()) {
  test(`vectors from kafka-clients ${release} decode and re-encode byte for byte`, () => {
    assertRoundTrips(
      release,
      release === KAFKA_CLIENTS_VERSION ? vectors : readVectors(vectorFilePath(release)),
    );
  });
}

test("every API version has a request and a response vector", () => {
  const covered = new Set(vectors.map((v) => `${v.kind} ${v.apiKey} ${v.version}`));
  const missing: string[] = [];
  for (const api of API_KEYS) {
    for (let version = api.minVersion; version <= api.maxVersion; version++) {
      for (const kind of ["request", "response"] as const) {
        if (!covered.has(`${kind} ${api.apiKey} ${version}`)) missing.push(`${api.name} ${kind} v${version}`);
      }
    }
  }
  assert.deepEqual(missing, [], `no vector for: ${missing.join(", ")}`);
  for (const name of ["ShareGroupHeartbeat", "ShareFetch", "StreamsGroupHeartbeat", "StreamsGroupDescribe"]) {
    assert.ok(
      API_KEYS.some((api) => api.name === name),
      `${name} missing from API_KEYS`,
    );
  }
});

test("request headers v1-v2 and response headers v0-v1 have vectors", () => {
  for (const [kind, versions] of [
    ["requestHeader", [1, 2]],
    ["responseHeader", [0, 1]],
  ] as const) {
    for (const version of versions) {
      assert.ok(
        vectors.some((v) => v.kind === kind && v.version === version),
        `no ${kind} v${version} vector`,
      );
    }
  }
});
