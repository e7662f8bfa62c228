import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, ErrorCode, firstVersion, type RequestOf, ZERO_UUID } from "../../../../src/protocol/api.ts";
import { refusalResponse } from "../../../../src/protocol/refusal.ts";
import type { UpstreamCall } from "../../../helpers/chain-harness.ts";
import { authorization, type Body, latest, send } from "./fixtures.ts";

/** FindCoordinator's key types. */
const GROUP_KEY = 0;
const TRANSACTION_KEY = 1;

/** A broker that answers every entry without error, as the refusal builder mirrors requests. */
function mirroringBroker(call: UpstreamCall) {
  return refusalResponse(call.apiKey, call.apiVersion, call.request, ErrorCode.NONE);
}

function commitRequest(groupId: string, topics: Record<string, number[]>) {
  return {
    groupId,
    generationIdOrMemberEpoch: 1,
    memberId: "m",
    groupInstanceId: null,
    retentionTimeMs: -1n,
    topics: Object.entries(topics).map(([name, partitions]) => ({
      name,
      topicId: ZERO_UUID,
      partitions: partitions.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: 10n,
        committedLeaderEpoch: -1,
        committedMetadata: "",
      })),
    })),
  } satisfies RequestOf<typeof ApiKey.OffsetCommit>;
}

const COMMIT_BY_NAME = firstVersion("OffsetCommitRequest", "topics.topicId") - 1;

function partitionErrors(
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[],
) {
  return Object.fromEntries(
    topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
  );
}

describe("OffsetCommit", () => {
  test("a group the principal may not read: every partition gets GROUP_AUTHORIZATION_FAILED, nothing is committed", async () => {
    const request = commitRequest("tenant-b.group", { "tenant-a.orders": [0, 1], bob: [2] });
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.OffsetCommit,
      COMMIT_BY_NAME,
      request,
    );
    assert.equal(calls.length, 0);
    assert.deepEqual(partitionErrors(response!.topics), {
      "tenant-a.orders": [
        [0, ErrorCode.GROUP_AUTHORIZATION_FAILED],
        [1, ErrorCode.GROUP_AUTHORIZATION_FAILED],
      ],
      bob: [[2, ErrorCode.GROUP_AUTHORIZATION_FAILED]],
    });
  });

  test("topics the principal may not read are not committed and get TOPIC_AUTHORIZATION_FAILED", async () => {
    const request = commitRequest("tenant-a.group", { "tenant-a.orders": [0], bob: [2] });
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.OffsetCommit,
      COMMIT_BY_NAME,
      request,
      mirroringBroker,
    );
    assert.deepEqual(
      calls[0]!.request.topics.map((t: Body) => t.name),
      ["tenant-a.orders"],
    );
    assert.deepEqual(partitionErrors(response!.topics), {
      "tenant-a.orders": [[0, ErrorCode.NONE]],
      bob: [[2, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
    });
  });
});

