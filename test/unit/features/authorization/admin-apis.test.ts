import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, ErrorCode, firstVersion, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { refusalResponse } from "../../../../src/protocol/refusal.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, type Body, latest, send } from "./fixtures.ts";

/** Kafka's ConfigResource.Type values. */
const TOPIC_CONFIGS = 2;
const BROKER_CONFIGS = 4;

function mirroringBroker(call: UpstreamCall) {
  return refusalResponse(call.apiKey, call.apiVersion, call.request, ErrorCode.NONE);
}

const newTopic = (name: string) => ({
  name,
  numPartitions: 1,
  replicationFactor: 1,
  assignments: [],
  configs: [],
});

describe("CreateTopics", () => {
  const version = latest(ApiKey.CreateTopics);

  test("CREATE on each topic: refused topics are not created and get TOPIC_AUTHORIZATION_FAILED", async () => {
    const request = {
      topics: [newTopic("tenant-a.new"), newTopic("tenant-b.new")],
      timeoutMs: 1000,
      validateOnly: false,
    };
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.CreateTopics,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((t: Body) => t.name),
      ["tenant-a.new"],
    );
    assert.deepEqual(
      response!.topics.map((t) => [t.name, t.errorCode]),
      [
        ["tenant-a.new", ErrorCode.NONE],
        ["tenant-b.new", ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
    assert.equal(
      response!.topics[0]!.topicConfigErrorCode,
      ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      "no describe_configs",
    );
  });

  test("CREATE on the cluster covers every topic, but not past the prefix a principal is confined to", async () => {
    const cluster = { effect: "allow", resource: "cluster", operations: ["create"] };
    const request = { topics: [newTopic("t.x"), newTopic("u.x")], timeoutMs: 1000, validateOnly: false };
    const open = await send(
      authorization({ principals: { carol: { rules: [cluster] } } }),
      "carol",
      ApiKey.CreateTopics,
      version,
      request,
      mirroringBroker,
    );
    assert.equal(open.calls[0]!.request.topics.length, 2);
    const confined = { principals: { carol: { confine_to_prefix: "t.", rules: [cluster] } } };
    const some = await send(
      authorization(confined),
      "carol",
      ApiKey.CreateTopics,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(
      some.calls[0]!.request.topics.map((t: Body) => t.name),
      ["t.x"],
    );
  });
});

describe("DeleteTopics", () => {
  const ID = "e".repeat(32);

  test("DELETE on each topic, named by id from v6 (the name of a refused id is not revealed)", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            {
              effect: "allow",
              resource: "topic",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["delete"],
            },
          ],
        },
      },
    };
    const request = {
      topics: [
        { name: "tenant-a.old", topicId: ZERO_UUID },
        { name: null, topicId: ID },
        { name: null, topicId: "f".repeat(32) },
      ],
      topicNames: [],
      timeoutMs: 1000,
    };
    const topics = { nameOf: (id: string) => (id === ID ? "tenant-b.old" : undefined) };
    const { response, calls } = await send(
      authorization(config, { topics }),
      "alice",
      ApiKey.DeleteTopics,
      latest(ApiKey.DeleteTopics),
      request,
      (call) => ({
        throttleTimeMs: 0,
        responses: call.request.topics.map((t: Body) => ({
          name: t.name,
          topicId: t.topicId,
          errorCode: ErrorCode.NONE,
          errorMessage: null,
        })),
      }),
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((t: Body) => t.name),
      ["tenant-a.old"],
    );
    assert.deepEqual(
      response!.responses.map((r) => [r.name, r.topicId, r.errorCode]),
      [
        ["tenant-a.old", ZERO_UUID, ErrorCode.NONE],
        [null, ID, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [null, "f".repeat(32), ErrorCode.UNKNOWN_TOPIC_ID],
      ],
    );
  });

  test("before v6, by name", async () => {
    const version = firstVersion("DeleteTopicsRequest", "topics") - 1;
    const request = { topics: [], topicNames: ["tenant-a.orders"], timeoutMs: 1000 };
    const { response, calls } = await send(authorization(), "alice", ApiKey.DeleteTopics, version, request);
    assert.equal(calls.length, 0);
    assert.deepEqual(
      response!.responses.map((r) => [r.name, r.errorCode]),
      [["tenant-a.orders", ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    );
  });
});

test("CreatePartitions: ALTER on each topic", async () => {
  const request = {
    topics: [{ name: "tenant-a.orders", count: 4, assignments: null }],
    timeoutMs: 1000,
    validateOnly: false,
  };
  const { response, calls } = await send(
    authorization(),
    "alice",
    ApiKey.CreatePartitions,
    latest(ApiKey.CreatePartitions),
    request,
  );
  assert.equal(calls.length, 0);
  assert.equal(response!.results[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
});

describe("configs", () => {
  test("DescribeConfigs: describe_configs on the topic, or on the cluster for a broker", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            {
              effect: "allow",
              resource: "topic",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["alter_configs"],
            },
          ],
        },
      },
    };
    const request = {
      resources: [
        { resourceType: TOPIC_CONFIGS, resourceName: "tenant-a.orders", configurationKeys: null },
        { resourceType: BROKER_CONFIGS, resourceName: "1", configurationKeys: null },
        { resourceType: TOPIC_CONFIGS, resourceName: "bob", configurationKeys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    };
    const { response, calls } = await send(
      authorization(config),
      "alice",
      ApiKey.DescribeConfigs,
      latest(ApiKey.DescribeConfigs),
      request,
      (call) => ({
        throttleTimeMs: 0,
        results: call.request.resources.map((r: Body) => ({
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
          configs: [],
        })),
      }),
    );
    assert.deepEqual(
      calls[0]!.request.resources.map((r: Body) => r.resourceName),
      ["tenant-a.orders"],
    );
    assert.deepEqual(
      response!.results.map((r) => [r.resourceName, r.errorCode]),
      [
        ["tenant-a.orders", ErrorCode.NONE],
        ["1", ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
        ["bob", ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  });

  test("IncrementalAlterConfigs: alter_configs on each resource", async () => {
    const request = {
      resources: [{ resourceType: TOPIC_CONFIGS, resourceName: "tenant-a.orders", configs: [] }],
      validateOnly: false,
    };
    const version = latest(ApiKey.IncrementalAlterConfigs);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.IncrementalAlterConfigs,
      version,
      request,
    );
    assert.equal(calls.length, 0);
    assert.equal(response!.responses[0]!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });
});

describe("cluster APIs", () => {
  const electLeaders = { electionType: 0, topicPartitions: null, timeoutMs: 1000 };
  const clusterRule = (operation: string) => ({
    principals: { alice: { rules: [{ effect: "allow", resource: "cluster", operations: [operation] }] } },
  });

  test("ElectLeaders needs ALTER on the cluster", async () => {
    const version = latest(ApiKey.ElectLeaders);
    const refused = await send(
      authorization(clusterRule("describe")),
      "alice",
      ApiKey.ElectLeaders,
      version,
      electLeaders,
    );
    assert.equal(refused.calls.length, 0);
    assert.equal(refused.response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const allowed = await send(
      authorization(clusterRule("alter")),
      "alice",
      ApiKey.ElectLeaders,
      version,
      electLeaders,
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });

  test("DescribeAcls needs DESCRIBE on the cluster (implied by alter)", async () => {
    const request = {
      resourceTypeFilter: 1,
      resourceNameFilter: null,
      patternTypeFilter: 1,
      principalFilter: null,
      hostFilter: null,
      operation: 1,
      permissionType: 1,
    };
    const version = latest(ApiKey.DescribeAcls);
    const refused = await send(authorization(), "alice", ApiKey.DescribeAcls, version, request);
    assert.equal(refused.response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const allowed = await send(
      authorization(clusterRule("alter")),
      "alice",
      ApiKey.DescribeAcls,
      version,
      request,
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });

  test("an API without an authorization rule (delegation tokens) is refused to everyone but super users", async () => {
    const request = { ownerPrincipalType: null, ownerPrincipalName: null, renewers: [], maxLifetimeMs: -1n };
    const version = latest(ApiKey.CreateDelegationToken);
    const everything = {
      principals: { alice: { rules: [{ effect: "allow", resource: "cluster", operations: ["all"] }] } },
    };
    const refused = await send(
      authorization(everything),
      "alice",
      ApiKey.CreateDelegationToken,
      version,
      request,
    );
    assert.equal(refused.calls.length, 0);
    assert.equal(refused.response!.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const admin = await send(
      authorization({ super_users: ["admin"] }),
      "admin",
      ApiKey.CreateDelegationToken,
      version,
      request,
      mirroringBroker,
    );
    assert.equal(admin.calls.length, 1);
  });
});
