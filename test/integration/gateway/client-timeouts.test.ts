/**
 * Client-side timeouts against the real proxy and a real broker: idle connections close after
 * listen.connections_max_idle_ms, a long-polling Fetch is not idle, and a connection that never completes its
 * first frame (a slowloris) is cut after listen.first_frame_timeout_ms.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { decodeResponse, encodeRequest } from "../../../src/protocol/frame.ts";
import {
  apiVersionsErrorCode,
  apiVersionsRequest,
  type ClientSocket,
  connectFrom,
  logLines,
  sleep,
} from "../../helpers/client-sockets.ts";
import { type KafkaTestCluster, useKafkaCluster } from "../../helpers/kafka.ts";
import { type ProxyProcess, startProxy } from "../../helpers/proxy.ts";
import { onePartitionFetch } from "../../helpers/raw-kafka.ts";

const IDLE_MS = 2000;
const FETCH_VERSION = 11;

let cluster: KafkaTestCluster;
let idleProxy: ProxyProcess;
let defaultProxy: ProxyProcess;
const sockets: ClientSocket[] = [];

async function connect(port: number): Promise<ClientSocket> {
  const client = await connectFrom(port);
  sockets.push(client);
  return client;
}

/** The proxy's log lines about the connection from `client`'s local port. */
/** The lines about a client's connection after the one that says it opened (which must come first). */
function linesAbout(proxy: ProxyProcess, client: ClientSocket): Record<string, unknown>[] {
  const lines = logLines(proxy.logs()).filter((line) => line.client === `127.0.0.1:${client.localPort}`);
  assert.equal(lines[0]?.msg, "client connection opened", JSON.stringify(lines));
  return lines.slice(1);
}

describe("client-side timeouts", { timeout: 180_000 }, () => {
  before(async () => {
    cluster = await useKafkaCluster();
  });

  after(async () => {
    for (const client of sockets) client.socket.destroy();
    await Promise.all([idleProxy?.stop(), defaultProxy?.stop()]);
  });

  describe("with the default first_frame_timeout_ms", () => {
    before(async () => {
      defaultProxy = await startProxy({ upstream: cluster.bootstrap });
    });

    test("a client that never completes its first frame is cut after first_frame_timeout_ms (default 10 s)", async () => {
      const slowloris = await connect(defaultProxy.port);
      const silent = await connect(defaultProxy.port);
      const connectedAt = Date.now();
      const request = apiVersionsRequest(1);
      let sent = 0;
      const drip = setInterval(() => {
        if (sent < request.length - 1 && !slowloris.isClosed)
          slowloris.socket.write(request.subarray(sent, ++sent));
      }, 1000);
      try {
        const [slowClosedAt, silentClosedAt] = await Promise.all(
          [slowloris, silent].map((client) =>
            Promise.race([client.closed, sleep(20_000).then(() => undefined)]),
          ),
        );
        assert.ok(
          slowClosedAt !== undefined,
          `a client sending a byte a second (${sent} sent) was never cut`,
        );
        assert.ok(silentClosedAt !== undefined, "a client that sent nothing was never cut");
        for (const closedAt of [slowClosedAt, silentClosedAt]) {
          const after = closedAt - connectedAt;
          assert.ok(after >= 9500 && after < 12_500, `cut ${after} ms after connecting`);
        }
        assert.equal(slowloris.frames.length, 0);
        await sleep(100);
        for (const client of [slowloris, silent]) {
          const lines = linesAbout(defaultProxy, client);
          assert.equal(lines.length, 1, JSON.stringify(lines));
          assert.match(String(lines[0]!.reason), /first_frame_timeout_ms/);
        }
      } finally {
        clearInterval(drip);
      }
    });
  });

  describe(`with connections_max_idle_ms ${IDLE_MS}`, () => {
    before(async () => {
      idleProxy = await startProxy({
        upstream: cluster.bootstrap,
        extra: { listen: { connections_max_idle_ms: IDLE_MS } },
      });
    });

    test("a connection idle for connections_max_idle_ms is closed, with one log line", async () => {
      const client = await connect(idleProxy.port);
      client.socket.write(apiVersionsRequest(1));
      assert.equal(apiVersionsErrorCode(await client.nextFrame()), ErrorCode.NONE);
      const answeredAt = Date.now();
      const closedAt = await Promise.race([client.closed, sleep(IDLE_MS * 4).then(() => undefined)]);
      assert.ok(closedAt !== undefined, `still open ${IDLE_MS * 4} ms after its last response`);
      const idleFor = closedAt - answeredAt;
      assert.ok(idleFor >= IDLE_MS - 50 && idleFor < IDLE_MS + 1500, `closed after ${idleFor} ms idle`);
      await sleep(100);
      const lines = linesAbout(idleProxy, client);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.match(String(lines[0]!.reason), /idle/);
      assert.equal(lines[0]!.level, 30);
    });

    test("a connection that keeps sending requests is not idle", async () => {
      const client = await connect(idleProxy.port);
      for (let i = 0; i < 8; i++) {
        client.socket.write(apiVersionsRequest(i + 1));
        assert.equal(apiVersionsErrorCode(await client.nextFrame()), ErrorCode.NONE);
        await sleep(IDLE_MS * 0.4);
      }
      assert.equal(client.isClosed, false, "closed although it sent a request every 800 ms");
    });

    test("a long-polling Fetch in flight is not idle; the connection idles from its response on", async () => {
      const topic = cluster.uniqueTopic("long-poll");
      await cluster.createTopic(topic);
      const client = await connect(idleProxy.port);
      // Metadata until the partition has a leader, so the Fetch below waits instead of failing at once.
      for (let attempt = 0; ; attempt++) {
        client.socket.write(
          encodeRequest(
            { apiKey: ApiKey.Metadata, apiVersion: 12, correlationId: 100 + attempt, clientId: "t" },
            {
              topics: [{ topicId: "0".repeat(32), name: topic }],
              allowAutoTopicCreation: false,
              includeTopicAuthorizedOperations: false,
            },
          ),
        );
        const metadata = decodeResponse(ApiKey.Metadata, 12, (await client.nextFrame()).subarray(4)).body as {
          topics: { partitions: { leaderId: number }[] }[];
        };
        if ((metadata.topics[0]?.partitions[0]?.leaderId ?? -1) >= 0) break;
        assert.ok(attempt < 40, "the topic has no leader");
        await sleep(250);
      }
      const waitMs = IDLE_MS * 2 + 500;
      const fetchBody = { ...onePartitionFetch(topic, 0, 0n, 1 << 20), maxWaitMs: waitMs, minBytes: 1 };
      const sentAt = Date.now();
      client.socket.write(
        encodeRequest(
          { apiKey: ApiKey.Fetch, apiVersion: FETCH_VERSION, correlationId: 7, clientId: "t" },
          fetchBody,
        ),
      );
      const response = await client.nextFrame(waitMs + 5000);
      const answeredAt = Date.now();
      assert.ok(answeredAt - sentAt >= waitMs - 200, `the broker answered after ${answeredAt - sentAt} ms`);
      const body = decodeResponse(ApiKey.Fetch, FETCH_VERSION, response.subarray(4)).body as {
        errorCode: number;
      };
      assert.equal(body.errorCode, ErrorCode.NONE);
      const closedAt = await Promise.race([client.closed, sleep(IDLE_MS * 4).then(() => undefined)]);
      assert.ok(closedAt !== undefined, "never closed after the Fetch was answered");
      assert.ok(
        closedAt - answeredAt >= IDLE_MS - 50,
        `closed ${closedAt - answeredAt} ms after the response`,
      );
    });
  });
});
