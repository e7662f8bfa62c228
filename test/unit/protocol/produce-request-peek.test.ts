import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiKey, apiInfo, hasField, ZERO_UUID } from "../../../src/protocol/api.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { produceNamesTopic } from "../../../src/protocol/produce-request-peek.ts";
import { buildBatch } from "../../../src/records/index.ts";

const ids = { plain: "11".repeat(16), virtual: "22".repeat(16) };
const produceVersions = apiInfo(ApiKey.Produce)!;
const byId = (version: number) => hasField("ProduceRequest", "topicData.topicId", version);

function produceFrame(version: number, topics: string[]): Buffer {
  const records = buildBatch({ records: [{ key: "k", value: "v", timestampDelta: 0 }] });
  return encodeRequest(
    { apiKey: ApiKey.Produce, apiVersion: version, correlationId: 1, clientId: "peek" },
    {
      transactionalId: version % 2 ? "txn" : null,
      acks: -1,
      timeoutMs: 1000,
      topicData: topics.map((name) => ({
        name: byId(version) ? "" : name,
        topicId: byId(version) ? ids[name as keyof typeof ids] : ZERO_UUID,
        partitionData: [
          { index: 0, records },
          { index: 1, records },
        ],
      })),
    },
  );
}

test("finds a virtualized topic among plain ones at every Produce version, without decoding", () => {
  const isVirtual = (key: string, isId: boolean) => (isId ? key === ids.virtual : key === "virtual");
  for (let version = produceVersions.minVersion; version <= produceVersions.maxVersion; version++) {
    assert.equal(
      produceNamesTopic(produceFrame(version, ["plain", "virtual"]), version, isVirtual),
      true,
      `v${version}`,
    );
    assert.equal(
      produceNamesTopic(produceFrame(version, ["plain"]), version, isVirtual),
      false,
      `v${version}`,
    );
    assert.equal(produceNamesTopic(produceFrame(version, []), version, isVirtual), false, `v${version}`);
  }
});

test("a truncated frame is left to the full decoder", () => {
  const version = produceVersions.flexibleMinVersion;
  const frame = produceFrame(version, ["plain", "plain"]);
  assert.equal(
    produceNamesTopic(frame.subarray(0, frame.length - 40), version, () => false),
    true,
  );
});
