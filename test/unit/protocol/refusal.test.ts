import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  API_KEYS,
  ApiKey,
  apiKeysNaming,
  apiName,
  ErrorCode,
  FIELD_VERSIONS,
  type FieldVersions,
  hasField,
  isApiKey,
  type RequestOf,
} from "../../../src/protocol/api.ts";
import { decodeResponse, encodeResponse } from "../../../src/protocol/frame.ts";
import { refusalResponse } from "../../../src/protocol/refusal.ts";
import { randomMessage, seededRng } from "../../../src/protocol/testing/random-message.ts";

const CODE = ErrorCode.GROUP_AUTHORIZATION_FAILED;
const MESSAGE = "reserved";
const INSTANCES_PER_VERSION = 25;

/** Every API whose request names a group, and FindCoordinator. */
const GROUP_APIS = [...new Set([...apiKeysNaming("groupId").filter(isApiKey), ApiKey.FindCoordinator])];

// biome-ignore lint/suspicious/noExplicitAny: any API's message body
type Body = any;

/** The refusal as the client decodes it: through the codec at that version (so it is well-formed). */
function refusedOnTheWire(apiKey: ApiKey, version: number, request: Body): Body {
  const response = refusalResponse(apiKey, version, request, CODE, MESSAGE);
  const wire = encodeResponse(apiKey, version, 1, response);
  return decodeResponse(apiKey, version, wire.subarray(4)).body;
}

/** Every value of the fields named `name` anywhere in a message that the version carries. */
function fieldsNamed(message: string, version: number, value: unknown, name: string): unknown[] {
  const versions = FIELD_VERSIONS[message as keyof typeof FIELD_VERSIONS] as Record<string, FieldVersions>;
  const out: unknown[] = [];
  const walk = (node: unknown, prefix: string) => {
    if (Array.isArray(node)) for (const element of node) walk(element, prefix);
    else if (node !== null && typeof node === "object" && !Buffer.isBuffer(node)) {
      for (const [key, field] of Object.entries(node)) {
        const path = prefix + key;
        const v = versions[path];
        if (v === undefined || version < v.first || (v.last !== null && version > v.last)) continue;
        if (key === name) out.push(field);
        else walk(field, `${path}.`);
      }
    }
  };
  walk(value, "");
  return out;
}

const partitionsOf = (topics: Body[] | null) =>
  (topics ?? []).map((t: Body) => (t.partitions ?? []).map((p: Body) => p.partitionIndex));

/**
 * What the client asked about, and what the response answers for, per batch API: the entries must match one to
 * one. APIs not listed answer with their top-level error only.
 */
const ENTRIES: Partial<
  Record<ApiKey, (request: Body, response: Body, version: number) => [unknown, unknown]>
