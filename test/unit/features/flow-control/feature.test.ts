import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Registry } from "prom-client";
import { AdminApi } from "../../../../src/admin/routes.ts";
import type { ProxyConfig } from "../../../../src/config/load.ts";
import type { FeatureServices } from "../../../../src/feature-api/services.ts";
import { parseQuotas } from "../../../../src/features/flow-control/config.ts";
import { FlowControl } from "../../../../src/features/flow-control/index.ts";
import { silentLogger } from "../../../../src/log/logger.ts";
import {
  ApiKey,
  ErrorCode,
  type RequestOf,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import { exchange, fakeConnection, type UpstreamCall } from "../../../helpers/chain-harness.ts";

const PRODUCE = 9;
const T_ID = "a".repeat(32);

const stops: (() => void)[] = [];
after(() => {
  for (const stop of stops) stop();
});

function flowControl(quotas: unknown): { feature: FlowControl; registry: Registry; admin: AdminApi } {
  const registry = new Registry();
  const admin = new AdminApi("a-token-of-sixteen-chars");
  const services = {
    config: { quotas: parseQuotas(quotas) } as ProxyConfig,
    topology: {
      topics: { nameOf: (id: string) => (id === T_ID ? "t-1" : undefined), resolveIds: async () => {} },
    },
    log: silentLogger,
    metrics: { registry },
    admin,
    requests: { request: () => Promise.reject(new Error("no requests")) },
    onReload: () => {},
    onStop: (stop: () => void) => stops.push(stop),
  } as unknown as FeatureServices;
  return { feature: new FlowControl(services), registry, admin };
}

function produceRequest(topics: { name?: string; topicId?: string; bytes: number }[]) {
  return {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topicData: topics.map((topic) => ({
      name: topic.name ?? "",
      topicId: topic.topicId ?? ZERO_UUID,
      partitionData: [{ index: 0, records: Buffer.alloc(topic.bytes) }],
    })),
  } satisfies RequestOf<typeof ApiKey.Produce>;
}

function accepting(call: UpstreamCall): ResponseOf<typeof ApiKey.Produce> {
  return {
    throttleTimeMs: 0,
    nodeEndpoints: [],
    responses: call.request.topicData.map((topic: RequestOf<typeof ApiKey.Produce>["topicData"][number]) => ({
      name: topic.name,
      topicId: topic.topicId,
      partitionResponses: [
        {
          index: 0,
          errorCode: ErrorCode.NONE,
          baseOffset: 0n,
          logAppendTimeMs: -1n,
          logStartOffset: 0n,
          recordErrors: [],
          errorMessage: null,
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
        },
      ],
    })),
  };
}

const limitT = { topics: { "t-.*": { produce_bytes_per_second: 1000 } }, burst_seconds: 1 };

describe("flow control", () => {
  test("requests for topics without a limit pass on as raw bytes", async () => {
    const { feature } = flowControl(limitT);
    const result = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "u", bytes: 5000 }]),
      accepting,
    );
    assert.equal(result.intercepted, false);
    assert.equal(result.response?.throttleTimeMs, 0);
  });

  test("with no quotas, nothing is taken", async () => {
    const { feature } = flowControl(undefined);
    const result = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 5000 }]),
      accepting,
    );
    assert.equal(result.intercepted, false);
  });

  test("a produce past the burst is answered with its debt as throttle_time_ms, and the next waits it out", async () => {
    const { feature, registry } = flowControl(limitT);
    const connection = fakeConnection();
    const first = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 1000 }]),
      accepting,
      connection,
    );
    assert.equal(first.intercepted, true);
    assert.equal(first.response?.throttleTimeMs, 0, "within the burst");
    const second = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 200 }]),
      accepting,
      connection,
    );
    const throttle = second.response!.throttleTimeMs;
    assert.ok(throttle >= 190 && throttle <= 200, `throttle ${throttle} ms for 200 bytes over at 1000 B/s`);
    assert.equal(second.calls.length, 1, "the records were sent on: nothing is dropped");
    const started = Date.now();
    await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 1 }]),
      accepting,
      connection,
    );
    assert.ok(Date.now() - started >= throttle - 20, "the connection's next limited request waited");
    const text = await registry.metrics();
    assert.match(
      text,
      /kafka_proxy_throttled_responses_total\{direction="produce",quota="topic:t-\.\*"\} [1-9]/,
    );
    assert.match(
      text,
      /kafka_proxy_throttle_time_seconds_total\{direction="produce",quota="topic:t-\.\*"\} 0\.[1-9]/,
    );
  });

  test("requests waiting out their connection's throttle reach the broker in the order they came", async () => {
    const { feature } = flowControl(limitT);
    const connection = fakeConnection();
    const order: number[] = [];
    const recording = (call: UpstreamCall) => {
      order.push(call.request.topicData[0].partitionData[0].records.length);
      return accepting(call);
    };
    const send = (bytes: number) =>
      exchange(
        [feature],
        ApiKey.Produce,
        PRODUCE,
        produceRequest([{ name: "t-1", bytes }]),
        recording,
        connection,
      );
    await send(1100);
    const waiting = [
      send(11),
      new Promise((resolve) => setTimeout(resolve, 20)).then(() => send(12)),
      send(13),
    ];
    await Promise.all(waiting);
    assert.deepEqual(order, [1100, 11, 13, 12]);
  });

  test("topics named by id are limited by their name", async () => {
    const { feature } = flowControl(limitT);
    const version = 13;
    const request = produceRequest([{ topicId: T_ID, bytes: 3000 }]);
    const result = await exchange([feature], ApiKey.Produce, version, request, accepting);
    assert.equal(result.intercepted, true);
    assert.ok(result.response!.throttleTimeMs >= 1900);
  });

  test("reject mode refuses a request while the flow is in debt, without sending it", async () => {
    const { feature } = flowControl({ ...limitT, mode: "reject" });
    const connection = fakeConnection();
    await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 1500 }]),
      accepting,
      connection,
    );
    const refused = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "t-1", bytes: 10 }]),
      accepting,
      fakeConnection({ id: 2 }),
    );
    assert.equal(refused.calls.length, 0);
    assert.equal(
      refused.response!.responses[0]!.partitionResponses[0]!.errorCode,
      ErrorCode.THROTTLING_QUOTA_EXCEEDED,
    );
    assert.ok(refused.response!.throttleTimeMs > 0);
  });

  test("client quotas limit every topic of that client id", async () => {
    const { feature } = flowControl({
      clients: { app: { produce_bytes_per_second: 100 } },
      burst_seconds: 1,
    });
    const connection = fakeConnection({ clientId: "app" });
    const result = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "any", bytes: 300 }]),
      accepting,
      connection,
    );
    assert.equal(result.intercepted, true);
    assert.ok(result.response!.throttleTimeMs >= 1900);
    const other = await exchange(
      [feature],
      ApiKey.Produce,
      PRODUCE,
      produceRequest([{ name: "any", bytes: 300 }]),
      accepting,
      fakeConnection({ clientId: "other" }),
    );
    assert.equal(other.intercepted, false);
  });

  test("PUT /api/quotas replaces the quotas; a bad body names its field", async () => {
    const { feature, admin } = flowControl(limitT);
    const put = admin.match("PUT", "/api/quotas");
    assert.ok(put && put !== "method");
    const actor = { remote: "127.0.0.1:1", authenticated: true };
    const call = (body: unknown) =>
      put.handler({
        method: "PUT",
        path: "/api/quotas",
        params: {},
        query: new URLSearchParams(),
        body,
        actor,
      });
    await assert.rejects(
      async () => call({ topics: { "x(": { produce_bytes_per_second: 0 } } }),
      /body\.topics\.x\(/,
    );
    await call({ topics: { "v-.*": { fetch_bytes_per_second: 10 } } });
    assert.equal(feature.book.settings.topics[0]!.source, "v-.*");
    assert.equal(feature.book.limits("produce"), false);
  });
});
