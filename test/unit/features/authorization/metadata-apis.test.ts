import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ApiKey,
  ErrorCode,
  firstVersion,
  lastVersion,
  type ResponseOf,
  ZERO_UUID,
} from "../../../../src/protocol/api.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, type Body, latest, send } from "./fixtures.ts";

const ID_OF: Record<string, string> = {
  "tenant-a.orders": "a".repeat(32),
  "tenant-a.secret": "b".repeat(32),
  "tenant-b.orders": "c".repeat(32),
  bob: "d".repeat(32),
};
const NAME_OF = Object.fromEntries(Object.entries(ID_OF).map(([name, id]) => [id, name]));
const METADATA = latest(ApiKey.Metadata);
const READ_BIT = 1 << 3;
const DESCRIBE_BIT = 1 << 8;

function topicEntry(name: string, errorCode: number = ErrorCode.NONE) {
  return {
    errorCode,
    name,
    topicId: ID_OF[name] ?? ZERO_UUID,
    isInternal: false,
    partitions: [],
    topicAuthorizedOperations: -(2 ** 31),
  };
}

/** A cluster holding ID_OF's topics, creating the missing ones asked for when allowed to. */
function cluster(existing = new Set(Object.keys(ID_OF))) {
  return (call: UpstreamCall): ResponseOf<typeof ApiKey.Metadata> => {
    const asked: Body[] | null = call.request.topics;
    const topics =
      asked === null || asked.length === 0
        ? [...existing].map((name) => topicEntry(name))
        : asked.map((topic) => {
            const name = topic.name ?? NAME_OF[topic.topicId];
            if (name === undefined)
              return {
                ...topicEntry(""),
                name: null,
                topicId: topic.topicId,
                errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
              };
            if (existing.has(name)) return topicEntry(name);
            if (call.request.allowAutoTopicCreation) {
              existing.add(name);
              return topicEntry(name, ErrorCode.LEADER_NOT_AVAILABLE);
            }
            return topicEntry(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          });
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: "broker", port: 9092, rack: null }],
      clusterId: "cluster",
      controllerId: 1,
      topics,
      clusterAuthorizedOperations: -(2 ** 31),
      errorCode: ErrorCode.NONE,
    };
  };
}

function metadataRequest(
  topics: { name?: string; topicId?: string }[] | null,
  allowAutoTopicCreation = false,
) {
  return {
    topics:
      topics === null
        ? null
        : topics.map((topic) => ({ name: topic.name ?? null, topicId: topic.topicId ?? ZERO_UUID })),
    allowAutoTopicCreation,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  };
}