> = {
  [ApiKey.FindCoordinator]: (q, r, v) =>
    hasField("FindCoordinatorRequest", "coordinatorKeys", v)
      ? [q.coordinatorKeys, r.coordinators.map((c: Body) => [c.key, c.nodeId, c.port])]
      : [[], []],
  [ApiKey.DescribeGroups]: (q, r) => [q.groups, r.groups.map((g: Body) => g.groupId)],
  [ApiKey.DeleteGroups]: (q, r) => [q.groupsNames, r.results.map((g: Body) => g.groupId)],
  [ApiKey.ConsumerGroupDescribe]: (q, r) => [q.groupIds, r.groups.map((g: Body) => g.groupId)],
  [ApiKey.ShareGroupDescribe]: (q, r) => [q.groupIds, r.groups.map((g: Body) => g.groupId)],
  [ApiKey.StreamsGroupDescribe]: (q, r) => [q.groupIds, r.groups.map((g: Body) => g.groupId)],
  [ApiKey.OffsetCommit]: (q, r) => [
    q.topics.map((t: Body) => [t.name, t.topicId, partitionsOf([t])[0]]),
    r.topics.map((t: Body) => [t.name, t.topicId, partitionsOf([t])[0]]),
  ],
  [ApiKey.TxnOffsetCommit]: (q, r) => [
    q.topics.map((t: Body) => [t.name, t.topicId, partitionsOf([t])[0]]),
    r.topics.map((t: Body) => [t.name, t.topicId, partitionsOf([t])[0]]),
  ],
  [ApiKey.OffsetDelete]: (q, r) => [
    q.topics.map((t: Body) => [t.name, partitionsOf([t])[0]]),
    r.topics.map((t: Body) => [t.name, partitionsOf([t])[0]]),
  ],
  [ApiKey.OffsetFetch]: (q, r, v) => {
    if (!hasField("OffsetFetchRequest", "groups", v)) {
      const asked = (q.topics ?? []).map((t: Body) => [t.name, t.partitionIndexes]);
      return [asked, r.topics.map((t: Body) => [t.name, partitionsOf([t])[0]])];
    }
    const asked = q.groups.map((g: Body) => [
      g.groupId,
      (g.topics ?? []).map((t: Body) => [t.name, t.topicId, t.partitionIndexes]),
    ]);
    const answered = r.groups.map((g: Body) => [
      g.groupId,
      g.topics.map((t: Body) => [t.name, t.topicId, partitionsOf([t])[0]]),
    ]);
    return [asked, answered];
  },
  [ApiKey.LeaveGroup]: (q, r, v) =>
    hasField("LeaveGroupRequest", "members", v)
      ? [
          q.members.map((m: Body) => [m.memberId, m.groupInstanceId]),
          r.members.map((m: Body) => [m.memberId, m.groupInstanceId]),
        ]
      : [[], []],
  [ApiKey.DescribeShareGroupOffsets]: (q, r) => [
    q.groups.map((g: Body) => [g.groupId, (g.topics ?? []).map((t: Body) => [t.topicName, t.partitions])]),
    r.groups.map((g: Body) => [g.groupId, g.topics.map((t: Body) => [t.topicName, partitionsOf([t])[0]])]),
  ],
  [ApiKey.AlterShareGroupOffsets]: (q, r) => [
    q.topics.map((t: Body) => [t.topicName, partitionsOf([t])[0]]),
    r.responses.map((t: Body) => [t.topicName, partitionsOf([t])[0]]),
  ],
  [ApiKey.DeleteShareGroupOffsets]: (q, r) => [
    q.topics.map((t: Body) => t.topicName),
    r.responses.map((t: Body) => t.topicName),
  ],
};

/** The FindCoordinator v4+ expectation pairs keys with "no coordinator" (-1, -1). */
function expectedEntries(apiKey: ApiKey, asked: unknown): unknown {
  if (apiKey === ApiKey.FindCoordinator) return (asked as string[]).map((key) => [key, -1, -1]);
  return asked;
}

/** Responses whose only errors are per partition: one for each partition asked about. */
function errorsPerPartitionOnly(apiKey: ApiKey, version: number): boolean {
  if (apiKey === ApiKey.OffsetFetch) {
    return (
      !hasField("OffsetFetchResponse", "errorCode", version) &&
      !hasField("OffsetFetchResponse", "groups", version)
    );
  }
  return apiKey === ApiKey.OffsetCommit || apiKey === ApiKey.TxnOffsetCommit;
}

