import assert from "node:assert/strict";
import { test } from "node:test";
import type { Feature } from "../../../src/feature-api/feature.ts";
import { ApiKey } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeResponse } from "../../../src/protocol/frame.ts";
import {
  apiVersionsRequest,
  apiVersionsResponse,
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

const MIN_MAX_IN_FLIGHT_BYTES = 64 * 1024;

function holdingMetadata(held: Promise<void>): Feature {
  return {
    name: "holding",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          await held;
          return context.next(request);
        },
      },
    },
  };
}

const responder: Responder = (request) => {
  if (request.apiKey === ApiKey.Fetch) {
    return encodeResponse(
      ApiKey.Fetch,
      request.apiVersion,
      request.correlationId,
      fetchResponseBody(patterned(100 * 1024)),
    );
  }
  if (request.apiKey === ApiKey.Metadata) {
    return encodeResponse(ApiKey.Metadata, request.apiVersion, request.correlationId, metadataResponseBody());
  }
  if (request.apiKey === ApiKey.ApiVersions) return apiVersionsResponse(request.correlationId);
  return undefined;
};

test("responses parked past maxInFlightBytes behind a held one do not stop the broker side for good", async (t) => {
  const held = gate();
  const broker = await FakeBroker.start(responder);
  const rig = await startProxy([holdingMetadata(held.promise)], broker, {
    maxInFlightBytes: MIN_MAX_IN_FLIGHT_BYTES,
  });
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataRequest(1, "t"), fetchRequest(2, 11));
  await until(
    "the Fetch response is parked",
    async () => (await rig.sample("kpp_response_bytes_total", "Fetch")) > 0,
  );

  held.open();
  const frames = await client.receive(2, 3000);

  assert.equal(decodeResponse(ApiKey.Metadata, METADATA_VERSION, frames[0]!.subarray(4)).correlationId, 1);
  assert.equal(frames[1]!.readInt32BE(4), 2);
});

test("after a parked backlog is written, the next response is still read from the broker", async (t) => {
  const held = gate();
  const answering: Feature = {
    name: "answering",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async () => {
          await held.promise;
          return metadataResponseBody("local");
        },
      },
    },
  };
  const broker = await FakeBroker.start(responder);
  const rig = await startProxy([answering], broker, { maxInFlightBytes: MIN_MAX_IN_FLIGHT_BYTES });
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataRequest(1, "t"), fetchRequest(2, 11));
  await until(
    "the Fetch response is parked",
    async () => (await rig.sample("kpp_response_bytes_total", "Fetch")) > 0,
  );
  held.open();
  await client.receive(2, 3000);

  client.send(apiVersionsRequest(3));
  const frames = await client.receive(3, 3000);

  assert.deepEqual(frames[2], responseWithCorrelationId(broker.answered[1]!, 3));
});

test("a draining connection closes once its last response, one a feature answered, is written", async (t) => {
  const held = gate();
  const broker = await FakeBroker.start(responder);
  const rig = await startProxy([holdingMetadata(held.promise)], broker);
  t.after(() => rig.stop());
  const client = await rig.connect();
  client.send(metadataRequest(1, "t"));
  await until(
    "the proxy has the request",
    async () => (await rig.sample("kpp_requests_total", "Metadata")) === 1,
  );

  rig.connections[0]!.drain();
  held.open();
  const frames = await client.receive(1);
  const closed = await client.closesWithin(2000);

  assert.equal(decodeResponse(ApiKey.Metadata, METADATA_VERSION, frames[0]!.subarray(4)).correlationId, 1);
  assert.equal(closed, true, "the connection stays open after its last response");
});