describe("Metadata", () => {
  test("a listing of all topics shows only those the principal may describe", async () => {
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.Metadata,
      METADATA,
      metadataRequest(null),
      cluster(),
    );
    assert.deepEqual(
      response!.topics.map((topic) => topic.name),
      ["tenant-a.orders"],
    );
    assert.equal(response!.brokers.length, 1, "brokers are still shown");
  });

  test("a principal confined to a prefix sees no topic outside it, whatever its rules", async () => {
    const config = {
      principals: {
        carol: {
          confine_to_prefix: "tenant-b.",
          rules: [{ effect: "allow", resource: "topic", pattern: "*", operations: ["describe"] }],
        },
      },
    };
    const { response } = await send(
      authorization(config),
      "carol",
      ApiKey.Metadata,
      METADATA,
      metadataRequest(null),
      cluster(),
    );
    assert.deepEqual(
      response!.topics.map((topic) => topic.name),
      ["tenant-b.orders"],
    );
    const named = await send(
      authorization(config),
      "carol",
      ApiKey.Metadata,
      METADATA,
      metadataRequest([{ name: "bob" }]),
      cluster(),
    );
    assert.equal(named.response!.topics[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test("topics named explicitly: refused ones are not asked for and get TOPIC_AUTHORIZATION_FAILED without their id", async () => {
    const request = metadataRequest([
      { name: "tenant-a.orders" },
      { name: "tenant-b.orders" },
      { name: "tenant-a.secret" },
    ]);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Metadata,
      METADATA,
      request,
      cluster(),
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((topic: Body) => topic.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.errorCode, topic.topicId]),
      [
        ["tenant-a.orders", ErrorCode.NONE, ID_OF["tenant-a.orders"]],
        ["tenant-b.orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED, ZERO_UUID],
        ["tenant-a.secret", ErrorCode.TOPIC_AUTHORIZATION_FAILED, ZERO_UUID],
      ],
    );
  });

  test("with every topic refused, the brokers are still answered", async () => {
    const request = metadataRequest([{ name: "tenant-b.orders" }]);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.Metadata,
      METADATA,
      request,
      cluster(),
    );
    assert.deepEqual(calls[0]!.request.topics, []);
    assert.equal(response!.brokers.length, 1);
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.errorCode]),
      [["tenant-b.orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    );
  });

  test("a topic asked by an id the proxy does not know is checked in the answer, by its name, keeping its id", async () => {
    const request = metadataRequest([
      { topicId: ID_OF["tenant-b.orders"] },
      { topicId: ID_OF["tenant-a.orders"] },
    ]);
    const { response } = await send(authorization(), "alice", ApiKey.Metadata, METADATA, request, cluster());
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.topicId, topic.errorCode]),
      [
        [null, ID_OF["tenant-b.orders"], ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        ["tenant-a.orders", ID_OF["tenant-a.orders"], ErrorCode.NONE],
      ],
    );
  });

  test("auto-creation: topics the principal may not create are not created and get TOPIC_AUTHORIZATION_FAILED", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            {
              effect: "allow",
              resource: "topic",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["describe"],
            },
            { effect: "allow", resource: "topic", pattern: "tenant-a.new", operations: ["create"] },
          ],
        },
      },
    };
    const existing = new Set(Object.keys(ID_OF));
    const request = metadataRequest(
      [{ name: "tenant-a.orders" }, { name: "tenant-a.other" }, { name: "tenant-a.new" }],
      true,
    );
    const { response, calls } = await send(
      authorization(config),
      "alice",
      ApiKey.Metadata,
      METADATA,
      request,
      cluster(existing),
    );
    assert.equal(calls[0]!.request.allowAutoTopicCreation, false);
    assert.deepEqual(
      calls
        .slice(1)
        .map((call) => [call.request.topics.map((t: Body) => t.name), call.request.allowAutoTopicCreation]),
      [[["tenant-a.new"], true]],
      "the topic it may create is asked for again, creating it",
    );
    assert.ok(existing.has("tenant-a.new"));
    assert.ok(!existing.has("tenant-a.other"));
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.errorCode]),
      [
        ["tenant-a.orders", ErrorCode.NONE],
        ["tenant-a.other", ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        ["tenant-a.new", ErrorCode.LEADER_NOT_AVAILABLE],
      ],
    );
  });

  test("CREATE on the cluster lets every topic the principal may describe be created", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            { effect: "allow", resource: "topic", pattern: "*", operations: ["describe"] },
            { effect: "allow", resource: "cluster", operations: ["create"] },
          ],
        },
      },
    };
    const request = metadataRequest([{ name: "brand-new" }], true);
    const { response, calls } = await send(
      authorization(config),
      "alice",
      ApiKey.Metadata,
      METADATA,
      request,
      cluster(),
    );
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.request.allowAutoTopicCreation, true);
    assert.equal(response!.topics[0]!.errorCode, ErrorCode.LEADER_NOT_AVAILABLE);
  });

  test("authorized operations asked for are the principal's", async () => {
    const version = lastVersion("MetadataRequest", "includeClusterAuthorizedOperations")!;
    const request = {
      ...metadataRequest([{ name: "bob" }]),
      includeTopicAuthorizedOperations: true,
      includeClusterAuthorizedOperations: true,
    };
    const { response } = await send(authorization(), "bob", ApiKey.Metadata, version, request, cluster());
    assert.equal(response!.topics[0]!.topicAuthorizedOperations, READ_BIT | DESCRIBE_BIT);
    assert.equal(response!.clusterAuthorizedOperations, 0);
  });

  test("a v0 request whose topics are all refused is not answered with every topic", async () => {
    const version = firstVersion("MetadataRequest", "topics");
    const request = metadataRequest([{ name: "tenant-b.orders" }], true);
    const { response } = await send(authorization(), "alice", ApiKey.Metadata, version, request, cluster());
    assert.deepEqual(
      response!.topics.map((topic) => [topic.name, topic.errorCode]),
      [["tenant-b.orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    );
  });
});

describe("DescribeTopicPartitions", () => {
  const version = latest(ApiKey.DescribeTopicPartitions);
  const topic = (name: string) => ({ ...topicEntry(name), partitions: [] });

  test("named topics: refused ones are not asked for and get TOPIC_AUTHORIZATION_FAILED", async () => {
    const request = {
      topics: [{ name: "tenant-a.orders" }, { name: "bob" }],
      responsePartitionLimit: 100,
      cursor: null,
    };
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.DescribeTopicPartitions,
      version,
      request,
      (call) => ({
        throttleTimeMs: 0,
        topics: call.request.topics.map((t: Body) => topic(t.name)),
        nextCursor: null,
      }),
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((t: Body) => t.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(
      response!.topics.map((t) => [t.name, t.errorCode, t.topicAuthorizedOperations !== -(2 ** 31)]),
      [
        ["tenant-a.orders", ErrorCode.NONE, true],
        ["bob", ErrorCode.TOPIC_AUTHORIZATION_FAILED, false],
      ],
    );
  });

  test("a listing hides topics and never hands out a cursor naming a hidden one", async () => {
    const pages = [
      { topics: ["a.hidden", "bob"], next: { topicName: "c.hidden", partitionIndex: 0 } },
      { topics: ["c.hidden"], next: { topicName: "d.visible", partitionIndex: 2 } },
    ];
    const config = {
      principals: {
        carol: {
          rules: [
            { effect: "allow", resource: "topic", pattern: "d.visible", operations: ["describe"] },
            { effect: "allow", resource: "topic", pattern: "bob", operations: ["describe"] },
          ],
        },
      },
    };
    let page = 0;
    const request = { topics: [], responsePartitionLimit: 1, cursor: null };
    const { response, calls } = await send(
      authorization(config),
      "carol",
      ApiKey.DescribeTopicPartitions,
      version,
      request,
      () => {
        const { topics, next } = pages[page++]!;
        return { throttleTimeMs: 0, topics: topics.map(topic), nextCursor: next };
      },
    );
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.request.cursor, {
      topicName: "c.hidden",
      partitionIndex: 0,
      unknownTaggedFields: undefined,
    });
    assert.deepEqual(
      response!.topics.map((t) => t.name),
      ["bob"],
    );
    assert.deepEqual(
      response!.nextCursor && [response!.nextCursor.topicName, response!.nextCursor.partitionIndex],
      ["d.visible", 2],
    );
  });
});

describe("DescribeCluster", () => {
  const version = latest(ApiKey.DescribeCluster);
  const request = { includeClusterAuthorizedOperations: true, endpointType: 1, includeFencedBrokers: false };
  const answer = () => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    endpointType: 1,
    clusterId: "c",
    controllerId: 1,
    brokers: [],
    clusterAuthorizedOperations: -1,
  });

  test("needs nothing, and reports the principal's cluster operations", async () => {
    const config = {
      principals: {
        alice: { rules: [{ effect: "allow", resource: "cluster", operations: ["describe", "alter"] }] },
      },
    };
    const { response, calls } = await send(
      authorization(config),
      "alice",
      ApiKey.DescribeCluster,
      version,
      request,
      answer,
    );
    assert.equal(calls.length, 1);
    assert.equal(response!.clusterAuthorizedOperations, (1 << 7) | (1 << 8));
    const none = await send(authorization(config), "bob", ApiKey.DescribeCluster, version, request, answer);
    assert.equal(none.response!.clusterAuthorizedOperations, 0);
  });

  test("anonymous clients that may do nothing are refused", async () => {
    const { response, calls } = await send(
      authorization(),
      undefined,
      ApiKey.DescribeCluster,
      version,
      request,
      answer,
    );
    assert.equal(calls.length, 0);
    assert.equal(response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  });
});
