import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, apiInfo, lastVersion } from "../../../src/protocol/api.ts";
import { decodeRequest, encodeRequest, REQUEST_ELEMENT_LIMIT } from "../../../src/protocol/frame.ts";

const DELETE_GROUPS = apiInfo(ApiKey.DeleteGroups)!.maxVersion;

/** A DeleteGroups request naming `count` empty group names: one byte per name on the wire. */
function deleteGroups(count: number): Buffer {
  return encodeRequest(
    { apiKey: ApiKey.DeleteGroups, apiVersion: DELETE_GROUPS, correlationId: 1, clientId: "t" },
    { groupsNames: new Array<string>(count).fill("") },
  ).subarray(4);
}

describe("request element limit", () => {
  test("a request of minimal elements beyond the limit is refused before it is built", () => {
    const frame = deleteGroups(REQUEST_ELEMENT_LIMIT + 1);
    assert.ok(frame.length < 2 * REQUEST_ELEMENT_LIMIT, "about one byte per element");
    assert.throws(() => decodeRequest(frame, REQUEST_ELEMENT_LIMIT), /more than 262144 array elements/);
  });

  test("a request at the limit decodes, and the limit applies only where asked", () => {
    const atLimit = decodeRequest(deleteGroups(REQUEST_ELEMENT_LIMIT), REQUEST_ELEMENT_LIMIT);
    assert.equal((atLimit.body as { groupsNames: string[] }).groupsNames.length, REQUEST_ELEMENT_LIMIT);
    const unlimited = decodeRequest(deleteGroups(REQUEST_ELEMENT_LIMIT + 1));
    assert.equal((unlimited.body as { groupsNames: string[] }).groupsNames.length, REQUEST_ELEMENT_LIMIT + 1);
  });

  test("elements of nested arrays count together", () => {
    const request = {
      groupId: "g",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      retentionTimeMs: -1n,
      topics: Array.from({ length: 3 }, (_, t) => ({
        name: `t${t}`,
        topicId: "0".repeat(32),
        partitions: Array.from({ length: 4 }, (_, p) => ({
          partitionIndex: p,
          committedOffset: 0n,
          committedLeaderEpoch: -1,
          commitTimestamp: -1n,
          committedMetadata: null,
        })),
      })),
    };
    const version = lastVersion("OffsetCommitRequest", "topics.name")!;
    const frame = encodeRequest(
      { apiKey: ApiKey.OffsetCommit, apiVersion: version, correlationId: 1, clientId: "t" },
      request,
    ).subarray(4);
    assert.doesNotThrow(() => decodeRequest(frame, 15));
    assert.throws(() => decodeRequest(frame, 14), /more than 14 array elements/);
  });
});
