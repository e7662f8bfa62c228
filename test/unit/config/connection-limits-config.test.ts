import assert from "node:assert/strict";
import { test } from "node:test";
import { buildConfig, normalizeClientAddress, parseConfigText } from "../../../src/config/load.ts";
import { problemsOf } from "./problems.ts";

test("defaults: idle 10 minutes, first frame 10 s, per-address cap half of max_connections", () => {
  const config = buildConfig({ kafka: { bootstrap_servers: "k:9092" } });
  assert.equal(config.maxConnections, 1000);
  assert.equal(config.maxConnectionsPerIp, 500);
  assert.ok(config.maxConnectionsPerIp < config.maxConnections);
  assert.equal(config.maxConnectionsPerIpOverrides.size, 0);
  assert.equal(config.connectionsMaxIdleMs, 600_000);
  assert.equal(config.firstFrameTimeoutMs, 10_000);
  for (const max of [1, 2, 3, 5000]) {
    const scaled = buildConfig({ kafka: { bootstrap_servers: "k:9092" }, listen: { max_connections: max } });
    assert.equal(scaled.maxConnectionsPerIp, Math.max(1, Math.floor(max / 2)), `max_connections ${max}`);
  }
});

test("explicit values and per-address overrides, IPv4-mapped IPv6 keyed as IPv4", () => {
  const config = parseConfigText(
    `
kafka: { bootstrap_servers: "k:9092" }
listen:
  max_connections: 800
  max_connections_per_ip: 800
  max_connections_per_ip_overrides: { "10.0.0.1": 0, "::ffff:10.0.0.2": 700, "2001:DB8::1": 5 }
  connections_max_idle_ms: "30000"
  first_frame_timeout_ms: 2500
`,
    "test.yaml",
    {},
  );
  assert.equal(config.maxConnectionsPerIp, 800);
  assert.deepEqual(
    [...config.maxConnectionsPerIpOverrides],
    [
      ["10.0.0.1", 0],
      ["10.0.0.2", 700],
      ["2001:db8::1", 5],
    ],
  );
  assert.equal(config.connectionsMaxIdleMs, 30_000);
  assert.equal(config.firstFrameTimeoutMs, 2500);
  assert.equal(normalizeClientAddress("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(normalizeClientAddress("::1"), "::1");
});

test("bad limits fail at start, naming the field", () => {
  const problems = problemsOf(`
kafka: { bootstrap_servers: "k:9092" }
listen:
  max_connections_per_ip: 0
  max_connections_per_ip_overrides: { "broker.example.com": 3, "10.0.0.1": -1 }
  connections_max_idle_ms: 0
  first_frame_timeout_ms: soon
`);
  const fields = problems.map((p) => p.split(":")[0]);
  assert.deepEqual(fields.sort(), [
    "listen.connections_max_idle_ms",
    "listen.first_frame_timeout_ms",
    "listen.max_connections_per_ip",
    "listen.max_connections_per_ip_overrides.10.0.0.1",
  ]);
  const hostName = problemsOf(`
kafka: { bootstrap_servers: "k:9092" }
listen: { max_connections_per_ip_overrides: { "broker.example.com": 3 } }
`);
  assert.equal(hostName.length, 1);
  assert.match(
    hostName[0]!,
    /^listen\.max_connections_per_ip_overrides\.broker\.example\.com: not an IP address/,
  );
});