describe("OffsetFetch", () => {
  const version = latest(ApiKey.OffsetFetch);
  const ORDERS_ID = "a".repeat(32);
  const BOB_ID = "b".repeat(32);
  const topics = { nameOf: (id: string) => ({ [ORDERS_ID]: "tenant-a.orders", [BOB_ID]: "bob" })[id] };

  test("groups are checked one by one; a group's offsets for all topics show only describable topics", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            {
              effect: "allow",
              resource: "group",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["describe"],
            },
            {
              effect: "allow",
              resource: "topic",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["describe"],
            },
          ],
        },
      },
    };
    const request = {
      groupId: "",
      topics: [],
      requireStable: false,
      groups: [
        { groupId: "tenant-a.all", memberId: null, memberEpoch: -1, topics: null },
        { groupId: "tenant-b.group", memberId: null, memberEpoch: -1, topics: null },
        {
          groupId: "tenant-a.some",
          memberId: null,
          memberEpoch: -1,
          topics: [
            { name: "", topicId: ORDERS_ID, partitionIndexes: [0] },
            { name: "", topicId: BOB_ID, partitionIndexes: [1, 2] },
          ],
        },
      ],
    };
    const offsets = (topicId: string, partitions: number[]) => ({
      name: "",
      topicId,
      partitions: partitions.map((partitionIndex) => ({
        partitionIndex,
        committedOffset: 7n,
        committedLeaderEpoch: -1,
        metadata: "",
        errorCode: ErrorCode.NONE,
      })),
    });
    const { response, calls } = await send(
      authorization(config, { topics }),
      "alice",
      ApiKey.OffsetFetch,
      version,
      request,
      (call) => ({
        throttleTimeMs: 0,
        topics: [],
        errorCode: ErrorCode.NONE,
        groups: call.request.groups.map((group: Body) => ({
          groupId: group.groupId,
          errorCode: ErrorCode.NONE,
          topics:
            group.topics === null
              ? [offsets(ORDERS_ID, [0]), offsets(BOB_ID, [0])]
              : group.topics.map((t: Body) => offsets(t.topicId, t.partitionIndexes)),
        })),
      }),
    );
    assert.deepEqual(
      calls[0]!.request.groups.map((group: Body) => [
        group.groupId,
        group.topics?.map((t: Body) => t.topicId) ?? null,
      ]),
      [
        ["tenant-a.all", null],
        ["tenant-a.some", [ORDERS_ID]],
      ],
    );
    const byGroup = Object.fromEntries(
      response!.groups.map((group) => [
        group.groupId,
        [group.errorCode, group.topics.map((t) => [t.topicId, t.partitions.map((p) => p.errorCode)])],
      ]),
    );
    assert.deepEqual(byGroup, {
      "tenant-a.all": [ErrorCode.NONE, [[ORDERS_ID, [ErrorCode.NONE]]]],
      "tenant-a.some": [
        ErrorCode.NONE,
        [
          [ORDERS_ID, [ErrorCode.NONE]],
          [BOB_ID, [ErrorCode.TOPIC_AUTHORIZATION_FAILED, ErrorCode.TOPIC_AUTHORIZATION_FAILED]],
        ],
      ],
      "tenant-b.group": [ErrorCode.GROUP_AUTHORIZATION_FAILED, []],
    });
  });

  test("before batched groups: a refused group refuses the request", async () => {
    const old = firstVersion("OffsetFetchRequest", "groups") - 1;
    const request = {
      groupId: "tenant-b.group",
      topics: [{ name: "tenant-a.orders", partitionIndexes: [0] }],
      groups: [],
      requireStable: false,
    };
    const { response, calls } = await send(authorization(), "alice", ApiKey.OffsetFetch, old, request);
    assert.equal(calls.length, 0);
    assert.equal(response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });
});

