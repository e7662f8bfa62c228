import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnectionStateKey, type Feature } from "../../../src/feature-api/feature.ts";
import { API_KEYS, ApiKey, apiInfo, ErrorCode, type ResponseOf } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import {
  API_VERSIONS_VERSION,
  apiVersionsRequest,
  apiVersionsResponse,
  type BrokerRequest,
  CLIENT_ID,
  FakeBroker,
  gate,
  METADATA_VERSION,
  metadataRequest,
  produceRequest,
  type Responder,
  requestWithCorrelationId,
  responseWithCorrelationId,
  sleep,
  startProxy,
  until,
} from "./connection-rig.ts";

const apiVersionsInfo = apiInfo(ApiKey.ApiVersions)!;

function decodeMetadata(frame: Buffer) {
  const decoded = decodeResponse(ApiKey.Metadata, METADATA_VERSION, frame.subarray(4));
  return { correlationId: decoded.correlationId, body: decoded.body as ResponseOf<typeof ApiKey.Metadata> };
}

/** Answers ApiVersions with the broker-side correlation id plus 100 as Metadata's max version. */
const numberingResponder: Responder = (request) =>
  request.apiKey === ApiKey.ApiVersions
    ? apiVersionsResponse(request.correlationId, request.correlationId + 100)
    : undefined;

test("a request no feature takes reaches the broker as sent, correlation id aside, and its response comes back", async (t) => {
  const broker = await FakeBroker.start(numberingResponder);
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  const sent = [apiVersionsRequest(41), apiVersionsRequest(7), apiVersionsRequest(-3)];
  client.send(Buffer.concat(sent));

  const frames = await client.receive(3);

  assert.deepEqual(
    broker.received.map((r) => r.correlationId),
    [1, 2, 3],
    "the proxy numbers requests on its own broker connection",
  );
  for (const [i, request] of broker.received.entries()) {
    assert.deepEqual(request.frame, requestWithCorrelationId(sent[i]!, request.correlationId));
  }
  assert.deepEqual(frames, [
    responseWithCorrelationId(broker.answered[0]!, 41),
    responseWithCorrelationId(broker.answered[1]!, 7),
    responseWithCorrelationId(broker.answered[2]!, -3),
  ]);
  assert.equal(rig.connections[0]!.clientId, CLIENT_ID);
  assert.equal(await rig.sample("kpp_requests_total", "ApiVersions"), 3);
  assert.equal(
    await rig.sample("kpp_response_bytes_total", "ApiVersions"),
    frames.reduce((sum, frame) => sum + frame.length, 0),
  );
});

test("the broker connection is opened by the first request, not by connecting", async (t) => {
  const broker = await FakeBroker.start();
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  await until("the proxy accepts", () => rig.connections.length === 1);
  await sleep(50);
  assert.equal(broker.accepted, 0);
  client.send(apiVersionsRequest(1));
  await client.receive(1);
  assert.equal(broker.accepted, 1);
});

test("a response held by a feature goes out before a later one the broker answered first", async (t) => {
  const held = gate();
  const calls: string[] = [];
  const holding: Feature = {
    name: "holding",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          calls.push(`held ${request.topics!.map((topic) => topic.name).join(",")}`);
          await held.promise;
          return context.next(request);
        },
      },
    },
  };
  const broker = await FakeBroker.start();
  const rig = await startProxy([holding], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataRequest(1, "first"), apiVersionsRequest(2));

  await until("the ApiVersions response reached the proxy", async () => {
    return (await rig.sample("kpp_response_bytes_total", "ApiVersions")) > 0;
  });
  await sleep(50);
  const beforeRelease = client.frames.length;
  held.open();
  const frames = await client.receive(2);

  assert.deepEqual(calls, ["held first"]);
  assert.equal(beforeRelease, 0, "nothing is written while the first response is pending");
  assert.deepEqual(
    broker.received.map((r) => r.apiKey),
    [ApiKey.ApiVersions, ApiKey.Metadata],
    "the broker saw (and answered) the second request first",
  );
  const metadata = decodeMetadata(frames[0]!);
  assert.equal(metadata.correlationId, 1);
  assert.deepEqual(
    metadata.body.topics.map((topic) => topic.name),
    ["first"],
  );
  assert.deepEqual(frames[1], responseWithCorrelationId(broker.answered[0]!, 2));
  assert.equal(frames.length, 2);
  assert.equal(rig.connections[0]!.inFlight, 0);
});

