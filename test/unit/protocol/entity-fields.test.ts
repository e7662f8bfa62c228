import assert from "node:assert/strict";
import { test } from "node:test";
import { requestEntityFields } from "../../../scripts/codegen/emit-entity-fields.ts";
import { parseMessage } from "../../../scripts/codegen/spec.ts";
import {
  ApiKey,
  apiKeysNaming,
  ENTITY_TYPES,
  entityMessageOf,
  FIELD_VERSIONS,
  hasField,
  REQUEST_ENTITY_FIELDS,
  type RequestOf,
  requestEntities,
  requestEntityPaths,
} from "../../../src/protocol/api.ts";

test("the entity table names the fields that hold groups, topics and transactional ids", () => {
  assert.deepEqual(ENTITY_TYPES, ["brokerId", "groupId", "producerId", "topicName", "transactionalId"]);
  assert.deepEqual(REQUEST_ENTITY_FIELDS.OffsetFetchRequest, {
    groupId: ["groupId", "groups.groupId"],
    topicName: ["topics.name", "groups.topics.name"],
  });
  assert.deepEqual(REQUEST_ENTITY_FIELDS.DeleteGroupsRequest, { groupId: ["groupsNames"] });
  assert.deepEqual(REQUEST_ENTITY_FIELDS.TxnOffsetCommitRequest.transactionalId, ["transactionalId"]);
  assert.deepEqual(REQUEST_ENTITY_FIELDS.ProduceRequest.topicName, ["topicData.name"]);
  // A field of a common struct counts at every path that reaches it.
  assert.deepEqual(REQUEST_ENTITY_FIELDS.StreamsGroupHeartbeatRequest.topicName, [
    "topology.subtopologies.sourceTopics",
    "topology.subtopologies.stateChangelogTopics.name",
    "topology.subtopologies.repartitionSinkTopics",
    "topology.subtopologies.repartitionSourceTopics.name",
  ]);
  // FindCoordinator's key names a group or a transactional id depending on its key type: no entity type.
  assert.equal(entityMessageOf(ApiKey.FindCoordinator), undefined);
  assert.deepEqual(requestEntityPaths(ApiKey.FindCoordinator, "groupId"), []);
  assert.equal(entityMessageOf(ApiKey.JoinGroup), "JoinGroupRequest");
  assert.deepEqual(requestEntityPaths(ApiKey.JoinGroup, "groupId"), ["groupId"]);
  assert.ok(apiKeysNaming("groupId").includes(ApiKey.OffsetCommit));
  assert.ok(!apiKeysNaming("groupId").includes(ApiKey.ListGroups));
  assert.ok(apiKeysNaming("transactionalId").includes(ApiKey.InitProducerId));
});

test("every path of the entity table is a field of its message", () => {
  for (const [message, byEntity] of Object.entries(REQUEST_ENTITY_FIELDS)) {
    const fields = FIELD_VERSIONS[message as keyof typeof FIELD_VERSIONS] as Record<string, unknown>;
    for (const paths of Object.values(byEntity) as string[][]) {
      for (const path of paths) assert.ok(fields[path], `${message}: ${path}`);
    }
  }
});

test("requestEntities reads the fields a version carries, through lists, without nulls", () => {
  const fetch: RequestOf<typeof ApiKey.OffsetFetch> = {
    groupId: "single",
    topics: [{ name: "t1", partitionIndexes: [0] }],
    requireStable: false,
    groups: [
      {
        groupId: "g1",
        memberId: null,
        memberEpoch: -1,
        topics: [{ name: "a", topicId: "", partitionIndexes: [] }],
      },
      { groupId: "g2", memberId: null, memberEpoch: -1, topics: null },
    ],
  };
  const multi = 8;
  assert.equal(hasField("OffsetFetchRequest", "groups", multi), true);
  assert.equal(hasField("OffsetFetchRequest", "groupId", multi - 1), true);
  assert.deepEqual(requestEntities(ApiKey.OffsetFetch, multi - 1, fetch, "groupId"), ["single"]);
  assert.deepEqual(requestEntities(ApiKey.OffsetFetch, multi - 1, fetch, "topicName"), ["t1"]);
  assert.deepEqual(requestEntities(ApiKey.OffsetFetch, multi, fetch, "groupId"), ["g1", "g2"]);
  assert.deepEqual(requestEntities(ApiKey.OffsetFetch, multi, fetch, "topicName"), ["a"]);
  assert.deepEqual(
    requestEntities(ApiKey.DeleteGroups, 0, { groupsNames: ["x", "y"] }, "groupId"),
    ["x", "y"],
    "a list of names",
  );
  assert.deepEqual(
    requestEntities(
      ApiKey.ShareFetch,
      1,
      { groupId: null } as unknown as RequestOf<typeof ApiKey.ShareFetch>,
      "groupId",
    ),
    [],
    "a null group id names nothing",
  );
  assert.deepEqual(requestEntities(ApiKey.ListGroups, 0, {}, "groupId"), []);
});

test("codegen: entity types come from the JSON's entityType, at every path a struct is reached by", () => {
  const spec = parseMessage(
    "ExampleRequest.json",
    JSON.stringify({
      apiKey: 999,
      type: "request",
      name: "ExampleRequest",
      validVersions: "0-2",
      flexibleVersions: "none",
      fields: [
        { name: "GroupId", type: "string", versions: "0+", entityType: "groupId" },
        { name: "Old", type: "[]Item", versions: "0-1" },
        { name: "New", type: "[]Item", versions: "2+" },
      ],
      commonStructs: [
        {
          name: "Item",
          versions: "0+",
          fields: [{ name: "Topic", type: "string", versions: "0+", entityType: "topicName" }],
        },
      ],
    }),
  );
  assert.deepEqual(
    [...requestEntityFields(spec)],
    [
      ["groupId", ["groupId"]],
      ["topicName", ["old.topic", "new.topic"]],
    ],
  );
});