describe("group membership", () => {
  const join = {
    groupId: "tenant-b.group",
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 10000,
    memberId: "",
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [],
    reason: null,
  };

  test("JoinGroup to a group the principal may not read gets GROUP_AUTHORIZATION_FAILED and reaches no broker", async () => {
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.JoinGroup,
      latest(ApiKey.JoinGroup),
      join,
    );
    assert.equal(calls.length, 0);
    assert.equal(response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  test("JoinGroup to a group it may read is passed on", async () => {
    const { calls } = await send(
      authorization(),
      "alice",
      ApiKey.JoinGroup,
      latest(ApiKey.JoinGroup),
      { ...join, groupId: "tenant-a.group" },
      mirroringBroker,
    );
    assert.equal(calls.length, 1);
  });

  test("ConsumerGroupHeartbeat subscribing to a topic the principal may not describe gets TOPIC_AUTHORIZATION_FAILED", async () => {
    const request = {
      groupId: "tenant-a.group",
      memberId: "m",
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 1000,
      subscribedTopicNames: ["tenant-a.orders", "bob"],
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: [],
    };
    const version = latest(ApiKey.ConsumerGroupHeartbeat);
    const refused = await send(authorization(), "alice", ApiKey.ConsumerGroupHeartbeat, version, request);
    assert.equal(refused.calls.length, 0);
    assert.equal(refused.response!.errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const allowed = await send(
      authorization(),
      "alice",
      ApiKey.ConsumerGroupHeartbeat,
      version,
      { ...request, subscribedTopicNames: ["tenant-a.orders"] },
      mirroringBroker,
    );
    assert.equal(allowed.calls.length, 1);
  });
});

describe("ConsumerGroupHeartbeat assignments", () => {
  const ORDERS_ID = "0000000000000000000000000000000a";
  const OTHERS_ID = "0000000000000000000000000000000b";
  const UNKNOWN_ID = "0000000000000000000000000000000c";
  const names: Record<string, string> = { [ORDERS_ID]: "tenant-a.orders", [OTHERS_ID]: "tenant-b.orders" };
  const topics = { nameOf: (id: string) => names[id] };
  const regexHeartbeat = {
    groupId: "tenant-a.group",
    memberId: "m",
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 1000,
    subscribedTopicNames: null,
    subscribedTopicRegex: "^tenant-.*\\.orders$",
    serverAssignor: null,
    topicPartitions: [],
  };
  /** The coordinator resolved the regex to every topic it matches, as the proxy's principal may see them all. */
  const coordinator = (call: UpstreamCall) => ({
    ...refusalResponse(call.apiKey, call.apiVersion, call.request, ErrorCode.NONE),
    memberId: "m",
    memberEpoch: 3,
    heartbeatIntervalMs: 5000,
    assignment: {
      topicPartitions: [
        { topicId: ORDERS_ID, partitions: [0, 1] },
        { topicId: OTHERS_ID, partitions: [0] },
        { topicId: UNKNOWN_ID, partitions: [2] },
      ],
    },
  });

  test("a regex subscription's assignment keeps only the topics the principal may describe, as Kafka's coordinator resolves it", async () => {
    const version = latest(ApiKey.ConsumerGroupHeartbeat);
    const { response, calls } = await send(
      authorization(undefined, { topics }),
      "alice",
      ApiKey.ConsumerGroupHeartbeat,
      version,
      regexHeartbeat,
      coordinator,
    );
    assert.equal(calls.length, 1);
    assert.equal(response!.errorCode, ErrorCode.NONE);
    assert.equal(response!.memberEpoch, 3);
    assert.deepEqual(
      response!.assignment!.topicPartitions.map((t: Body) => [t.topicId, t.partitions]),
      [[ORDERS_ID, [0, 1]]],
    );
  });

  test("a super user's assignment is left as the coordinator made it", async () => {
    const version = latest(ApiKey.ConsumerGroupHeartbeat);
    const { response } = await send(
      authorization(undefined, { topics }),
      "admin",
      ApiKey.ConsumerGroupHeartbeat,
      version,
      regexHeartbeat,
      coordinator,
    );
    assert.deepEqual(
      response!.assignment!.topicPartitions.map((t: Body) => t.topicId),
      [ORDERS_ID, OTHERS_ID, UNKNOWN_ID],
    );
  });
});

describe("FindCoordinator", () => {
  test("a transactional id the principal may not describe: its key gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the others are looked up", async () => {
    const config = {
      principals: {
        alice: {
          rules: [
            {
              effect: "allow",
              resource: "transactional_id",
              pattern: "tenant-a.",
              pattern_type: "prefixed",
              operations: ["describe"],
            },
          ],
        },
      },
    };
    const request = { key: "", keyType: TRANSACTION_KEY, coordinatorKeys: ["tenant-a.tx", "tenant-b.tx"] };
    const version = latest(ApiKey.FindCoordinator);
    const { response, calls } = await send(
      authorization(config),
      "alice",
      ApiKey.FindCoordinator,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(calls[0]!.request.coordinatorKeys, ["tenant-a.tx"]);
    assert.deepEqual(
      response!.coordinators.map((c) => [c.key, c.errorCode]),
      [
        ["tenant-a.tx", ErrorCode.NONE],
        ["tenant-b.tx", ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
      ],
    );
  });

  test("before batched keys, a refused key refuses the request", async () => {
    const version = firstVersion("FindCoordinatorRequest", "coordinatorKeys") - 1;
    const txn = await send(authorization(), "alice", ApiKey.FindCoordinator, version, {
      key: "tenant-b.tx",
      keyType: TRANSACTION_KEY,
      coordinatorKeys: [],
    });
    assert.equal(txn.calls.length, 0);
    assert.equal(txn.response!.errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const group = await send(authorization(), "alice", ApiKey.FindCoordinator, version, {
      key: "other",
      keyType: GROUP_KEY,
      coordinatorKeys: [],
    });
    assert.equal(group.response!.errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  test("group keys need DESCRIBE on the group (implied by read)", async () => {
    const version = firstVersion("FindCoordinatorRequest", "coordinatorKeys") - 1;
    const { calls } = await send(
      authorization(),
      "alice",
      ApiKey.FindCoordinator,
      version,
      { key: "tenant-a.group", keyType: GROUP_KEY, coordinatorKeys: [] },
      () => ({
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        nodeId: 1,
        host: "h",
        port: 1,
        coordinators: [],
      }),
    );
    assert.equal(calls.length, 1);
  });
});

describe("group listings and descriptions", () => {
  const listed = (groupId: string) => ({
    groupId,
    protocolType: "consumer",
    groupState: "Stable",
    groupType: "classic",
  });
  const listAnswer = () => ({
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    groups: [listed("tenant-a.one"), listed("tenant-b.two"), listed("tenant-a.three")],
  });
  const listRequest = { statesFilter: [], typesFilter: [] };

  test("ListGroups shows the groups the principal may describe", async () => {
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.ListGroups,
      latest(ApiKey.ListGroups),
      listRequest,
      listAnswer,
    );
    assert.deepEqual(
      response!.groups.map((g) => g.groupId),
      ["tenant-a.one", "tenant-a.three"],
    );
  });

  test("ListGroups: describe on the cluster shows every group, except to a principal confined to a prefix", async () => {
    const cluster = { effect: "allow", resource: "cluster", operations: ["describe"] };
    const open = { principals: { carol: { rules: [cluster] } } };
    const all = await send(
      authorization(open),
      "carol",
      ApiKey.ListGroups,
      latest(ApiKey.ListGroups),
      listRequest,
      listAnswer,
    );
    assert.equal(all.response!.groups.length, 3);
    const confined = {
      principals: {
        carol: {
          confine_to_prefix: "tenant-b.",
          rules: [cluster, { effect: "allow", resource: "group", pattern: "*", operations: ["describe"] }],
        },
      },
    };
    const some = await send(
      authorization(confined),
      "carol",
      ApiKey.ListGroups,
      latest(ApiKey.ListGroups),
      listRequest,
      listAnswer,
    );
    assert.deepEqual(
      some.response!.groups.map((g) => g.groupId),
      ["tenant-b.two"],
    );
  });

  test("DescribeGroups: refused groups get GROUP_AUTHORIZATION_FAILED; authorized operations are the principal's", async () => {
    const request = { groups: ["tenant-a.one", "tenant-b.two"], includeAuthorizedOperations: true };
    const version = latest(ApiKey.DescribeGroups);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.DescribeGroups,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(calls[0]!.request.groups, ["tenant-a.one"]);
    const READ_DELETE_DESCRIBE = (1 << 3) | (1 << 6) | (1 << 8);
    assert.deepEqual(
      response!.groups.map((g) => [g.groupId, g.errorCode, g.authorizedOperations]),
      [
        ["tenant-a.one", ErrorCode.NONE, READ_DELETE_DESCRIBE],
        ["tenant-b.two", ErrorCode.GROUP_AUTHORIZATION_FAILED, -(2 ** 31)],
      ],
    );
  });

  test("ConsumerGroupDescribe: a group assigning topics the principal may not describe is hidden behind TOPIC_AUTHORIZATION_FAILED", async () => {
    const member = (topicName: string) => ({
      memberId: "m",
      instanceId: null,
      rackId: null,
      memberEpoch: 1,
      clientId: "c",
      clientHost: "h",
      subscribedTopicNames: [topicName],
      subscribedTopicRegex: null,
      assignment: { topicPartitions: [{ topicId: ZERO_UUID, topicName, partitions: [0] }] },
      targetAssignment: { topicPartitions: [] },
      memberType: -1,
    });
    const request = { groupIds: ["tenant-a.ok", "tenant-a.mixed"], includeAuthorizedOperations: false };
    const version = latest(ApiKey.ConsumerGroupDescribe);
    const { response } = await send(
      authorization(),
      "alice",
      ApiKey.ConsumerGroupDescribe,
      version,
      request,
      (call) => {
        const answer = mirroringBroker(call) as Body;
        answer.groups[0].members = [member("tenant-a.orders")];
        answer.groups[1].members = [member("tenant-a.orders"), member("bob")];
        return answer;
      },
    );
    assert.deepEqual(
      response!.groups.map((g) => [g.groupId, g.errorCode, g.members.length]),
      [
        ["tenant-a.ok", ErrorCode.NONE, 1],
        ["tenant-a.mixed", ErrorCode.TOPIC_AUTHORIZATION_FAILED, 0],
      ],
    );
  });

  test("DeleteGroups: DELETE on each group", async () => {
    const request = { groupsNames: ["tenant-a.one", "tenant-b.two"] };
    const version = latest(ApiKey.DeleteGroups);
    const { response, calls } = await send(
      authorization(),
      "alice",
      ApiKey.DeleteGroups,
      version,
      request,
      mirroringBroker,
    );
    assert.deepEqual(calls[0]!.request.groupsNames, ["tenant-a.one"]);
    assert.deepEqual(
      response!.results.map((r) => [r.groupId, r.errorCode]),
      [
        ["tenant-a.one", ErrorCode.NONE],
        ["tenant-b.two", ErrorCode.GROUP_AUTHORIZATION_FAILED],
      ],
    );
  });
});
