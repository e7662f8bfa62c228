/**
 * Broker-side timeouts follow the request's own wait: a Fetch whose max wait is longer than the proxy's request
 * timeout is answered when the broker answers it, not cut off by the proxy.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiKey, ErrorCode, lastVersion } from "../../../src/protocol/api.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch, RawKafkaClient } from "../../helpers/raw-kafka.ts";

const FETCH_BY_NAME = lastVersion("FetchRequest", "topics.topic")!;
const REQUEST_TIMEOUT_MS = 2000;
const MAX_WAIT_MS = 12_000;

describe("request timeouts follow the request's own wait", { timeout: 120_000 }, () => {
  let cluster: KafkaTestCluster;
  let proxy: ProxyProcess;

  before(async () => {
    cluster = await useKafkaCluster({ brokers: 1 });
    proxy = await startProxy({
      upstream: cluster.bootstrap,
      extra: { kafka: { bootstrap_servers: [cluster.bootstrap], request_timeout_ms: REQUEST_TIMEOUT_MS } },
    });
  });

  after(async () => {
    await proxy?.stop();
  });

  it(`a Fetch waiting ${MAX_WAIT_MS} ms on an empty topic is answered by the broker, not cut at the request timeout`, async () => {
    const topic = cluster.uniqueTopic("waits");
    await cluster.createTopic(topic);
    const client = await RawKafkaClient.connect(proxy.bootstrap);
    try {
      const body = { ...onePartitionFetch(topic, 0, 0n, 1 << 20), maxWaitMs: MAX_WAIT_MS, minBytes: 1 };
      const started = Date.now();
      const response = await client.request(ApiKey.Fetch, FETCH_BY_NAME, body, MAX_WAIT_MS + 20_000);
      const waited = Date.now() - started;
      assert.equal(response.errorCode, ErrorCode.NONE);
      assert.equal(response.responses[0].partitions[0].errorCode, ErrorCode.NONE);
      assert.ok(
        waited >= MAX_WAIT_MS - 500,
        `answered after ${waited} ms: the broker held it for its max wait`,
      );
      assert.equal(client.socket.destroyed, false, "the connection stays open");
    } finally {
      client.close();
    }
  });
});
