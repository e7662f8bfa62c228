// The comparison of our decoded values with kafka-clients' JsonConverter output (used by
// `npm run vectors`): the JSON strings below are what kafka-clients 4.4.0 printed for these bytes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeCase } from "../../../../scripts/vectors/codec.ts";
import { compareWithKafkaJson, parseKafkaJson } from "../../../../scripts/vectors/kafka-json.ts";
import { ApiKey } from "../../../../src/protocol/api.ts";
import { messageSchema } from "../../../../src/protocol/testing/random-message.ts";

const metadataV12 = { kind: "request", apiKey: ApiKey.Metadata, version: 12 } as const;
const metadataBytes = Buffer.from("020123456789abcdef0123456789abcdef076f726465727300010000", "hex");
const metadataJson =
  '{"topics":[{"topicId":"ASNFZ4mrze8BI0VniavN7w","name":"orders"}],"allowAutoTopicCreation":true,' +
  '"includeTopicAuthorizedOperations":false}';

const produceV9 = { kind: "request", apiKey: ApiKey.Produce, version: 9 } as const;
const produceBytes = Buffer.from("00ffff000075300202740300000003060102030405000000000400000000", "hex");
const produceJson =
  '{"transactionalId":null,"acks":-1,"timeoutMs":30000,"topicData":[{"name":"t","partitionData":' +
  '[{"index":3,"recordsSizeInBytes":5},{"index":4,"records":null}]}]}';

function compare(
  c: { kind: "request"; apiKey: number; version: number },
  message: Record<string, unknown>,
  json: string,
  onOtherName?: (path: string) => void,
): string[] {
  return compareWithKafkaJson(
    messageSchema(c.apiKey, c.kind),
    c.version,
    message,
    parseKafkaJson(json),
    onOtherName,
  );
}

test("our reading of Kafka's bytes matches Kafka's JSON: uuid, strings, bools, records sizes, nulls", () => {
  assert.deepEqual(compare(metadataV12, decodeCase(metadataV12, metadataBytes), metadataJson), []);
  assert.deepEqual(compare(produceV9, decodeCase(produceV9, produceBytes), produceJson), []);
});

test("swapped, changed and resized values are reported with their field path", () => {
  const metadata = decodeCase(metadataV12, metadataBytes) as {
    topics: { topicId: string; name: string }[];
    allowAutoTopicCreation: boolean;
    includeTopicAuthorizedOperations: boolean;
  };
  metadata.allowAutoTopicCreation = false;
  metadata.includeTopicAuthorizedOperations = true;
  metadata.topics[0]!.topicId = "f".repeat(32);
  const differences = compare(metadataV12, metadata, metadataJson);
  assert.equal(differences.length, 3, differences.join("\n"));
  assert.match(differences.join("\n"), /topics\[0\]\.topicId/);
  assert.match(differences.join("\n"), /allowAutoTopicCreation: ours false, kafka true/);

  const produce = decodeCase(produceV9, produceBytes) as {
    topicData: { partitionData: { records: Buffer | null }[] }[];
  };
  produce.topicData[0]!.partitionData[0]!.records = Buffer.alloc(4);
  produce.topicData[0]!.partitionData[1]!.records = Buffer.alloc(0);
  const produceDifferences = compare(produceV9, produce, produceJson);
  assert.equal(produceDifferences.length, 2, produceDifferences.join("\n"));
  assert.match(produceDifferences[0]!, /partitionData\[0\]\.recordsSizeInBytes/);
});

test("int64 values are compared exactly, past 2^53", () => {
  const c = { kind: "request", apiKey: ApiKey.ListOffsets, version: 9 } as const;
  const schema = messageSchema(c.apiKey, c.kind);
  const json = (timestamp: string) =>
    `{"replicaId":-1,"isolationLevel":0,"topics":[{"name":"t","partitions":[{"partitionIndex":0,` +
    `"currentLeaderEpoch":-1,"timestamp":${timestamp}}]}]}`;
  const message = {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: "t",
        partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: 9007199254740993n }],
      },
    ],
    timeoutMs: 0,
  };
  assert.deepEqual(
    compareWithKafkaJson(schema, c.version, message, parseKafkaJson(json("9007199254740993"))),
    [],
  );
  assert.equal(
    compareWithKafkaJson(schema, c.version, message, parseKafkaJson(json("9007199254740992"))).length,
    1,
  );
});

test("a field Kafka names differently is a difference, unless the caller collects other names", () => {
  const renamed = metadataJson.replace('"allowAutoTopicCreation"', '"allowTopicCreation"');
  const message = decodeCase(metadataV12, metadataBytes);
  assert.match(compare(metadataV12, message, renamed).join("\n"), /allowTopicCreation: kafka has a field/);
  const names: string[] = [];
  assert.deepEqual(
    compare(metadataV12, message, renamed, (path) => names.push(path)),
    [],
  );
  assert.deepEqual(names, ["MetadataRequest v12 allowTopicCreation"]);
});
