import assert from "node:assert/strict";
import type net from "node:net";
import { test } from "node:test";
import { ProxyMetrics } from "../../../src/admin/metrics.ts";
import type { ExchangeInfo, Feature, SendOptions } from "../../../src/feature-api/feature.ts";
import { silentLogger } from "../../../src/log/logger.ts";
import { framePool } from "../../../src/net/frame-pool.ts";
import { ApiKey, type ResponseOf } from "../../../src/protocol/api.ts";
import { decodeResponse } from "../../../src/protocol/frame.ts";
import { Chain } from "../../../src/proxy/chain.ts";
import { type InterceptionTarget, intercept } from "../../../src/proxy/connection/interception.ts";
import { ResponseQueue } from "../../../src/proxy/connection/response-queue.ts";
import { fakeConnection } from "../../helpers/chain-harness.ts";
import {
  gate,
  METADATA_VERSION,
  metadataRequest,
  metadataResponseBody,
  produceRequest,
  until,
} from "./connection-rig.ts";

interface Write {
  readonly bytes: Buffer;
  readonly callback: (() => void) | undefined;
}

interface UpstreamCall {
  readonly apiKey: ApiKey;
  readonly apiVersion: number;
  // biome-ignore lint/suspicious/noExplicitAny: any API's request body
  readonly request: any;
  readonly options: SendOptions | undefined;
}

/** A connection as `intercept` sees it, over a socket that records writes and a broker that echoes Metadata. */
function targetFor(features: readonly Feature[]) {
  const writes: Write[] = [];
  const socket = {
    write(bytes: Buffer, callback?: () => void) {
      writes.push({ bytes, callback });
      return true;
    },
    cork() {},
    uncork() {},
  };
  const chain = new Chain(features);
  const metrics = new ProxyMetrics((apiKey) => chain.apiName(apiKey));
  const calls: UpstreamCall[] = [];
  const counted: [number, number][] = [];
  const failures: string[] = [];
  const target: InterceptionTarget & { isClosed: boolean } = {
    chain,
    queue: new ResponseQueue(socket as unknown as net.Socket, metrics, 1024 * 1024, {
      pauseUpstream() {},
      holdRequests() {},
    }),
    promisedBytes: () => 0,
    upstream: {
      request: async (apiKey, apiVersion, request, options) => {
        calls.push({ apiKey, apiVersion, request, options });
        if (options?.expectResponse === false) return undefined as never;
        if (apiKey !== ApiKey.Metadata) throw new Error(`no answer for api ${apiKey}`);
        const topics = (request as { topics: { name: string }[] }).topics.map((t) => t.name);
        return metadataResponseBody(...topics) as never;
      },
    },
    isClosed: false,
    countResponse: (apiKey, bytes) => counted.push([apiKey, bytes]),
    flush: () => target.queue.flush(),
    fail: (reason, level) => failures.push(`${level}: ${reason}`),
  };
  const run = (frame: Buffer) => {
    const apiKey = frame.readInt16BE(4) as ApiKey;
    const info: ExchangeInfo = {
      apiKey,
      apiVersion: frame.readInt16BE(6),
      connection: fakeConnection(),
      log: silentLogger,
      requestFrame: frame,
    };
    const links = chain.linksFor(info, frame);
    assert.ok(links && Chain.intercepts(links), "the test's features take the request");
    return intercept(target, links, info, frame, frame.readInt32BE(8), performance.now());
  };
  const written = () => Buffer.concat(writes.map((w) => w.bytes));
  return { target, run, writes, written, calls, counted, failures };
}

function decodeMetadata(frame: Buffer) {
  const decoded = decodeResponse(ApiKey.Metadata, METADATA_VERSION, frame.subarray(4));
  return { correlationId: decoded.correlationId, body: decoded.body as ResponseOf<typeof ApiKey.Metadata> };
}

const renaming: Feature = {
  name: "renaming",
  handlers: {
    [ApiKey.Metadata]: {
      onRequest: async (request, context) => {
        request.topics = request.topics!.map((topic) => ({ ...topic, name: `p.${topic.name}` }));
        const response = await context.next(request);
        for (const topic of response.topics) topic.name = topic.name!.replace(/^p\./, "v.");
        return response;
      },
    },
  },
};

test("a taken request is decoded, runs through the feature, and its response is encoded at the client's correlation id", async () => {
  const { run, writes, written, calls, counted, failures, target } = targetFor([renaming]);

  const decoded = run(metadataRequest(77, "a", "b"));
  const waitingAtOnce = target.queue.waiting;
  await until("the response is written", () => writes.length > 0);

  assert.equal(decoded, true);
  assert.equal(waitingAtOnce, 1);
  assert.deepEqual(
    calls.map((call) => [
      call.apiKey,
      call.apiVersion,
      call.request.topics.map((t: { name: string }) => t.name),
    ]),
    [[ApiKey.Metadata, METADATA_VERSION, ["p.a", "p.b"]]],
  );
  const response = decodeMetadata(written());
  assert.equal(response.correlationId, 77);
  assert.deepEqual(
    response.body.topics.map((topic) => topic.name),
    ["v.a", "v.b"],
  );
  assert.deepEqual(counted, [[ApiKey.Metadata, written().length]]);
  assert.deepEqual(failures, []);
  assert.equal(target.queue.waiting, 0);
});