describe("refusalResponse", () => {
  test("the group APIs are the ones expected", () => {
    assert.deepEqual(GROUP_APIS.map((key) => apiName(key)).sort(), [
      "AddOffsetsToTxn",
      "AlterShareGroupOffsets",
      "ConsumerGroupDescribe",
      "ConsumerGroupHeartbeat",
      "DeleteGroups",
      "DeleteShareGroupOffsets",
      "DescribeGroups",
      "DescribeShareGroupOffsets",
      "FindCoordinator",
      "Heartbeat",
      "JoinGroup",
      "LeaveGroup",
      "OffsetCommit",
      "OffsetDelete",
      "OffsetFetch",
      "ShareAcknowledge",
      "ShareFetch",
      "ShareGroupDescribe",
      "ShareGroupHeartbeat",
      "StreamsGroupDescribe",
      "StreamsGroupHeartbeat",
      "StreamsGroupTopologyDescriptionUpdate",
      "SyncGroup",
      "TxnOffsetCommit",
    ]);
  });

  for (const apiKey of GROUP_APIS) {
    const api = API_KEYS.find((a) => a.apiKey === apiKey)!;
    test(`${api.name}: every version encodes, and every entry asked about carries the error`, () => {
      const responseName = `${api.name}Response` as keyof typeof FIELD_VERSIONS;
      for (let version = api.minVersion; version <= api.maxVersion; version++) {
        for (let seed = 0; seed < INSTANCES_PER_VERSION; seed++) {
          const where = `v${version} seed ${seed}`;
          const request = randomMessage(apiKey, "request", version, seededRng(seed * 1000 + version), {
            maxArrayLength: 3,
          });
          const response = refusedOnTheWire(apiKey, version, request);
          const codes = fieldsNamed(responseName, version, response, "errorCode");
          assert.ok(
            codes.every((code) => code === CODE),
            `${where}: every error code is the refusal's`,
          );
          const topLevel = (FIELD_VERSIONS[responseName] as Record<string, FieldVersions>).errorCode;
          if (topLevel && version >= topLevel.first && (topLevel.last === null || version <= topLevel.last)) {
            assert.equal(response.errorCode, CODE, `${where}: top-level error`);
          } else if (errorsPerPartitionOnly(apiKey, version)) {
            const asked = ((request.topics ?? []) as Body[]).flatMap(
              (t: Body) => t.partitions ?? t.partitionIndexes,
            );
            assert.equal(codes.length, asked.length, `${where}: one error per partition`);
          } else {
            assert.ok(ENTRIES[apiKey], `${where}: no top-level error, so entries carry it`);
          }
          const messages = fieldsNamed(responseName, version, response, "errorMessage");
          assert.ok(
            messages.every((m) => m === MESSAGE),
            `${where}: every error message is the refusal's`,
          );
          const entries = ENTRIES[apiKey];
          if (entries) {
            const [asked, answered] = entries(request, response, version);
            assert.deepEqual(
              answered,
              expectedEntries(apiKey, asked),
              `${where}: entries mirror the request`,
            );
          }
        }
      }
    });
  }

  test("FindCoordinator v0-3 names no coordinator", () => {
    const last = API_KEYS.find((a) => a.apiKey === ApiKey.FindCoordinator)!;
    for (let version = last.minVersion; version <= last.maxVersion; version++) {
      if (hasField("FindCoordinatorRequest", "coordinatorKeys", version)) continue;
      const request: RequestOf<typeof ApiKey.FindCoordinator> = { key: "g", keyType: 0, coordinatorKeys: [] };
      const response = refusedOnTheWire(ApiKey.FindCoordinator, version, request);
      assert.deepEqual(
        [response.errorCode, response.nodeId, response.host, response.port],
        [CODE, -1, "", -1],
      );
    }
  });

  test("OffsetFetch: committed offsets read as none, for every partition asked about", () => {
    const request: RequestOf<typeof ApiKey.OffsetFetch> = {
      groupId: "g",
      topics: [{ name: "t", partitionIndexes: [0, 5] }],
      requireStable: false,
      groups: [],
    };
    // The oldest version has no top-level error, only errors per partition.
    const version = API_KEYS.find((a) => a.apiKey === ApiKey.OffsetFetch)!.minVersion;
    assert.equal(hasField("OffsetFetchResponse", "errorCode", version), false);
    const response = refusedOnTheWire(ApiKey.OffsetFetch, version, request);
    assert.deepEqual(
      response.topics[0].partitions.map((p: Body) => [
        p.partitionIndex,
        p.committedOffset,
        p.metadata,
        p.errorCode,
      ]),
      [
        [0, -1n, "", CODE],
        [5, -1n, "", CODE],
      ],
    );
  });

  test("a null error message where the version allows it, else empty", () => {
    const request: RequestOf<typeof ApiKey.DeleteGroups> = { groupsNames: ["a", "b"] };
    const last = API_KEYS.find((a) => a.apiKey === ApiKey.DeleteGroups)!.maxVersion;
    const response = refusalResponse(ApiKey.DeleteGroups, last, request, CODE);
    assert.deepEqual(
      response.results.map((r) => [r.groupId, r.errorCode, r.errorMessage]),
      [
        ["a", CODE, null],
        ["b", CODE, null],
      ],
    );
    const join = refusalResponse(ApiKey.JoinGroup, 0, {} as RequestOf<typeof ApiKey.JoinGroup>, CODE);
    assert.deepEqual([join.errorCode, join.generationId, join.memberId, join.members], [CODE, -1, "", []]);
  });

  test("an unknown version is an error", () => {
    const max = API_KEYS.find((a) => a.apiKey === ApiKey.Heartbeat)!.maxVersion;
    assert.throws(() =>
      refusalResponse(ApiKey.Heartbeat, max + 1, {} as RequestOf<typeof ApiKey.Heartbeat>, CODE),
    );
  });
});
