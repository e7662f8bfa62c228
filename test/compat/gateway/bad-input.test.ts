import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Kafka, Producer } from "kafkajs";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { fastGroup, GroupMember, kafkaClient } from "../kafkajs/client.ts";
import { eventually, type Gateway, runsDirect, startGateway } from "./environment.ts";
import { apiVersionsKeys, apiVersionsRequest, sendRaw, WireConnection } from "./wire.ts";

function lengthPrefix(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length);
  return bytes;
}

/** The start of a real TLS 1.2 ClientHello record (content type 0x16, version 03 01). */
const TLS_CLIENT_HELLO = Buffer.concat([
  Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
  randomBytes(32),
  Buffer.from([0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]),
]);

/** Random bytes whose first byte cannot start a plausible frame, TLS record or HTTP method. */
function randomGarbage(size: number): Buffer {
  const bytes = randomBytes(size);
  bytes[0] = 0x80 | bytes[0]!;
  return bytes;
}

describe("bad input on the proxy's client port (Kafka 4.4, 1 broker)", { timeout: 180_000 }, () => {
  let gateway: Gateway;
  let kafka: Kafka;
  let producer: Producer;
  let reader: GroupMember;
  let topic: string;
  const sent: string[] = [];
  let sendErrors: Error[] = [];
  let producing = true;
  let background: Promise<void>;

  before(async () => {
    gateway = await startGateway({ brokers: 1 });
    kafka = kafkaClient(gateway.bootstrap, "compat-bad-input");
    topic = gateway.uniqueName("bad-input");
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    reader = new GroupMember(kafka, "bystander", fastGroup(gateway.uniqueName("bad-input")));
    await reader.start(topic);
    background = (async () => {
      for (let i = 0; producing; i++) {
        const value = `steady-${i}`;
        try {
          await producer.send({ topic, acks: -1, messages: [{ key: `k${i % 3}`, value }] });
          sent.push(value);
        } catch (error) {
          sendErrors.push(error as Error);
        }
        await sleep(50);
      }
    })();
  });

  after(async () => {
    producing = false;
    await background;
    await producer?.disconnect().catch(() => {});
    await reader?.stop().catch(() => {});
    await gateway?.close();
  });

  const cases: { name: string; bytes: () => Buffer; log: RegExp | undefined; endAfterWrite?: boolean }[] = [
    {
      name: "random bytes",
      bytes: () => randomGarbage(4096),
      log: /frame length -?\d+ (is negative|exceeds)/,
    },
    {
      name: "a frame of random bytes (a garbage request header)",
      bytes: () => Buffer.concat([lengthPrefix(64), Buffer.from([0x7f, 0x7f]), randomBytes(62)]),
      log: undefined,
    },
    {
      name: "a truncated frame, then close",
      bytes: () => Buffer.concat([apiVersionsRequest(1).subarray(0, 9)]),
      log: undefined,
      endAfterWrite: true,
    },
    {
      name: "a 2 GiB length prefix",
      bytes: () => Buffer.concat([lengthPrefix(0x7fffffff), randomBytes(60)]),
      log: /exceeds the maximum/,
    },
    {
      name: "a 2 GiB length prefix read as negative (0x80000000)",
      bytes: () => Buffer.concat([lengthPrefix(0x80000000), randomBytes(60)]),
      log: /is negative/,
    },
    { name: "a TLS ClientHello", bytes: () => TLS_CLIENT_HELLO, log: /TLS client on a plaintext listener/ },
    {
      name: "an HTTP request",
      bytes: () => Buffer.from("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n"),
      log: /HTTP client on a Kafka listener/,
    },
  ];

  for (const testCase of cases) {
    it(`closes only the connection that sent ${testCase.name}`, async () => {
      const bystander = await WireConnection.connect(gateway.bootstrap);
      try {
        const outcome = await sendRaw(gateway.bootstrap, testCase.bytes(), {
          endAfterWrite: testCase.endAfterWrite,
          timeoutMs: 15_000,
        });
        assert.equal(outcome.closedByPeer, true, "the proxy closed the connection");
        if (testCase.log && !runsDirect) {
          const pattern = testCase.log;
          await eventually(
            `a log line matching ${pattern}`,
            () => (pattern.test(gateway.logs()) ? true : undefined),
            5_000,
          );
        }
        const { errorCode, keys } = apiVersionsKeys(await bystander.request(apiVersionsRequest));
        assert.equal(errorCode, ErrorCode.NONE, "a connection open alongside still works");
        assert.ok(
          keys.includes(ApiKey.Produce) && keys.includes(ApiKey.Fetch),
          "ApiVersions lists Produce and Fetch",
        );
      } finally {
        bystander.close();
      }
      const sentSoFar = sent.length;
      await eventually("the KafkaJS producer to go on producing", () =>
        sent.length > sentSoFar ? true : undefined,
      );
      if (gateway.proxy) assert.equal(gateway.proxy.process.exitCode, null, "the proxy is still running");
    });
  }

  it("a KafkaJS producer and consumer connected throughout keep working", async () => {
    await sleep(1_000);
    producing = false;
    await background;
    assert.deepEqual(sendErrors, [], "no send failed");
    sendErrors = [];
    await reader.waitForCount(sent.length, 30_000);
    const received = new Set(reader.received.map((r) => r.value));
    assert.deepEqual(
      sent.filter((value) => !received.has(value)),
      [],
      "every record produced during the bad input was consumed",
    );
  });
});
