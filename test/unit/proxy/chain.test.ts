import assert from "node:assert/strict";
import { test } from "node:test";
import type { ApiHandlers, Feature } from "../../../src/feature-api/feature.ts";
import { ApiKey, ErrorCode, type RequestOf, type ResponseOf } from "../../../src/protocol/api.ts";
import { exchange, type UpstreamCall } from "../../helpers/chain-harness.ts";

type MetadataRequest = RequestOf<typeof ApiKey.Metadata>;
type MetadataResponse = ResponseOf<typeof ApiKey.Metadata>;

const METADATA_VERSION = 12;

function metadataRequest(...names: string[]): MetadataRequest {
  return {
    topics: names.map((name) => ({ topicId: "0".repeat(32), name })),
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

/** A broker that answers Metadata with one topic per requested name, in request order. */
function metadataBroker(call: UpstreamCall): MetadataResponse | undefined {
  if (call.apiKey !== ApiKey.Metadata) return undefined;
  return {
    throttleTimeMs: 0,
    brokers: [],
    clusterId: "upstream",
    controllerId: 1,
    topics: (call.request as MetadataRequest).topics!.map((topic) => ({
      errorCode: ErrorCode.NONE,
      name: topic.name,
      topicId: "0".repeat(32),
      isInternal: false,
      partitions: [],
      topicAuthorizedOperations: 0,
    })),
    clusterAuthorizedOperations: -2147483648,
    errorCode: ErrorCode.NONE,
  };
}

/** Adds its name as a topic on the way down and as a topic name suffix on the way up, logging both. */
function tagging(name: string, log: string[], extra: Partial<ApiHandlers> = {}): Feature {
  return {
    name,
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async (request, context) => {
          log.push(`${name} request`);
          request.topics!.push({ topicId: "0".repeat(32), name });
          const response = await context.next(request);
          log.push(`${name} response`);
          for (const topic of response.topics) topic.name = `${topic.name}>${name}`;
          return response;
        },
      },
      ...extra,
    },
  };
}

/** Sees responses only, logging them. */
function watching(name: string, log: string[]): Feature {
  return {
    name,
    handlers: {
      [ApiKey.Metadata]: {
        onResponse: (response) => {
          log.push(`${name} sees ${response.topics.map((t) => t.name).join(",")}`);
          return false;
        },
      },
    },
  };
}

test("a request passes down the chain in order and its response back up in reverse", async () => {
  const log: string[] = [];
  const result = await exchange(
    [tagging("a", log), watching("w", log), tagging("b", log)],
    ApiKey.Metadata,
    METADATA_VERSION,
    metadataRequest("t"),
    metadataBroker,
  );
  assert.equal(result.intercepted, true);
  assert.deepEqual(
    result.calls.map((call) => (call.request as MetadataRequest).topics!.map((t) => t.name)),
    [["t", "a", "b"]],
  );
  assert.deepEqual(log, ["a request", "b request", "b response", "w sees t>b,a>b,b>b", "a response"]);
  assert.deepEqual(
    result.response!.topics.map((t) => t.name),
    ["t>b>a", "a>b>a", "b>b>a"],
  );
});

test("a request a feature sends itself passes the features below it, not those above", async () => {
  const log: string[] = [];
  const sender: Feature = {
    name: "sender",
    handlers: {
      [ApiKey.ListGroups]: {
        onRequest: async (_request, context) => {
          const metadata = await context.send(ApiKey.Metadata, METADATA_VERSION, metadataRequest("asked"));
          return {
            throttleTimeMs: 0,
            errorCode: ErrorCode.NONE,
            groups: metadata.topics.map((topic) => ({
              groupId: topic.name!,
              protocolType: "consumer",
              groupState: "",
              groupType: "",
            })),
          };
        },
      },
    },
  };
  const result = await exchange(
    [tagging("above", log), sender, tagging("below", log)],
    ApiKey.ListGroups,
    5,
    { statesFilter: [], typesFilter: [] },
    metadataBroker,
  );
  assert.deepEqual(log, ["below request", "below response"]);
  assert.deepEqual(
    result.response!.groups.map((g) => g.groupId),
    ["asked>below", "below>below"],
  );
  assert.deepEqual(
    result.calls.map((call) => call.apiKey),
    [ApiKey.Metadata],
  );
});

