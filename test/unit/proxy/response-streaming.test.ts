import assert from "node:assert/strict";
import type net from "node:net";
import { test } from "node:test";
import type { ExchangeInfo, Feature } from "../../../src/feature-api/feature.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { framePool } from "../../../src/net/frame-pool.ts";
import { ApiKey, type ResponseOf } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeResponse } from "../../../src/protocol/frame.ts";
import { Chain } from "../../../src/proxy/chain.ts";
import {
  type StreamTarget,
  streamUnchanged,
  streamUpToTail,
} from "../../../src/proxy/connection/response-streaming.ts";
import { fakeConnection } from "../../helpers/chain-harness.ts";
import {
  type BrokerAnswer,
  FakeBroker,
  fetchRequest,
  fetchResponseBody,
  gate,
  METADATA_VERSION,
  metadataRequest,
  metadataResponseBody,
  patterned,
  type Responder,
  responseWithCorrelationId,
  startProxy,
  until,
} from "./connection-rig.ts";

type FetchResponse = ResponseOf<typeof ApiKey.Fetch>;

const NON_FLEXIBLE_FETCH = 11;
const ENDPOINTS_FETCH = 16;
const BROKER_ENDPOINT = {
  nodeId: 1,
  host: "broker-1.kafka.internal.example.com",
  port: 9092,
  rack: "rack-a",
};
const PROXY_ENDPOINT = { nodeId: 101, host: "proxy", port: 19092, rack: "rack-a" };

interface Write {
  readonly bytes: Buffer;
  /** The bytes as they were when written. */
  readonly copy: Buffer;
  readonly callback: (() => void) | undefined;
}

function fakeTarget() {
  const writes: Write[] = [];
  const events: string[] = [];
  const state = { writable: true, closed: false };
  const socket = {
    write(bytes: Buffer, callback?: () => void) {
      writes.push({ bytes, copy: Buffer.from(bytes), callback });
      return state.writable;
    },
  };
  const target: StreamTarget = {
    socket: socket as unknown as net.Socket,
    get isClosed() {
      return state.closed;
    },
    pauseUpstream: () => events.push("pause"),
    fail: (reason) => events.push(`fail: ${reason}`),
    sent: () => events.push("sent"),
  };
  const written = () => Buffer.concat(writes.map((w) => w.copy));
  return { target, writes, events, state, written };
}

function fetchInfo(version: number): ExchangeInfo {
  return {
    apiKey: ApiKey.Fetch,
    apiVersion: version,
    connection: fakeConnection(),
    log: silentLogger,
    requestFrame: undefined,
  };
}

/** The offset of the top-level tagged fields: the frame without them ends with its "0 tags" byte. */
function tailStartOf(version: number, body: FetchResponse): number {
  return encodeResponse(ApiKey.Fetch, version, 0, { ...body, nodeEndpoints: [] }).length - 1;
}

const rewritingEndpoints: Feature = {
  name: "rewriting-endpoints",
  handlers: {
    [ApiKey.Fetch]: {
      changesOnlyTaggedFields: true,
      onResponse: (response) => {
        response.nodeEndpoints = response.nodeEndpoints.map(() => ({ ...PROXY_ENDPOINT }));
        return true;
      },
    },
  },
};

test("an unchanged stream copies borrowed bytes and passes owned views on as they are", () => {
  const { target, writes, events, written } = fakeTarget();
  const frame = patterned(1000);
  const sink = streamUnchanged(target, frame.length);
  const borrowed = Buffer.from(frame.subarray(0, 400));

  sink.write(borrowed, true);
  borrowed.fill(0);
  sink.write(frame.subarray(400), false);
  sink.end();

  assert.notEqual(writes[0]!.bytes.buffer, borrowed.buffer, "a borrowed chunk is written through a copy");
  assert.equal(writes[1]!.bytes.buffer, frame.buffer, "an owned view is written as it is");
  assert.equal(writes[1]!.bytes.byteOffset, frame.byteOffset + 400);
  assert.deepEqual(written(), frame);
  assert.deepEqual(events, ["sent"]);
});

test("an unchanged stream gives its assembled frame back to the pool after the last write", () => {
  const { target, writes } = fakeTarget();
  const frame = framePool.acquire(100 * 1024);
  patterned(frame.length).copy(frame);
  const sink = streamUnchanged(target, frame.length);
  sink.assembling!(frame);

  sink.write(frame.subarray(0, 60 * 1024), false);
  sink.write(frame.subarray(60 * 1024), false);
  sink.end(frame);
  const lentBeforeWritten = framePool.lends(frame);
  writes.at(-1)!.callback!();

  assert.equal(writes[0]!.callback, undefined);
  assert.equal(lentBeforeWritten, true);
  assert.equal(framePool.lends(frame), false);
});

