import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isSimpleCommit } from "../../../../src/groups/commit-fencing.ts";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  type BrokerCall,
  CLIENT_NODE,
  clientOfCoordinator,
  consumerGroupDescribeAnswer,
  consumerMember,
  describeGroupsAnswer,
  GROUP,
  type GroupSetup,
  groupWorld,
  ORDERS,
  partitionErrors,
  recordingBroker,
} from "./group-fixtures.ts";
import { acceptCommits, commitRequest, companionCommit, companionCommits } from "./offset-commit-fixtures.ts";

const CLASSIC_MEMBER = 0;
const CONSUMER_MEMBER = 1;

/**
 * A commit of companion partitions only (v5 -> companion 1, p1; v22 -> companion 5, p2; v40 is out of range),
 * against a broker that answers the membership checks with `checks` and accepts companion commits.
 */
async function companionOnlyCommit(
  member: { generation: number; memberId: string; instance?: string | null },
  checks: Partial<Record<string, (call: BrokerCall) => unknown>>,
  commitVersion = 8,
  setup: GroupSetup = {},
) {
  const world = groupWorld(setup);
  const { broker, calls } = recordingBroker((call) => {
    if (call.api === "OffsetCommit") return acceptCommits(call);
    const answer = checks[call.api];
    if (!answer) throw new Error(`unexpected ${call.api}`);
    return answer(call);
  });
  const { response } = await exchange(
    world.features,
    ApiKey.OffsetCommit,
    commitVersion,
    commitRequest([{ name: ORDERS, partitions: [5, 22, 40] }], member),
    broker,
    clientOfCoordinator(),
  );
  const checked = calls.filter((c) => c.api !== "OffsetCommit");
  return {
    response: response!,
    checks: checked.map((c) => [c.api, c.apiVersion, c.nodeId, c.request]),
    companions: companionCommits(calls).map((c) => c.request),
    negotiated: world.negotiated.filter(([, api]) => api !== "OffsetCommit"),
  };
}

const committed = [companionCommit(1, [[1, 5]]), companionCommit(5, [[2, 22]])];

