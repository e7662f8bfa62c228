import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, ErrorCode } from "../../../../src/protocol/api.ts";
import { exchange } from "../../../helpers/chain-harness.ts";
import { companion, GROUP, groupWorld, recordingBroker } from "./group-fixtures.ts";

function listed(groupIds: string[]) {
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    groups: groupIds.map((groupId) => ({
      groupId,
      protocolType: "consumer",
      groupState: "Empty",
      groupType: "classic",
    })),
  };
}

test("ListGroups hides companion groups; the request goes to the broker as the client sent it", async () => {
  const world = groupWorld();
  const { broker, calls } = recordingBroker(() => listed([GROUP, companion(1), "other", companion(7)]));
  const request = { statesFilter: ["Empty"], typesFilter: [] };
  const result = await exchange(world.features, ApiKey.ListGroups, 5, request, broker);
  assert.equal(result.intercepted, false);
  assert.deepEqual(
    calls.map((c) => [c.api, c.apiVersion, c.request]),
    [["ListGroups", 5, request]],
  );
  assert.deepEqual(
    result.response!.groups.map((g) => [g.groupId, g.groupState]),
    [
      [GROUP, "Empty"],
      ["other", "Empty"],
    ],
  );
});

test("ListGroups without companion groups comes back as the broker sent it", async () => {
  const world = groupWorld();
  const { broker } = recordingBroker(() => listed([GROUP, "other"]));
  const result = await exchange(
    world.features,
    ApiKey.ListGroups,
    4,
    { statesFilter: [], typesFilter: [] },
    broker,
  );
  assert.deepEqual(
    result.response!.groups.map((g) => g.groupId),
    [GROUP, "other"],
  );
});