test("an unchanged stream pauses the broker side when the client's socket is full, and writes nothing once closed", () => {
  const { target, writes, events, state } = fakeTarget();
  const frame = patterned(300);
  const sink = streamUnchanged(target, frame.length);

  sink.write(frame.subarray(0, 100), false);
  state.writable = false;
  sink.write(frame.subarray(100, 200), false);
  state.closed = true;
  sink.write(frame.subarray(200), false);

  assert.deepEqual(events, ["pause"]);
  assert.deepEqual(
    writes.map((w) => w.copy),
    [frame.subarray(0, 100), frame.subarray(100, 200)],
  );
});

test("a stream up to the tail passes the bytes before the tail on as they arrive and rewrites the tail at its size", () => {
  const { target, events, writes, written } = fakeTarget();
  const body = fetchResponseBody(patterned(70 * 1024), [{ ...BROKER_ENDPOINT }]);
  const original = encodeResponse(ApiKey.Fetch, ENDPOINTS_FETCH, 9, body);
  const frame = framePool.acquire(original.length);
  original.copy(frame);
  const tailStart = tailStartOf(ENDPOINTS_FETCH, body);
  const chain = new Chain([rewritingEndpoints]);
  const info = fetchInfo(ENDPOINTS_FETCH);
  const sink = streamUpToTail(target, chain, chain.linksFor(info, Buffer.alloc(0))!, info);
  sink.assembling!(frame);

  const writtenAfter: number[] = [];
  for (let at = 0; at < frame.length; at += 1000) {
    sink.write(frame.subarray(at, Math.min(at + 1000, frame.length)), false);
    writtenAfter.push(written().length);
  }
  const beforeEnd = written().length;
  sink.end(frame);

  assert.equal(beforeEnd, tailStart, "every byte before the tail went out before the frame was complete");
  assert.ok(writtenAfter[1]! > 0 && writtenAfter[1]! < tailStart, "bytes go out while the frame arrives");
  const out = written();
  assert.equal(out.length, original.length);
  assert.deepEqual(out.subarray(0, tailStart), original.subarray(0, tailStart));
  const decoded = decodeResponse(ApiKey.Fetch, ENDPOINTS_FETCH, out.subarray(4));
  assert.equal(decoded.correlationId, 9);
  assert.deepEqual((decoded.body as FetchResponse).nodeEndpoints, [
    { ...PROXY_ENDPOINT, unknownTaggedFields: undefined },
  ]);
  assert.deepEqual(
    (decoded.body as FetchResponse).responses[0]!.partitions[0]!.records,
    patterned(70 * 1024),
  );
  assert.deepEqual(events, ["sent"]);
  const lentBeforeWritten = framePool.lends(frame);
  writes.at(-1)!.callback!();
  assert.equal(lentBeforeWritten, true);
  assert.equal(framePool.lends(frame), false);
});

test("a stream up to the tail fails the connection on a frame that is not a Fetch response", () => {
  const { target, events } = fakeTarget();
  const frame = Buffer.alloc(2000, 0xff);
  frame.writeInt32BE(frame.length - 4, 0);
  const chain = new Chain([rewritingEndpoints]);
  const info = fetchInfo(ENDPOINTS_FETCH);
  const sink = streamUpToTail(target, chain, chain.linksFor(info, Buffer.alloc(0))!, info);
  sink.assembling!(frame);

  sink.write(frame, false);
  sink.end(frame);

  assert.equal(events.length, 1);
  assert.match(events[0]!, /^fail: malformed Fetch response from upstream: /);
});

/** Answers Fetch with `body`, its first bytes written apart from the rest so the proxy sees it incomplete. */
function fetchResponder(body: FetchResponse): Responder {
  return (request): BrokerAnswer => {
    if (request.apiKey === ApiKey.Fetch) {
      const frame = encodeResponse(ApiKey.Fetch, request.apiVersion, request.correlationId, body);
      return { pieces: [frame.subarray(0, 200), frame.subarray(200)], gapMs: 20 };
    }
    if (request.apiKey === ApiKey.Metadata) {
      return encodeResponse(
        ApiKey.Metadata,
        request.apiVersion,
        request.correlationId,
        metadataResponseBody(),
      );
    }
    return undefined;
  };
}