function everyPartition(errorCode: number) {
  return [
    [
      ORDERS,
      [
        [5, errorCode],
        [22, errorCode],
        [40, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    ],
  ];
}

const heartbeat = (errorCode: number) => () => ({ throttleTimeMs: 0, errorCode });
const classicMember = { generation: 5, memberId: "m-1", instance: "instance-1" };
const simple = { generation: -1, memberId: "" };

test("a simple commit is one without generation, member id or instance id", () => {
  const identity = { groupId: GROUP, generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: null };
  assert.equal(isSimpleCommit(identity), true);
  assert.equal(isSimpleCommit({ ...identity, memberId: "m" }), false);
  assert.equal(isSimpleCommit({ ...identity, groupInstanceId: "i" }), false);
  assert.equal(isSimpleCommit({ ...identity, generationIdOrMemberEpoch: 0 }), false);
});

describe("a commit of companion partitions only is checked against the real group first", () => {
  test("classic member: Heartbeat on the client's connection, then the companion commits", async () => {
    const result = await companionOnlyCommit(classicMember, { Heartbeat: heartbeat(ErrorCode.NONE) });
    assert.deepEqual(result.checks, [
      [
        "Heartbeat",
        4,
        undefined,
        { groupId: GROUP, generationId: 5, memberId: "m-1", groupInstanceId: "instance-1" },
      ],
    ]);
    assert.deepEqual(result.negotiated, [[CLIENT_NODE, "Heartbeat", { min: 3 }, 4]]);
    assert.deepEqual(result.companions, committed);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.NONE));
  });

  test("a fenced classic member gets the Heartbeat's error and moves nothing", async () => {
    const result = await companionOnlyCommit(classicMember, {
      Heartbeat: heartbeat(ErrorCode.ILLEGAL_GENERATION),
    });
    assert.deepEqual(
      result.checks.map(([api]) => api),
      ["Heartbeat"],
    );
    assert.deepEqual(result.companions, []);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.ILLEGAL_GENERATION));
  });

  test("REBALANCE_IN_PROGRESS comes after the member checks passed: the commit goes ahead", async () => {
    const result = await companionOnlyCommit(classicMember, {
      Heartbeat: heartbeat(ErrorCode.REBALANCE_IN_PROGRESS),
    });
    assert.deepEqual(result.companions, committed);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.NONE));
  });

  test("simple commit: DescribeGroups v6 and ConsumerGroupDescribe find no group, the commit goes ahead", async () => {
    const result = await companionOnlyCommit(simple, {
      DescribeGroups: () => describeGroupsAnswer(GROUP, ErrorCode.GROUP_ID_NOT_FOUND),
      ConsumerGroupDescribe: () => consumerGroupDescribeAnswer(GROUP, ErrorCode.GROUP_ID_NOT_FOUND),
    });
    assert.deepEqual(result.checks, [
      ["DescribeGroups", 6, undefined, { groups: [GROUP], includeAuthorizedOperations: false }],
      ["ConsumerGroupDescribe", 1, undefined, { groupIds: [GROUP], includeAuthorizedOperations: false }],
    ]);
    assert.deepEqual(result.negotiated, [
      [CLIENT_NODE, "DescribeGroups", undefined, 6],
      [CLIENT_NODE, "ConsumerGroupDescribe", undefined, 1],
    ]);
    assert.deepEqual(result.companions, committed);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.NONE));
  });

  test("simple commit into a classic group with members: UNKNOWN_MEMBER_ID, nothing moves", async () => {
    const result = await companionOnlyCommit(simple, {
      DescribeGroups: () => describeGroupsAnswer(GROUP, ErrorCode.NONE, ["m-1"]),
    });
    assert.deepEqual(
      result.checks.map(([api]) => api),
      ["DescribeGroups"],
    );
    assert.deepEqual(result.companions, []);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
  });

  test("simple commit, DescribeGroups v5 (a dead group) and a consumer-protocol group with members", async () => {
    const result = await companionOnlyCommit(
      simple,
      {
        DescribeGroups: () => describeGroupsAnswer(GROUP, ErrorCode.NONE),
        ConsumerGroupDescribe: () =>
          consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-1", 4, CONSUMER_MEMBER)]),
      },
      8,
      { brokerMaxVersions: { [ApiKey.DescribeGroups]: 5 } },
    );
    assert.deepEqual(
      result.checks.map(([api, version]) => [api, version]),
      [
        ["DescribeGroups", 5],
        ["ConsumerGroupDescribe", 1],
      ],
    );
    assert.deepEqual(result.companions, []);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
  });

  test("simple commit when DescribeGroups fails otherwise: its error", async () => {
    const result = await companionOnlyCommit(simple, {
      DescribeGroups: () => describeGroupsAnswer(GROUP, ErrorCode.GROUP_AUTHORIZATION_FAILED),
    });
    assert.deepEqual(result.companions, []);
    assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.GROUP_AUTHORIZATION_FAILED));
  });

  describe("consumer-protocol member (unknown to Heartbeat)", () => {
    const consumer = { generation: 7, memberId: "c-1" };
    const unknownToHeartbeat = heartbeat(ErrorCode.UNKNOWN_MEMBER_ID);

    test("v9 commit from a member of that epoch: the commit goes ahead", async () => {
      const result = await companionOnlyCommit(
        consumer,
        {
          Heartbeat: unknownToHeartbeat,
          ConsumerGroupDescribe: () =>
            consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-1", 7, CONSUMER_MEMBER)]),
        },
        9,
      );
      assert.deepEqual(
        result.checks.map(([api, version, nodeId]) => [api, version, nodeId]),
        [
          ["Heartbeat", 4, undefined],
          ["ConsumerGroupDescribe", 1, undefined],
        ],
      );
      assert.deepEqual(result.companions, committed);
      assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.NONE));
    });

    test("another epoch: STALE_MEMBER_EPOCH; an absent member: UNKNOWN_MEMBER_ID", async () => {
      const stale = await companionOnlyCommit(
        consumer,
        {
          Heartbeat: unknownToHeartbeat,
          ConsumerGroupDescribe: () =>
            consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-1", 8, CONSUMER_MEMBER)]),
        },
        9,
      );
      assert.deepEqual(stale.companions, []);
      assert.deepEqual(partitionErrors(stale.response), everyPartition(ErrorCode.STALE_MEMBER_EPOCH));
      const absent = await companionOnlyCommit(
        consumer,
        {
          Heartbeat: unknownToHeartbeat,
          ConsumerGroupDescribe: () =>
            consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-2", 7, CONSUMER_MEMBER)]),
        },
        9,
      );
      assert.deepEqual(absent.companions, []);
      assert.deepEqual(partitionErrors(absent.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
    });

    test("a classic member of a consumer group keeps Heartbeat's answer", async () => {
      const result = await companionOnlyCommit(
        consumer,
        {
          Heartbeat: unknownToHeartbeat,
          ConsumerGroupDescribe: () =>
            consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-1", 7, CLASSIC_MEMBER)]),
        },
        9,
      );
      assert.deepEqual(result.companions, []);
      assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
    });

    test("ConsumerGroupDescribe v0 has no member type: the epoch decides", async () => {
      const result = await companionOnlyCommit(
        consumer,
        {
          Heartbeat: unknownToHeartbeat,
          ConsumerGroupDescribe: () =>
            consumerGroupDescribeAnswer(GROUP, ErrorCode.NONE, [consumerMember("c-1", 7, CLASSIC_MEMBER)]),
        },
        9,
        { brokerMaxVersions: { [ApiKey.ConsumerGroupDescribe]: 0 } },
      );
      assert.deepEqual(
        result.checks.map(([api, version]) => [api, version]),
        [
          ["Heartbeat", 4],
          ["ConsumerGroupDescribe", 0],
        ],
      );
      assert.deepEqual(result.companions, committed);
    });

    test("before OffsetCommit v9 there are no consumer-protocol commits: Heartbeat's answer stands", async () => {
      const result = await companionOnlyCommit(consumer, { Heartbeat: unknownToHeartbeat }, 8);
      assert.deepEqual(
        result.checks.map(([api]) => api),
        ["Heartbeat"],
      );
      assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
    });

    test("a broker without ConsumerGroupDescribe: Heartbeat's answer stands", async () => {
      const result = await companionOnlyCommit(consumer, { Heartbeat: unknownToHeartbeat }, 9, {
        brokerMaxVersions: { [ApiKey.ConsumerGroupDescribe]: -1 },
      });
      assert.deepEqual(
        result.checks.map(([api]) => api),
        ["Heartbeat"],
      );
      assert.deepEqual(partitionErrors(result.response), everyPartition(ErrorCode.UNKNOWN_MEMBER_ID));
    });
  });
});
