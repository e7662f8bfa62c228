import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import { problemsOf } from "./problems.ts";

test("accepts the reference project's config shape", () => {
  const config = parseConfigText(
    `
listen:
  address: "0.0.0.0:9092"
  advertised_address: "proxy.example.com:19092"
  max_connections: 5000
kafka:
  bootstrap_servers: ["broker1:9092", "broker2:9092"]
  connection_timeout_ms: 5000
  request_timeout_ms: 30000
  metadata_refresh_interval_secs: 30
mapping:
  virtual_partitions: 1000
  physical_partitions: 100
  offset_range: 1099511627776
  topics:
    "high-volume.*": { virtual_partitions: 5000, physical_partitions: 500 }
metrics: { enabled: true, address: "0.0.0.0:9090" }
logging: { level: info, format: json }
`,
    "test.yaml",
  );
  assert.equal(config.listen.port, 9092);
  assert.equal(config.advertisedHost, "proxy.example.com");
  assert.equal(config.advertisedBootstrapPort, 19092);
  assert.equal(config.nodePortFor(0), 9093);
  assert.equal(config.nodePortFor(3), 9096);
  assert.equal(config.maxConnections, 5000);
  assert.equal(config.clusters[0]!.bootstrapServers.length, 2);
  assert.equal(config.partitionRules.length, 2);
  assert.equal(config.partitionRules[0]!.pattern.test("high-volume.orders"), true);
  assert.ok(config.warnings.some((w) => w.includes("offset_range")));
  assert.equal(config.logging.json, true);
});

test("substitutes ${ENV} and coerces numbers from the environment", () => {
  const config = parseConfigText(
    "kafka: { bootstrap_servers: '${BOOT}' }\nlisten: { max_connections: '${MAXC}', address: '127.0.0.1:${PORT:-7000}' }",
    "test.yaml",
    { BOOT: "a:1,b:2", MAXC: "42" },
  );
  assert.deepEqual(
    config.clusters[0]!.bootstrapServers.map((s) => `${s.host}:${s.port}`),
    ["a:1", "b:2"],
  );
  assert.equal(config.maxConnections, 42);
  assert.equal(config.listen.port, 7000);
});

test("reports every error with its field path", () => {
  const problems = problemsOf(`
listen: { max_connections: 0, bogus: 1 }
kafka: { bootstrap_servers: ["ok:1", "missing-port"], request_timeout_ms: -1 }
metrics: { enabled: maybe }
`);
  const joined = problems.join("\n");
  for (const path of [
    "listen.max_connections",
    "listen",
    "kafka.bootstrap_servers[1]",
    "kafka.request_timeout_ms",
    "metrics.enabled",
  ]) {
    assert.ok(joined.includes(`${path}:`), `missing ${path} in:\n${joined}`);
  }
});

test("names a missing environment variable and its field", () => {
  const problems = problemsOf("kafka: { bootstrap_servers: '${NOPE}' }");
  assert.deepEqual(problems, ["kafka.bootstrap_servers: environment variable NOPE is not set"]);
});

test("rejects partition rules that cannot work", () => {
  const problems = problemsOf(`
kafka: { bootstrap_servers: "a:1" }
mapping:
  topics:
    "a": { virtual_partitions: 10, physical_partitions: 3 }
    "b": { virtual_partitions: 2, physical_partitions: 4 }
    "(": { virtual_partitions: 4, physical_partitions: 4 }
`);
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.ok(problems[0]!.startsWith("mapping.topics.a: virtual_partitions (10) must be a multiple"));
  assert.ok(problems[1]!.startsWith("mapping.topics.b: virtual_partitions (2) is less than"));
  assert.ok(problems[2]!.startsWith("mapping.topics.(: invalid regular expression"));
});

test("reports YAML syntax errors", () => {
  const problems = problemsOf("kafka: [unclosed");
  assert.ok(problems[0]!.startsWith("YAML syntax"));
});

test("caps offered api versions by Kafka's api names and rejects unknown names and too-old versions", () => {
  const config = parseConfigText(
    `kafka: { bootstrap_servers: "a:1" }\nproxy: { api_max_versions: { Fetch: 15 } }`,
    "test.yaml",
    {},
  );
  assert.equal(config.apiMaxVersions.get(1), 15);
  const problems = problemsOf(`
kafka: { bootstrap_servers: "a:1" }
proxy: { api_max_versions: { Fetchh: 15, Produce: 1 } }
`);
  assert.deepEqual(problems, [
    "proxy.api_max_versions.Fetchh: unknown API name (use Kafka's, e.g. Fetch, Metadata)",
    "proxy.api_max_versions.Produce: 1 is below the oldest version 3",
  ]);
});