test("a large response no feature needs is cut through to the client byte for byte", async (t) => {
  const broker = await FakeBroker.start(fetchResponder(fetchResponseBody(patterned(1024 * 1024))));
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(fetchRequest(31, NON_FLEXIBLE_FETCH));

  const [frame] = await client.receive(1);

  assert.ok(broker.answered[0]!.length > 1024 * 1024);
  assert.deepEqual(frame, responseWithCorrelationId(broker.answered[0]!, 31));
  assert.equal(await rig.sample("kpp_responses_streamed_total", "Fetch"), 1);
  assert.equal(await rig.sample("kpp_response_bytes_total", "Fetch"), frame!.length);
});

test("a response just under 64 KiB is passed on whole, not streamed", async (t) => {
  const recordBytes = 60 * 1024;
  const broker = await FakeBroker.start(fetchResponder(fetchResponseBody(patterned(recordBytes))));
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(fetchRequest(32, NON_FLEXIBLE_FETCH));

  const [frame] = await client.receive(1);

  assert.ok(frame!.length < 64 * 1024);
  assert.deepEqual(frame, responseWithCorrelationId(broker.answered[0]!, 32));
  assert.equal(await rig.sample("kpp_responses_streamed_total", "Fetch"), 0);
});

test("a large response whose features change only its tagged fields streams, with the tail rewritten", async (t) => {
  const body = fetchResponseBody(patterned(512 * 1024), [{ ...BROKER_ENDPOINT }]);
  const broker = await FakeBroker.start(fetchResponder(body));
  const rig = await startProxy([rewritingEndpoints], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(fetchRequest(33, ENDPOINTS_FETCH));

  const [frame] = await client.receive(1);

  const expected = responseWithCorrelationId(broker.answered[0]!, 33);
  const tailStart = tailStartOf(ENDPOINTS_FETCH, body);
  assert.equal(frame!.length, expected.length);
  assert.deepEqual(frame!.subarray(0, tailStart), expected.subarray(0, tailStart));
  const decoded = decodeResponse(ApiKey.Fetch, ENDPOINTS_FETCH, frame!.subarray(4));
  assert.equal(decoded.correlationId, 33);
  assert.deepEqual((decoded.body as FetchResponse).nodeEndpoints, [
    { ...PROXY_ENDPOINT, unknownTaggedFields: undefined },
  ]);
  assert.equal(await rig.sample("kpp_responses_streamed_total", "Fetch"), 1);
});

test("a large response a feature needs whole is collected, changed and re-encoded, not streamed", async (t) => {
  const throttling: Feature = {
    name: "throttling",
    handlers: {
      [ApiKey.Fetch]: {
        onResponse: (response) => {
          response.throttleTimeMs = 250;
          return true;
        },
      },
    },
  };
  const records = patterned(512 * 1024);
  const broker = await FakeBroker.start(fetchResponder(fetchResponseBody(records)));
  const rig = await startProxy([throttling], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(fetchRequest(34, NON_FLEXIBLE_FETCH));

  const [frame] = await client.receive(1);

  const decoded = decodeResponse(ApiKey.Fetch, NON_FLEXIBLE_FETCH, frame!.subarray(4));
  const response = decoded.body as FetchResponse;
  assert.equal(decoded.correlationId, 34);
  assert.equal(response.throttleTimeMs, 250);
  assert.deepEqual(response.responses[0]!.partitions[0]!.records, records);
  assert.equal(await rig.sample("kpp_responses_streamed_total", "Fetch"), 0);
});

test("a large response whose turn has not come is collected and follows the responses before it", async (t) => {
  const held = gate();
  const holding: Feature = {
    name: "holding",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          await held.promise;
          return context.next(request);
        },
      },
    },
  };
  const broker = await FakeBroker.start(fetchResponder(fetchResponseBody(patterned(1024 * 1024))));
  const rig = await startProxy([holding], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataRequest(1, "t"), fetchRequest(2, NON_FLEXIBLE_FETCH));

  await until("the Fetch response reached the proxy", async () => {
    return (await rig.sample("kpp_response_bytes_total", "Fetch")) > 0;
  });
  const framesBeforeRelease = client.frames.length;
  held.open();
  const frames = await client.receive(2);

  assert.equal(framesBeforeRelease, 0);
  assert.equal(decodeResponse(ApiKey.Metadata, METADATA_VERSION, frames[0]!.subarray(4)).correlationId, 1);
  assert.deepEqual(frames[1], responseWithCorrelationId(broker.answered[0]!, 2));
  assert.equal(await rig.sample("kpp_responses_streamed_total", "Fetch"), 0);
});
