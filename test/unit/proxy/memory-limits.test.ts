import assert from "node:assert/strict";
import { test } from "node:test";
import type { Feature } from "../../../src/feature-api/feature.ts";
import { ApiKey, apiInfo } from "../../../src/protocol/api.ts";
import { encodeResponse } from "../../../src/protocol/frame.ts";
import { MemoryBudget } from "../../../src/proxy/memory-budget.ts";
import {
  FakeBroker,
  fetchRequest,
  fetchResponseBody,
  gate,
  metadataRequest,
  metadataResponseBody,
  patterned,
  sleep,
  startProxy,
  until,
} from "./connection-rig.ts";

/** ~30 KB per response: topic names are part of the answer. */
const BIG_TOPICS = Array.from({ length: 300 }, (_, i) => `topic-${i}-${"x".repeat(80)}`);

/** Answers every Metadata request itself, with a large response, counting what it answered. */
function answeringMetadata(counter: { answered: number }, held?: Promise<void>): Feature {
  return {
    name: "answering",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async () => {
          if (held) await held;
          counter.answered++;
          return metadataResponseBody(...BIG_TOPICS);
        },
      },
    },
  };
}

function metadataBurst(count: number, from = 1): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => metadataRequest(from + i, "t")));
}

test("a client that pipelines requests the proxy answers and never reads stops being read; nothing is lost", async (t) => {
  const counter = { answered: 0 };
  const broker = await FakeBroker.start(() => undefined);
  const maxInFlightRequests = 32;
  const rig = await startProxy([answeringMetadata(counter)], broker, { maxInFlightRequests });
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.socket.pause();
  const requests = 3000;
  for (let sent = 0; sent < requests; sent += 100) client.send(metadataBurst(100, sent + 1));
  await sleep(500);
  await until("the proxy stops answering", async () => {
    const before = counter.answered;
    await sleep(200);
    return counter.answered === before;
  });
  const waiting = rig.connections[0]!.socket.writableLength;
  assert.ok(
    counter.answered < requests,
    `${counter.answered} of ${requests} answered while the client reads none`,
  );

  client.socket.resume();
  const frames = await client.receive(requests, 30_000);
  const responseBytes = frames[0]!.length;
  assert.ok(
    // At most the answers of the requests in flight when the socket filled, and of those taken before the
    // filling was seen: bounded by the in-flight cap, not by what the client sent.
    waiting <= 2 * (maxInFlightRequests + 1) * responseBytes,
    `${waiting} bytes waited in the proxy for a client that did not read (answers of ${responseBytes} bytes)`,
  );
  assert.equal(frames.length, requests);
  assert.deepEqual(
    frames.map((frame) => frame.readInt32BE(4)),
    Array.from({ length: requests }, (_, i) => i + 1),
  );
  assert.equal(counter.answered, requests);
});

test("past maxInFlightRequests waiting responses, no further request is taken until one is answered", async (t) => {
  const counter = { answered: 0 };
  const held = gate();
  const seen: number[] = [];
  const feature = answeringMetadata(counter, held.promise);
  const handler = feature.handlers[ApiKey.Metadata]!;
  const original = handler.onRequest!.bind(handler);
  handler.onRequest = (request, context) => {
    seen.push(seen.length + 1);
    return original(request, context);
  };
  const broker = await FakeBroker.start(() => undefined);
  const rig = await startProxy([feature], broker, { maxInFlightRequests: 8 });
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataBurst(50));
  await sleep(300);
  assert.equal(seen.length, 8, "the ninth request waits, even when it came in the same read");

  held.open();
  const frames = await client.receive(50, 10_000);
  assert.deepEqual(
    frames.map((frame) => frame.readInt32BE(4)),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
});

test("while one client's backlog exhausts the memory budget, other clients are held, then served", async (t) => {
  const counter = { answered: 0 };
  const budget = new MemoryBudget(1024 * 1024);
  const broker = await FakeBroker.start(() => undefined);
  const rig = await startProxy([answeringMetadata(counter)], broker, { budget });
  t.after(() => rig.stop());
  const hog = await rig.connect();
  hog.socket.pause();
  hog.send(metadataBurst(400));
  await until("the budget is exhausted", () => budget.isExhausted, 10_000);

  const other = await rig.connect();
  other.send(metadataRequest(1, "t"));
  const early = await other.receive(1, 500).then(
    () => true,
    () => false,
  );
  assert.equal(early, false, "the other client's request waits while the budget is exhausted");

  hog.socket.resume();
  const [answer] = await other.receive(1, 10_000);
  assert.equal(answer!.readInt32BE(4), 1);
  await hog.receive(400, 30_000);
  await until("every held byte is given back", () => budget.usedBytes === 0, 5000);
  assert.ok(budget.exhaustions >= 1);
});

test("a Fetch behind another whose answer may pass maxInFlightBytes waits until the first is answered", async (t) => {
  const held = gate();
  const broker = await FakeBroker.start(async (request) => {
    await held.promise;
    return request.apiKey === ApiKey.Fetch
      ? encodeResponse(
          ApiKey.Fetch,
          request.apiVersion,
          request.correlationId,
          fetchResponseBody(patterned(1024)),
        )
      : undefined;
  });
  const rig = await startProxy([], broker, { maxInFlightBytes: 8 * 1024 * 1024 });
  t.after(() => rig.stop());
  const client = await rig.connect();
  const version = apiInfo(ApiKey.Fetch)!.maxVersion;
  client.send(...Array.from({ length: 20 }, (_, i) => fetchRequest(i + 1, version)));
  await until("the first Fetch reaches the broker", () => broker.received.length >= 1);
  await sleep(300);
  assert.equal(
    broker.received.length,
    2,
    "each Fetch lets its answer hold 64 MiB: the second is taken, and the third waits behind it",
  );

  held.open();
  const frames = await client.receive(20, 10_000);
  assert.deepEqual(
    frames.map((frame) => frame.readInt32BE(4)),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
});

test("requests behind one long-polling Fetch are still taken", async (t) => {
  const held = gate();
  const broker = await FakeBroker.start(async (request) => {
    if (request.apiKey === ApiKey.Fetch) await held.promise;
    return request.apiKey === ApiKey.Fetch
      ? encodeResponse(
          ApiKey.Fetch,
          request.apiVersion,
          request.correlationId,
          fetchResponseBody(patterned(1024)),
        )
      : encodeResponse(ApiKey.Metadata, request.apiVersion, request.correlationId, metadataResponseBody());
  });
  const rig = await startProxy([], broker, { maxInFlightBytes: 8 * 1024 * 1024 });
  t.after(() => rig.stop());
  const client = await rig.connect();
  const version = apiInfo(ApiKey.Fetch)!.maxVersion;
  client.send(fetchRequest(1, version), ...Array.from({ length: 5 }, (_, i) => metadataRequest(i + 2, "t")));
  await until("every request reaches the broker", () => broker.received.length === 6);
  held.open();
  await client.receive(6, 5000);
});