test("Produce with acks=0 passed on raw gets no response, and the next request's response follows", async (t) => {
  const broker = await FakeBroker.start();
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  const produce = produceRequest(10, 0);
  client.send(produce, apiVersionsRequest(11));

  const frames = await client.receive(1);
  await sleep(50);

  assert.deepEqual(
    broker.received.map((r) => r.apiKey),
    [ApiKey.Produce, ApiKey.ApiVersions],
  );
  assert.deepEqual(
    broker.received[0]!.frame,
    requestWithCorrelationId(produce, broker.received[0]!.correlationId),
  );
  assert.equal(client.frames.length, 1);
  assert.deepEqual(frames[0], responseWithCorrelationId(broker.answered[0]!, 11));
  assert.equal(rig.connections[0]!.inFlight, 0);
});

for (const passing of ["says no response is expected", "passes it on as it is"] as const) {
  test(`Produce with acks=0 taken by a feature that ${passing} gets no response, and the next request's response follows`, async (t) => {
    const seen: number[] = [];
    const auditing: Feature = {
      name: "auditing",
      handlers: {
        [ApiKey.Produce]: {
          onRequest: async (request, context) => {
            seen.push(request.acks);
            return passing === "passes it on as it is"
              ? context.next(request)
              : context.next(request, { expectResponse: request.acks !== 0 });
          },
        },
      },
    };
    const broker = await FakeBroker.start();
    const rig = await startProxy([auditing], broker);
    t.after(() => rig.stop());
    const client = await rig.connect();
    client.send(produceRequest(20, 0), apiVersionsRequest(21));

    const frames = await client.receive(1);
    await sleep(50);

    assert.deepEqual(seen, [0]);
    assert.deepEqual(
      broker.received.map((r) => r.apiKey),
      [ApiKey.Produce, ApiKey.ApiVersions],
    );
    assert.equal(client.frames.length, 1);
    assert.deepEqual(frames[0], responseWithCorrelationId(broker.answered[0]!, 21));
    assert.equal(rig.connections[0]!.inFlight, 0);
  });
}

function shortFrame(): Buffer {
  const frame = Buffer.alloc(10);
  frame.writeInt32BE(6, 0);
  frame.writeInt16BE(ApiKey.ApiVersions, 4);
  frame.writeInt16BE(API_VERSIONS_VERSION, 6);
  return frame;
}

function unknownApiFrame(): Buffer {
  const unknown = Math.max(...API_KEYS.map((api) => api.apiKey)) + 1;
  const frame = Buffer.alloc(14);
  frame.writeInt32BE(10, 0);
  frame.writeInt16BE(unknown, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(3, 8);
  frame.writeInt16BE(-1, 12);
  return frame;
}

function negativeLengthFrame(): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeInt32BE(-5, 0);
  return frame;
}

for (const [kind, malformed] of [
  ["a frame shorter than a request header", shortFrame],
  ["an unknown api key", unknownApiFrame],
  ["a negative frame length", negativeLengthFrame],
] as const) {
  test(`${kind} closes that connection and no other`, async (t) => {
    const broker = await FakeBroker.start();
    const rig = await startProxy([], broker);
    t.after(() => rig.stop());
    const healthy = await rig.connect();
    healthy.send(apiVersionsRequest(1));
    await healthy.receive(1);
    const bad = await rig.connect();
    await until("both are accepted", () => rig.connections.length === 2);
    const badId = rig.connections[1]!.id;

    bad.send(malformed());
    const closed = await bad.closesWithin(2000);
    healthy.send(apiVersionsRequest(2));
    const healthyFrames = await healthy.receive(2);
    const fresh = await rig.connect();
    fresh.send(apiVersionsRequest(3));
    const freshFrames = await fresh.receive(1);

    assert.equal(closed, true);
    assert.equal(bad.frames.length, 0);
    assert.deepEqual(rig.closed, [badId]);
    assert.equal(rig.connections[0]!.isClosed, false);
    assert.deepEqual(
      broker.received.map((r) => r.apiKey),
      [ApiKey.ApiVersions, ApiKey.ApiVersions, ApiKey.ApiVersions],
      "nothing of the bad connection reached the broker",
    );
    assert.equal(
      decodeResponse(ApiKey.ApiVersions, API_VERSIONS_VERSION, healthyFrames[1]!.subarray(4)).correlationId,
      2,
    );
    assert.equal(
      decodeResponse(ApiKey.ApiVersions, API_VERSIONS_VERSION, freshFrames[0]!.subarray(4)).correlationId,
      3,
    );
  });
}