test("taken requests answered out of order are written in request order", async () => {
  const gates = new Map([
    ["slow", gate()],
    ["fast", gate()],
  ]);
  const holding: Feature = {
    name: "holding",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          await gates.get(request.topics![0]!.name!)!.promise;
          return context.next(request);
        },
      },
    },
  };
  const { run, writes, written } = targetFor([holding]);
  run(metadataRequest(1, "slow"));
  run(metadataRequest(2, "fast"));

  gates.get("fast")!.open();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const writtenBeforeSlow = writes.length;
  gates.get("slow")!.open();
  await until("both are written", () => writes.length >= 2);

  assert.equal(writtenBeforeSlow, 0);
  const bytes = written();
  const firstLength = bytes.readInt32BE(0) + 4;
  const first = decodeMetadata(bytes.subarray(0, firstLength));
  const second = decodeMetadata(bytes.subarray(firstLength));
  assert.deepEqual(
    [first.correlationId, first.body.topics[0]!.name, second.correlationId, second.body.topics[0]!.name],
    [1, "slow", 2, "fast"],
  );
});

test("a taken Produce with acks=0 takes no place in the order and writes nothing", async () => {
  const acks: number[] = [];
  const auditing: Feature = {
    name: "auditing",
    handlers: {
      [ApiKey.Produce]: {
        onRequest: async (request, context) => {
          acks.push(request.acks);
          return context.next(request, { expectResponse: request.acks !== 0 });
        },
      },
    },
  };
  const { run, writes, calls, failures, target } = targetFor([auditing]);

  const decoded = run(produceRequest(5, 0));
  const waitingAtOnce = target.queue.waiting;
  await until("the request reaches the broker", () => calls.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 20));

  assert.equal(decoded, true);
  assert.equal(waitingAtOnce, 0);
  assert.deepEqual(acks, [0]);
  assert.deepEqual(calls[0]!.options, { expectResponse: false });
  assert.equal(writes.length, 0);
  assert.deepEqual(failures, []);
});

test("a taken request that cannot be decoded fails the connection and takes no place", () => {
  let handled = 0;
  const counting: Feature = {
    name: "counting",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          handled++;
          return context.next(request);
        },
      },
    },
  };
  const { run, failures, target } = targetFor([counting]);
  const whole = metadataRequest(3, "a");
  const truncated = Buffer.from(whole.subarray(0, whole.length - 3));
  truncated.writeInt32BE(truncated.length - 4, 0);

  const decoded = run(truncated);

  assert.equal(decoded, false);
  assert.equal(failures.length, 1);
  assert.match(failures[0]!, new RegExp(`^warn: malformed Metadata v${METADATA_VERSION} request: `));
  assert.equal(handled, 0);
  assert.equal(target.queue.waiting, 0);
});

test("a feature that rejects fails the connection, naming the api", async () => {
  const failing: Feature = {
    name: "failing",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async () => {
          throw new Error("topology unavailable");
        },
      },
    },
  };
  const { run, writes, failures } = targetFor([failing]);

  run(metadataRequest(4, "a"));
  await until("the failure is reported", () => failures.length > 0);

  assert.deepEqual(failures, ["info: Metadata: topology unavailable"]);
  assert.equal(writes.length, 0);
});

test("a response that cannot be encoded fails the connection", async () => {
  const broken: Feature = {
    name: "broken",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async () => ({}) as ResponseOf<typeof ApiKey.Metadata>,
      },
    },
  };
  const { run, writes, failures, counted } = targetFor([broken]);

  run(metadataRequest(4, "a"));
  await until("the failure is reported", () => failures.length > 0);

  assert.equal(failures.length, 1);
  assert.match(failures[0]!, /^warn: cannot encode the Metadata response: /);
  assert.equal(writes.length, 0);
  assert.deepEqual(counted, []);
});

test("a response that arrives after the connection closed is dropped", async () => {
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
  const { run, writes, counted, calls, target } = targetFor([holding]);

  run(metadataRequest(6, "a"));
  target.isClosed = true;
  held.open();
  await until("the request reaches the broker", () => calls.length === 1);
  await new Promise((resolve) => setTimeout(resolve, 20));

  assert.equal(writes.length, 0);
  assert.deepEqual(counted, []);
});

test("buffers handed to releaseAfterReply go back to the pool once the reply is written", async () => {
  const pooled = framePool.acquire(64 * 1024);
  const keeping: Feature = {
    name: "keeping",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          context.releaseAfterReply(pooled);
          return context.next(request);
        },
      },
    },
  };
  const { run, writes } = targetFor([keeping]);

  run(metadataRequest(8, "a"));
  await until("the response is written", () => writes.length > 0);
  const lentBeforeWritten = framePool.lends(pooled);
  const callbacks = writes.map((w) => w.callback);
  callbacks.at(-1)!();

  assert.equal(lentBeforeWritten, true);
  assert.ok(
    callbacks.slice(0, -1).every((callback) => callback === undefined),
    "only the last chunk carries the callback",
  );
  assert.equal(framePool.lends(pooled), false);
});

test("a request the feature sends itself goes to the broker through the same upstream", async () => {
  const asking: Feature = {
    name: "asking",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          const extra = await context.send(ApiKey.Metadata, METADATA_VERSION, {
            ...request,
            topics: [{ topicId: "0".repeat(32), name: "extra" }],
          });
          const response = await context.next(request);
          response.topics.push(...extra.topics);
          return response;
        },
      },
    },
  };
  const { run, writes, written, calls } = targetFor([asking]);

  run(metadataRequest(12, "own"));
  await until("the response is written", () => writes.length > 0);

  assert.deepEqual(
    calls.map((call) => call.request.topics.map((t: { name: string }) => t.name)),
    [["extra"], ["own"]],
  );
  const response = decodeMetadata(written());
  assert.equal(response.correlationId, 12);
  assert.deepEqual(
    response.body.topics.map((topic) => topic.name),
    ["own", "extra"],
  );
});
