import assert from "node:assert/strict";
import { test } from "node:test";
import { ErrorCode } from "../../../src/protocol/api.ts";
import * as generated from "../../../src/protocol/generated/index.ts";
import { MESSAGE_SCHEMAS } from "../../../src/protocol/generated/schema.ts";
import { Reader } from "../../../src/protocol/primitives/reader.ts";
import { Writer } from "../../../src/protocol/primitives/writer.ts";
import {
  defaultMessageOf,
  randomMessageOf,
  seededRng,
} from "../../../src/protocol/testing/random-message.ts";

type Decode = (r: Reader, version: number) => unknown;
type Encode = (w: Writer, version: number, message: unknown) => void;

const codecs = generated as unknown as Record<string, Decode | Encode>;
const INSTANCES_PER_VERSION = 12;

for (const schema of MESSAGE_SCHEMAS) {
  test(`${schema.name}: random instances round-trip at every version`, () => {
    const decode = codecs[`decode${schema.name}`] as Decode;
    const encode = codecs[`encode${schema.name}`] as Encode;
    assert.equal(typeof decode, "function");
    assert.equal(typeof encode, "function");
    const w = new Writer(256);
    for (let version = schema.validVersions[0]; version <= schema.validVersions[1]; version++) {
      for (let seed = 0; seed < INSTANCES_PER_VERSION; seed++) {
        const message = randomMessageOf(schema, version, seededRng(seed * 1000 + version));
        encode(w, version, message);
        const bytes = w.finish();
        const r = new Reader(bytes);
        const decoded = decode(r, version);
        assert.equal(r.remaining(), 0, `v${version} seed ${seed}: bytes left after decoding`);
        assert.deepStrictEqual(decoded, message, `v${version} seed ${seed}`);
        encode(w, version, decoded);
        assert.deepEqual(w.finish(), bytes, `v${version} seed ${seed}: re-encoding differs`);
      }
      // A message with every field at its default encodes at every version (ignorable or not).
      const defaults = defaultMessageOf(schema);
      encode(w, version, defaults);
      assert.deepStrictEqual(decode(new Reader(w.finish()), version), defaults);
    }
  });
}

test("unknown tagged fields survive decode and re-encode, written in tag order among known ones", () => {
  const { decodeFetchResponse, encodeFetchResponse } = generated;
  const w = new Writer();
  encodeFetchResponse(w, 16, {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [],
    nodeEndpoints: [{ nodeId: 1, host: "h", port: 1, rack: null }],
    unknownTaggedFields: [
      { tag: 7, data: Buffer.from([1, 2, 3]) },
      { tag: 1000, data: Buffer.alloc(0) },
    ],
  });
  const bytes = Buffer.from(w.finish());
  // The top-level tagged section holds NodeEndpoints (tag 0), then tag 7, then tag 1000.
  const tail = bytes.subarray(bytes.length - 8);
  assert.equal(tail.toString("hex"), "07" + "03010203" + "e80700");
  const decoded = decodeFetchResponse(new Reader(bytes), 16);
  assert.deepEqual(
    decoded.unknownTaggedFields?.map((f) => f.tag),
    [7, 1000],
  );
  assert.equal(decoded.nodeEndpoints.length, 1);
  encodeFetchResponse(w, 16, decoded);
  assert.deepEqual(w.finish(), bytes);
});

test("a reader bounded inside a larger buffer never reads past its end", () => {
  const { decodeMetadataRequest, encodeMetadataRequest } = generated;
  const w = new Writer();
  encodeMetadataRequest(w, 12, {
    topics: [{ topicId: "0".repeat(32), name: "orders" }],
    allowAutoTopicCreation: true,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const message = w.finish();
  const padded = Buffer.concat([Buffer.from([9, 9]), message, Buffer.alloc(64, 0x41)]);
  const full = new Reader(padded, 2, 2 + message.length);
  assert.equal(decodeMetadataRequest(full, 12).topics?.[0].name, "orders");
  assert.equal(full.offset, 2 + message.length);
  assert.throws(
    () => decodeMetadataRequest(new Reader(padded, 2, 2 + message.length - 1), 12),
    /TRUNCATED|past end|left/,
  );
});
