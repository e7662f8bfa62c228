import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import {
  type BrokerCall,
  companion,
  GROUP,
  groupWorld,
  PLAIN,
  PLAIN_ID,
  recordingBroker,
} from "./group-fixtures.ts";

const GHOST = "ghost";
const BUSY = "busy";
const ghostCompanion = (g: number) => `${GHOST}.__kpp-vg.${g}`;

function deleted(call: BrokerCall, errors: Record<string, number>) {
  return {
    throttleTimeMs: 0,
    results: (call.request.groupsNames as string[]).map((groupId) => ({
      groupId,
      errorCode: errors[groupId] ?? ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: null,
    })),
  };
}

test("DeleteGroups deletes the companion groups of every group deleted or not found", async () => {
  const world = groupWorld({ coordinatorOf: (group) => (group.endsWith(".1") ? 1 : 2) });
  const { broker, calls } = recordingBroker((call) =>
    call.nodeId === undefined
      ? deleted(call, { [GROUP]: ErrorCode.NONE, [BUSY]: ErrorCode.NON_EMPTY_GROUP })
      : deleted(call, {
          [companion(1)]: ErrorCode.NONE,
          [companion(3)]: ErrorCode.NONE,
          [ghostCompanion(2)]: ErrorCode.NONE,
        }),
  );
  const request = { groupsNames: [GROUP, GHOST, BUSY] };
  const { response } = await exchange(world.features, ApiKey.DeleteGroups, 2, request, broker);

  assert.deepEqual(calls[0], { api: "DeleteGroups", apiVersion: 2, nodeId: undefined, request });
  const companions = calls.slice(1).sort((a, b) => a.nodeId! - b.nodeId!);
  const all = (owner: (g: number) => string) => [1, 2, 3, 4, 5, 6, 7].map(owner);
  assert.deepEqual(
    companions.map((c) => [c.nodeId, c.apiVersion, c.request.groupsNames]),
    [
      [1, 3, [companion(1), ghostCompanion(1)]],
      [2, 3, [...all(companion).slice(1), ...all(ghostCompanion).slice(1)]],
    ],
    "every companion of a deleted or unknown group, none of the non-empty one, at the newest version",
  );
  assert.deepEqual(
    response!.results.map((r) => [r.groupId, r.errorCode, r.errorMessage]),
    [
      [GROUP, ErrorCode.NONE, null],
      [GHOST, ErrorCode.NONE, null],
      [BUSY, ErrorCode.NON_EMPTY_GROUP, null],
    ],
    "a group that had only companion groups counts as deleted",
  );
});

test("a companion group that cannot be deleted fails its group's deletion", async () => {
  const world = groupWorld();
  const { broker } = recordingBroker((call) =>
    call.nodeId === undefined
      ? deleted(call, { [GROUP]: ErrorCode.NONE })
      : deleted(call, { [companion(1)]: ErrorCode.NONE, [companion(4)]: ErrorCode.NON_EMPTY_GROUP }),
  );
  const { response } = await exchange(
    world.features,
    ApiKey.DeleteGroups,
    3,
    { groupsNames: [GROUP] },
    broker,
  );
  assert.deepEqual(
    response!.results.map((r) => [r.groupId, r.errorCode, r.errorMessage]),
    [[GROUP, ErrorCode.NON_EMPTY_GROUP, `deleting companion group ${companion(4)} failed`]],
  );
});

test("DeleteGroups bounds the companion groups by the rules, without listing the cluster's topics", async () => {
  const world = groupWorld({
    metadataTopics: [{ errorCode: ErrorCode.NONE, name: PLAIN, topicId: PLAIN_ID, partitions: [{}] }],
  });
  const { broker, calls } = recordingBroker((call) => deleted(call, { [GROUP]: ErrorCode.NONE }));
  const { response } = await exchange(
    world.features,
    ApiKey.DeleteGroups,
    2,
    { groupsNames: [GROUP] },
    broker,
  );
  assert.ok(!world.adminRequests.some(([api]) => api === "Metadata"), "no listing of every topic");
  assert.deepEqual(
    calls.filter((c) => c.api === "DeleteGroups").map((c) => c.request.groupsNames),
    [[GROUP], Array.from({ length: world.context.rules.largestGroups - 1 }, (_, i) => companion(i + 1))],
  );
  assert.deepEqual(
    response!.results.map((r) => [r.groupId, r.errorCode]),
    [[GROUP, ErrorCode.NONE]],
    "companion groups that do not exist are no error",
  );
});
