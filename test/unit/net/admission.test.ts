import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import pino from "pino";
import { ConnectionAdmission, RefusalLog } from "../../../src/net/admission.ts";

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

test("admits up to the per-address cap and the total, and counts releases", () => {
  const admission = new ConnectionAdmission({
    maxConnections: 5,
    maxConnectionsPerIp: 3,
    perIpOverrides: new Map([
      ["10.0.0.9", 0],
      ["10.0.0.7", 5],
    ]),
  });
  assert.deepEqual(
    ["a", "a", "a", "a"].map(() => admission.admit("10.0.0.1")),
    [undefined, undefined, undefined, "max_connections_per_ip"],
  );
  assert.equal(admission.admit("10.0.0.9"), "max_connections_per_ip", "an override of 0 refuses");
  assert.equal(admission.admit("10.0.0.7"), undefined);
  assert.equal(admission.admit("10.0.0.7"), undefined);
  assert.equal(admission.admit("10.0.0.7"), "max_connections", "the total still applies");
  assert.equal(admission.connections, 5);
  admission.release("10.0.0.1");
  assert.equal(admission.connectionsFrom("10.0.0.1"), 2);
  assert.equal(admission.admit("10.0.0.2"), undefined);
  admission.release("unknown");
  assert.equal(admission.connections, 5);
  for (let i = 0; i < 3; i++) admission.release("10.0.0.7");
  assert.equal(admission.connectionsFrom("10.0.0.7"), 0);
  assert.equal(admission.connections, 3);
});

test("refusals log the first at once and the rest as one summary per interval", async () => {
  const { log, lines } = capturingLogger();
  const refusals = new RefusalLog(log, () => ({ max_connections: 10 }), 200);
  refusals.note("max_connections_per_ip", "10.0.0.1");
  for (let i = 0; i < 5000; i++) refusals.note("max_connections_per_ip", `10.0.${i % 20}.1`);
  for (let i = 0; i < 700; i++) refusals.note("max_connections", "10.1.0.1");
  refusals.note("accept_failed", undefined, "EMFILE");
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.reason, "max_connections_per_ip");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(lines.length, 2);
  const summary = lines[1]!;
  assert.deepEqual(summary.refused, {
    max_connections_per_ip: 5000,
    max_connections: 700,
    "accept_failed (EMFILE)": 1,
  });
  const addresses = summary.addresses as Record<string, number>;
  assert.equal(addresses["10.1.0.1"], 700);
  assert.equal(Object.keys(addresses).length, 11, "ten busiest and the others");
  assert.equal(
    Object.values(addresses).reduce((a, b) => a + b, 0),
    5700,
  );
  // A quiet interval: nothing logged, and the next refusal is logged at once.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(lines.length, 2);
  refusals.note("max_connections", "10.2.0.1");
  assert.equal(lines.length, 3);
  refusals.stop();
});
