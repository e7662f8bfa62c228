import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import { problemsOf } from "./problems.ts";

const TWO_CLUSTERS = `
clusters:
  east: { bootstrap_servers: ["b1:9092"] }
  west: { bootstrap_servers: ["c1:9092", "c2:9092"], security_protocol: SSL }
routing:
  default_cluster: west
  topics:
    "^orders\\\\..*": east
  groups:
    "billing-.*": east
`;

test("clusters and routing: the default cluster comes first, node id bases follow the declared order", () => {
  const config = parseConfigText(TWO_CLUSTERS, "test.yaml", {});
  assert.deepEqual(
    config.clusters.map((c) => [c.name, c.nodeIdBase, c.bootstrapServers.length, c.security.protocol]),
    [
      ["west", 100, 2, "SSL"],
      ["east", 0, 1, "PLAINTEXT"],
    ],
  );
  assert.equal(config.routing.defaultCluster, "west");
  assert.deepEqual(
    config.routing.topics.map((r) => [r.source, r.cluster]),
    [["^orders\\..*", "east"]],
  );
  assert.ok(config.routing.topics[0]!.pattern.test("orders.eu"));
  assert.ok(!config.routing.topics[0]!.pattern.test("ordersx"));
  assert.equal(config.routing.groups[0]!.cluster, "east");
  assert.equal(config.nodePortFor(100 + 3), config.listen.port + 1 + 103, "broker ports cover both clusters");
});

test("the single-cluster kafka section is the cluster named default, with its own timeouts", () => {
  const config = parseConfigText(
    `kafka: { bootstrap_servers: "b1:9092", request_timeout_ms: 1234 }`,
    "test.yaml",
    {},
  );
  assert.deepEqual(
    config.clusters.map((c) => [c.name, c.nodeIdBase]),
    [["default", 0]],
  );
  assert.equal(config.routing.defaultCluster, "default");
  assert.equal(config.requestTimeoutMs, 1234);
});

test("routing to an unknown cluster names the field path", () => {
  const problems = problemsOf(`
clusters:
  east: { bootstrap_servers: ["b1:9092"] }
routing:
  default_cluster: north
  topics: { "orders\\\\..*": south }
`);
  assert.ok(
    problems.includes('routing.default_cluster: unknown cluster "north" (known: east)'),
    problems.join("\n"),
  );
  assert.ok(
    problems.some((p) => p.startsWith('routing.topics."orders\\\\..*": unknown cluster "south"')),
    problems.join("\n"),
  );
});

test("a rule shadowed by an earlier rule to another cluster names both", () => {
  const problems = problemsOf(`
clusters:
  east: { bootstrap_servers: ["b1:9092"] }
  west: { bootstrap_servers: ["c1:9092"] }
routing:
  topics:
    "orders.*": east
    "orders\\\\.eu\\\\..*": west
    "payments\\\\..*": west
    ".*": east
`);
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.ok(
    problems[0]!.startsWith('routing.topics."orders\\\\.eu\\\\..*": overlaps the earlier rule "orders.*"'),
    problems[0],
  );
});

test("kafka and clusters together, neither of them, and a shared node id base are refused", () => {
  assert.ok(
    problemsOf(`
kafka: { bootstrap_servers: ["b1:9092"] }
clusters: { east: { bootstrap_servers: ["b1:9092"] } }
`).some((p) => p.startsWith("clusters: give either kafka")),
  );
  assert.ok(problemsOf("listen: {}").some((p) => p.startsWith("kafka: required")));
  assert.ok(
    problemsOf(`
clusters:
  east: { bootstrap_servers: ["b1:9092"], node_id_base: 10 }
  west: { bootstrap_servers: ["c1:9092"], node_id_base: 10 }
`).some((p) => p.startsWith("clusters.west.node_id_base: 10 is also the base")),
  );
});

test("an invalid routing pattern names its path", () => {
  const problems = problemsOf(`
clusters:
  east: { bootstrap_servers: ["b1:9092"] }
routing:
  groups: { "(": east }
`);
  assert.ok(problems.some((p) => p.startsWith('routing.groups."(": invalid regular expression')));
});