test("a feature that answers itself keeps the request from the features below and the broker", async () => {
  const log: string[] = [];
  const answering: Feature = {
    name: "answering",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: async () =>
          metadataBroker({
            apiKey: ApiKey.Metadata,
            apiVersion: METADATA_VERSION,
            request: metadataRequest("local"),
            options: undefined,
          })!,
      },
    },
  };
  const result = await exchange(
    [watching("above", log), answering, tagging("below", log), watching("bottom", log)],
    ApiKey.Metadata,
    METADATA_VERSION,
    metadataRequest("t"),
    metadataBroker,
  );
  assert.deepEqual(result.calls, []);
  assert.deepEqual(log, ["above sees local"]);
  assert.deepEqual(
    result.response!.topics.map((t) => t.name),
    ["local"],
  );
});

test("a request no feature takes goes to the broker raw, and response handlers still apply", async () => {
  const log: string[] = [];
  const declining: Feature = {
    name: "declining",
    handlers: {
      [ApiKey.Metadata]: {
        wantsRequest: () => false,
        onRequest: async () => assert.fail("a declined request reached onRequest"),
      },
    },
  };
  const renaming: Feature = {
    name: "renaming",
    handlers: {
      [ApiKey.Metadata]: {
        onResponse: (response) => {
          response.clusterId = "virtual";
          return true;
        },
      },
    },
  };
  const result = await exchange(
    [declining, watching("w", log), renaming],
    ApiKey.Metadata,
    METADATA_VERSION,
    metadataRequest("t"),
    metadataBroker,
  );
  assert.equal(result.intercepted, false);
  assert.equal(result.response!.clusterId, "virtual");
  assert.deepEqual(log, ["w sees t"]);
});

test("a request a feature declined still reaches it when a feature above passes on a decoded request", async () => {
  const log: string[] = [];
  const declining: Feature = {
    name: "declining",
    handlers: {
      [ApiKey.Metadata]: {
        wantsRequest: () => false,
        onRequest: async (request, context) => {
          log.push("declining sees the request passed on");
          return context.next(request);
        },
      },
    },
  };
  const result = await exchange(
    [tagging("top", log), declining],
    ApiKey.Metadata,
    METADATA_VERSION,
    metadataRequest("t"),
    metadataBroker,
  );
  assert.equal(result.intercepted, true);
  assert.deepEqual(log, ["top request", "declining sees the request passed on", "top response"]);
});

test("a response feature's wantsResponse keeps it from decoding responses it does not change", async () => {
  let seen = 0;
  const versionBound: Feature = {
    name: "version-bound",
    handlers: {
      [ApiKey.Metadata]: {
        wantsResponse: (exchangeInfo) => exchangeInfo.apiVersion >= 10,
        onResponse: () => {
          seen++;
          return false;
        },
      },
    },
  };
  await exchange([versionBound], ApiKey.Metadata, 9, metadataRequest("t"), metadataBroker);
  assert.equal(seen, 0);
  await exchange([versionBound], ApiKey.Metadata, 10, metadataRequest("t"), metadataBroker);
  assert.equal(seen, 1);
});

test("Produce with acks=0 runs through the chain without expecting a response", async () => {
  const seen: string[] = [];
  const feature: Feature = {
    name: "produce-watcher",
    handlers: {
      [ApiKey.Produce]: {
        onRequest: async (request, context) => {
          seen.push(`acks=${request.acks}`);
          return context.next(request, { expectResponse: request.acks !== 0 });
        },
      },
    },
  };
  const result = await exchange(
    [feature],
    ApiKey.Produce,
    9,
    { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [] },
    () => undefined,
  );
  assert.deepEqual(seen, ["acks=0"]);
  assert.equal(result.response, undefined);
  assert.equal(result.calls.length, 1);
  assert.equal(result.calls[0]!.options?.expectResponse, false);
});

test("a request a feature sends to another node stays on that node through the handlers below that pass it on", async () => {
  const passOn: Feature = {
    name: "pass-on",
    handlers: { [ApiKey.Metadata]: { onRequest: (request, context) => context.next(request) } },
  };
  const redirecting: Feature = {
    name: "redirecting",
    handlers: {
      [ApiKey.Metadata]: {
        onRequest: (request, context) => context.next(request, { nodeId: 7 }),
      },
    },
  };
  const seen: (number | undefined)[] = [];
  const observing: Feature = {
    name: "observing",
    handlers: {
      [ApiKey.Metadata]: {
        onResponse: (_response, exchange) => {
          seen.push(exchange.nodeId);
          return false;
        },
      },
    },
  };
  const result = await exchange(
    [redirecting, passOn, observing],
    ApiKey.Metadata,
    METADATA_VERSION,
    metadataRequest("a"),
    metadataBroker,
  );
  assert.deepEqual(
    result.calls.map((call) => call.options?.nodeId),
    [7],
    "the broker request went to node 7",
  );
  assert.deepEqual(seen, [7], "handlers below see the node that answers");
});
