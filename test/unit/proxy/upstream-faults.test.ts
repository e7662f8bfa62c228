import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey } from "../../../src/protocol/api.ts";
import { decodeRequest, encodeResponse } from "../../../src/protocol/frame.ts";
import {
  FakeBroker,
  metadataRequest,
  metadataResponseBody,
  type Responder,
  startProxy,
} from "./connection-rig.ts";

/** Answers Metadata; a request for topic "wrong" gets an answer under another correlation id, "reset" a reset. */
const faultyBroker: Responder = (request) => {
  if (request.apiKey !== ApiKey.Metadata) return undefined;
  const body = decodeRequest(request.frame.subarray(4)).body as { topics: { name: string }[] };
  const topic = body.topics[0]?.name;
  if (topic === "reset")
    return {
      pieces: [
        encodeResponse(
          ApiKey.Metadata,
          request.apiVersion,
          request.correlationId,
          metadataResponseBody("x"),
        ).subarray(0, 10),
      ],
      gapMs: 0,
    };
  const correlationId = topic === "wrong" ? request.correlationId + 1000 : request.correlationId;
  return encodeResponse(
    ApiKey.Metadata,
    request.apiVersion,
    correlationId,
    metadataResponseBody(topic ?? "t"),
  );
};

test("a broker that answers under a wrong correlation id closes that client's connection, and only that one", async (t) => {
  const broker = await FakeBroker.start(faultyBroker);
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const victim = await rig.connect();
  const bystander = await rig.connect();
  bystander.send(metadataRequest(1, "t"));
  await bystander.receive(1);

  victim.send(metadataRequest(7, "wrong"));
  assert.equal(await victim.closesWithin(5000), true, "the connection whose answer was wrong is closed");

  bystander.send(metadataRequest(2, "t"));
  const frames = await bystander.receive(2);
  assert.equal(frames[1]!.readInt32BE(4), 2, "the other client keeps working");
  assert.equal(await bystander.closesWithin(200), false);
});

test("a broker connection reset in the middle of a response closes the client's connection; no half response reaches it", async (t) => {
  const broker = await FakeBroker.start(async (request) => {
    const answer = await faultyBroker(request);
    if (answer && !Buffer.isBuffer(answer)) {
      // Half a response, then the broker's side of that connection goes away.
      setTimeout(() => broker.close(), 50);
    }
    return answer;
  });
  const rig = await startProxy([], broker);
  t.after(() => rig.stop());
  const victim = await rig.connect();
  victim.send(metadataRequest(3, "reset"));
  assert.equal(await victim.closesWithin(5000), true);
  assert.equal(victim.frames.length, 0, "no half response reached the client");
});
