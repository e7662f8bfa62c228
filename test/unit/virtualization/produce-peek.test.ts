import assert from "node:assert/strict";
import { test } from "node:test";
import { produceNamesTopic } from "../../../src/features/virtualization/produce-peek.ts";
import { encodeRequest } from "../../../src/protocol/frame.ts";
import { buildBatch } from "../../../src/records/index.ts";

const ids = { plain: "11".repeat(16), virtual: "22".repeat(16) };

function produceFrame(version: number, topics: string[]): Buffer {
  const records = buildBatch({ records: [{ key: "k", value: "v", timestampDelta: 0 }] });
  return encodeRequest(
    { apiKey: 0, apiVersion: version, correlationId: 1, clientId: "peek" },
    {
      transactionalId: version % 2 ? "txn" : null,
      acks: -1,
      timeoutMs: 1000,
      topicData: topics.map((name) => ({
        name: version >= 13 ? "" : name,
        topicId: version >= 13 ? ids[name as keyof typeof ids] : "0".repeat(32),
        partitionData: [
          { index: 0, records },
          { index: 1, records },
        ],
      })),
    },
  );
}

test("finds a virtualized topic among plain ones at every Produce version, without decoding", () => {
  const isVirtual = (key: string, byId: boolean) => (byId ? key === ids.virtual : key === "virtual");
  for (let version = 3; version <= 13; version++) {
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
  const frame = produceFrame(9, ["plain", "plain"]);
  assert.equal(
    produceNamesTopic(frame.subarray(0, frame.length - 40), 9, () => false),
    true,
  );
});
