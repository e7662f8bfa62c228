/**
 * A client connection's timers and close paths, over loopback in front of a fake broker: the sweep closes a
 * connection past its first-frame deadline, its authentication deadline or idle too long, never one with a
 * request in flight; a client that half-closes still gets its answers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey } from "../../../src/protocol/api.ts";
import {
  apiVersionsRequest,
  apiVersionsResponse,
  FakeBroker,
  metadataRequest,
  produceRequest,
  startProxy,
  until,
} from "./connection-rig.ts";

const IDLE_MS = 60_000;
const FIRST_FRAME_MS = 10_000;
const timers = { connectionsMaxIdleMs: IDLE_MS, firstFrameTimeoutMs: FIRST_FRAME_MS };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a connection that sends no complete request is closed at its first-frame deadline, not before", async () => {
  const rig = await startProxy([], await FakeBroker.start(), timers);
  try {
    const client = await rig.connect();
    client.send(apiVersionsRequest(1).subarray(0, 7));
    await until("accepted", () => rig.connections.length === 1);
    const connection = rig.connections[0]!;
    const start = Date.now();
    connection.sweep(start + FIRST_FRAME_MS - 1000);
    assert.equal(connection.isClosed, false);
    connection.sweep(start + FIRST_FRAME_MS + 100);
    assert.equal(connection.isClosed, true);
    assert.equal(await client.closesWithin(1000), true);
  } finally {
    rig.stop();
  }
});

test("after its first request a connection closes only when idle for connections_max_idle_ms", async () => {
  const rig = await startProxy([], await FakeBroker.start(), timers);
  try {
    const client = await rig.connect();
    client.send(apiVersionsRequest(1));
    await client.receive(1);
    const connection = rig.connections[0]!;
    const t0 = Date.now();
    // Bytes arrived since the last sweep: active, and idleness counts from this sweep on.
    const t1 = t0 + FIRST_FRAME_MS + 1000;
    connection.sweep(t1);
    assert.equal(connection.isClosed, false, "the first-frame deadline no longer applies");
    connection.sweep(t1 + 1000);
    connection.sweep(t1 + IDLE_MS - 1);
    assert.equal(connection.isClosed, false);
    connection.sweep(t1 + IDLE_MS);
    assert.equal(connection.isClosed, true);
    assert.equal(await client.closesWithin(1000), true);
  } finally {
    rig.stop();
  }
});

test("a request in flight (a long poll the broker holds) is not idle, however long it takes", async () => {
  let release: (() => void) | undefined;
  const broker = await FakeBroker.start(async (request) => {
    if (request.apiKey !== ApiKey.ApiVersions) return undefined;
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return apiVersionsResponse(request.correlationId);
  });
  const rig = await startProxy([], broker, timers);
  try {
    const client = await rig.connect();
    client.send(apiVersionsRequest(1));
    await until("the broker holds the request", () => release !== undefined);
    const connection = rig.connections[0]!;
    const now = Date.now();
    for (let i = 1; i <= 5; i++) connection.sweep(now + i * IDLE_MS);
    assert.equal(connection.isClosed, false);
    release!();
    await client.receive(1);
    // The first sweep after the response was written starts the idle time.
    const answered = now + 6 * IDLE_MS;
    connection.sweep(answered);
    connection.sweep(answered + IDLE_MS - 1);
    assert.equal(connection.isClosed, false);
    connection.sweep(answered + IDLE_MS);
    assert.equal(connection.isClosed, true);
  } finally {
    rig.stop();
  }
});

test("the authentication deadline hook closes a connection not authenticated in time", async () => {
  const rig = await startProxy([], await FakeBroker.start(), timers);
  try {
    const first = await rig.connect();
    const second = await rig.connect();
    first.send(apiVersionsRequest(1));
    second.send(apiVersionsRequest(1));
    await first.receive(1);
    await second.receive(1);
    const now = Date.now();
    const [a, b] = rig.connections;
    a!.requireAuthenticationBy(now + 5000);
    b!.requireAuthenticationBy(now + 5000);
    b!.authenticated();
    a!.sweep(now + 5000);
    b!.sweep(now + 5000);
    assert.equal(a!.isClosed, true);
    assert.equal(b!.isClosed, false);
  } finally {
    rig.stop();
  }
});

test("a client that half-closes after pipelined requests gets every answer, then the proxy ends", async () => {
  const broker = await FakeBroker.start(async (request) => {
    await sleep(50);
    if (request.apiKey === ApiKey.ApiVersions) return apiVersionsResponse(request.correlationId);
    if (request.apiKey === ApiKey.Metadata) return apiVersionsResponse(request.correlationId);
    return undefined;
  });
  const rig = await startProxy([], broker, timers);
  try {
    const client = await rig.connect();
    client.socket.write(Buffer.concat([apiVersionsRequest(1), metadataRequest(2), produceRequest(3, 0)]));
    client.socket.end();
    const frames = await client.receive(2, 3000);
    assert.deepEqual(
      frames.map((f) => f.readInt32BE(4)),
      [1, 2],
    );
    assert.equal(await client.closesWithin(2000), true);
    await until("the acks=0 Produce reached the broker", () => broker.received.length === 3);
  } finally {
    rig.stop();
  }
});