test("an ApiVersions request newer than the codec is answered by the proxy with UNSUPPORTED_VERSION", async (t) => {
  const broker = await FakeBroker.start();
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  const newer = encodeRequest(
    {
      apiKey: ApiKey.ApiVersions,
      apiVersion: apiVersionsInfo.maxVersion,
      correlationId: 9,
      clientId: CLIENT_ID,
    },
    { clientSoftwareName: "rig", clientSoftwareVersion: "1.0", clusterId: null, nodeId: -1 },
  );
  newer.writeInt16BE(apiVersionsInfo.maxVersion + 1, 6);
  client.send(newer);

  const [frame] = await client.receive(1);
  const decoded = decodeResponse(ApiKey.ApiVersions, apiVersionsInfo.minVersion, frame!.subarray(4));

  assert.equal(decoded.correlationId, 9);
  assert.deepEqual(decoded.body, {
    errorCode: ErrorCode.UNSUPPORTED_VERSION,
    apiKeys: [
      {
        apiKey: ApiKey.ApiVersions,
        minVersion: apiVersionsInfo.minVersion,
        maxVersion: apiVersionsInfo.maxVersion,
        unknownTaggedFields: undefined,
      },
    ],
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1n,
    finalizedFeatures: [],
    zkMigrationReady: false,
    unknownTaggedFields: undefined,
  });
  assert.equal(broker.accepted, 0);
});

test("connection hooks run once each and connection state is disposed on close", async (t) => {
  const events: string[] = [];
  let disposed = 0;
  const key = new ConnectionStateKey("session", () => ({ dispose: () => disposed++ }));
  let remoteSeen: string | undefined;
  let created: unknown;
  const hooked: Feature = {
    name: "hooked",
    handlers: {},
    onAccepted: (connection) => {
      events.push(`accepted ${connection.id} ${connection.listener}`);
      remoteSeen = connection.remote;
      created = connection.state(key);
    },
    onClosed: (connection) => events.push(`closed ${connection.id}`),
  };
  const throwing: Feature = {
    name: "throwing",
    handlers: {},
    onAccepted: () => {
      events.push("throwing accepted");
      throw new Error("hook failed");
    },
    onClosed: () => {
      events.push("throwing closed");
      throw new Error("hook failed");
    },
  };
  const broker = await FakeBroker.start();
  const rig = await startProxy([throwing, hooked], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(apiVersionsRequest(1));
  await client.receive(1);
  const connection = rig.connections[0]!;
  const clientPort = client.socket.localPort;
  const later = connection.state(key);
  const eventsWhileOpen = [...events];

  client.close();
  await until("the proxy sees the close", () => rig.closed.length === 1);
  await sleep(50);

  assert.equal(remoteSeen, `127.0.0.1:${clientPort}`);
  assert.equal(later, created, "a feature gets the same value for the connection's lifetime");
  assert.deepEqual(eventsWhileOpen, ["throwing accepted", "accepted 1 bootstrap"]);
  assert.deepEqual(events, ["throwing accepted", "accepted 1 bootstrap", "throwing closed", "closed 1"]);
  assert.equal(disposed, 1);
  assert.deepEqual(rig.closed, [1]);
  assert.equal(connection.isClosed, true);
});

test("the broker closing its connection closes the client's", async (t) => {
  const broker = await FakeBroker.start();
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(apiVersionsRequest(1));
  await client.receive(1);

  broker.close();

  assert.equal(await client.closesWithin(2000), true);
  assert.deepEqual(rig.closed, [1]);
});

test("a draining connection reads no more requests and closes once its last response is written", async (t) => {
  const answer = gate();
  const responder: Responder = async (request: BrokerRequest) => {
    await answer.promise;
    return apiVersionsResponse(request.correlationId);
  };
  const broker = await FakeBroker.start(responder);
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(apiVersionsRequest(1));
  await until("the broker has the request", () => broker.received.length === 1);

  const connection = rig.connections[0]!;
  connection.drain();
  client.send(apiVersionsRequest(2));
  await sleep(50);
  const closedBeforeAnswer = connection.isClosed;
  answer.open();
  const closed = await client.closesWithin(2000);

  assert.equal(closedBeforeAnswer, false);
  assert.equal(closed, true);
  assert.deepEqual(client.frames, [responseWithCorrelationId(broker.answered[0]!, 1)]);
  assert.equal(broker.received.length, 1);
});
