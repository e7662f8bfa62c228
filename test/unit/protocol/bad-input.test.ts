import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ApiKey, ErrorCode } from "../../../src/protocol/api.ts";
import { KafkaProtocolError } from "../../../src/protocol/errors.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeResponse,
  peekRequestHeader,
} from "../../../src/protocol/frame.ts";
import * as generated from "../../../src/protocol/generated/index.ts";
import {
  decodeFetchRequest,
  decodeMetadataRequest,
  decodeMetadataResponse,
  encodeMetadataResponse,
  type MetadataResponse,
} from "../../../src/protocol/generated/index.ts";
import { MESSAGE_SCHEMAS } from "../../../src/protocol/generated/schema.ts";
import { Reader } from "../../../src/protocol/primitives/reader.ts";
import { Writer } from "../../../src/protocol/primitives/writer.ts";
import { randomMessageOf, seededRng } from "../../../src/protocol/testing/random-message.ts";

type Decode = (r: Reader, version: number) => unknown;
type Encode = (w: Writer, version: number, message: unknown) => void;
const codecs = generated as unknown as Record<string, Decode | Encode>;

function protocolError(run: () => unknown): KafkaProtocolError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof KafkaProtocolError, `expected KafkaProtocolError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a KafkaProtocolError");
}

const ZERO_UUID = "0".repeat(32);

describe("decode errors name the API, version and field path", () => {
  test("a string length past the end of the frame, deep in an array", () => {
    const w = new Writer();
    w.compactArrayLength(4);
    for (let i = 0; i < 3; i++) {
      w.uuid(ZERO_UUID);
      w.compactNullableString(`topic-${i}`);
      w.unsignedVarint(0);
    }
    w.uuid(ZERO_UUID);
    w.unsignedVarint(901);
    w.raw(Buffer.alloc(12));
    const e = protocolError(() => decodeMetadataRequest(new Reader(w.finish()), 12));
    assert.equal(
      e.message,
      "Metadata request v12: field topics[3].name: length 900 past end of frame (12 bytes left)",
    );
    assert.equal(e.code, "TRUNCATED");
    assert.equal(e.api, "Metadata request");
    assert.equal(e.version, 12);
    assert.equal(e.field, "topics[3].name");
  });

  test("a negative array length", () => {
    const w = new Writer();
    w.int32(-2);
    const e = protocolError(() => decodeMetadataResponse(new Reader(w.finish()), 1));
    assert.equal(e.code, "NEGATIVE_LENGTH");
    assert.equal(e.field, "brokers");
    assert.match(e.message, /^Metadata response v1: field brokers: invalid negative length -2$/);
  });

  test("null where the version does not allow it", () => {
    const w = new Writer();
    w.int32(-1);
    const e = protocolError(() => decodeMetadataResponse(new Reader(w.finish()), 1));
    assert.equal(e.code, "NULL_NOT_ALLOWED");
  });

  test("an absurd array length fails before allocating", () => {
    const w = new Writer();
    w.int32(0);
    w.int32(0x7fffffff);
    const started = process.hrtime.bigint();
    const e = protocolError(() => decodeMetadataResponse(new Reader(w.finish()), 3));
    assert.ok(process.hrtime.bigint() - started < 50_000_000n, "fails at once");
    assert.equal(e.code, "TRUNCATED");
    assert.equal(e.field, "brokers");
    assert.match(e.message, /array of 2147483647 elements cannot fit in the 0 bytes left/);
  });

  test("invalid UTF-8 in a nested string", () => {
    const message: MetadataResponse = {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: "ab", port: 9092, rack: null }],
      clusterId: null,
      controllerId: 1,
      topics: [],
      clusterAuthorizedOperations: -2147483648,
      errorCode: ErrorCode.NONE,
    };
    const w = new Writer();
    encodeMetadataResponse(w, 9, message);
    const frame = Buffer.from(w.finish());
    const at = frame.indexOf("ab");
    frame[at] = 0xc3;
    frame[at + 1] = 0x28;
    const e = protocolError(() => decodeMetadataResponse(new Reader(frame), 9));
    assert.equal(e.code, "INVALID_UTF8");
    assert.equal(e.field, "brokers[0].host");
  });

  test("a known tag at a version that does not allow it", () => {
    const w = new Writer();
    encodeFetchRequestV12Prefix(w);
    w.unsignedVarint(1);
    w.unsignedVarint(1);
    w.unsignedVarint(1);
    w.int8(0);
    const e = protocolError(() => decodeFetchRequest(new Reader(w.finish()), 12));
    assert.equal(e.code, "INVALID_TAG");
    assert.match(e.message, /^Fetch request v12: field replicaState: tag 1 is not valid at version 12$/);
  });

  test("unsupported versions", () => {
    const e = protocolError(() => decodeMetadataRequest(new Reader(Buffer.alloc(0)), 99));
    assert.equal(e.code, "UNSUPPORTED_VERSION");
    assert.equal(e.message, "Metadata request v99: version 99 is not supported (supported: 0-13)");
  });
});

/** FetchRequest v12 fields before its tagged-field section (no topics, no forgotten topics). */
function encodeFetchRequestV12Prefix(w: Writer): void {
  w.int32(-1); // replicaId
  w.int32(500); // maxWaitMs
  w.int32(1); // minBytes
  w.int32(1 << 20); // maxBytes
  w.int8(0); // isolationLevel
  w.int32(0); // sessionId
  w.int32(-1); // sessionEpoch
  w.compactArrayLength(0); // topics
  w.compactArrayLength(0); // forgottenTopicsData
  w.compactString(""); // rackId
}

describe("whole frames", () => {
  test("unknown API keys and versions", () => {
    const w = new Writer();
    w.int16(1000);
    w.int16(0);
    w.int32(7);
    w.nullableString("client");
    const frame = w.finish();
    const peeked = peekRequestHeader(frame);
    assert.equal(peeked.knownApi, false);
    assert.equal(peeked.correlationId, 7);
    assert.equal(peeked.clientId, "client");
    assert.equal(protocolError(() => decodeRequest(frame)).code, "UNKNOWN_API");

    w.int16(ApiKey.Metadata);
    w.int16(14);
    w.int32(8);
    w.nullableString("client");
    w.unsignedVarint(0);
    const e = protocolError(() => decodeRequest(w.finish()));
    assert.equal(e.code, "UNSUPPORTED_VERSION");
    assert.match(e.message, /^Metadata request v14: /);
    assert.equal(protocolError(() => decodeResponse(1000, 0, Buffer.alloc(8))).code, "UNKNOWN_API");
  });

  test("a truncated header and invalid UTF-8 in the client id", () => {
    assert.equal(protocolError(() => peekRequestHeader(Buffer.from("0003", "hex"))).code, "TRUNCATED");
    const w = new Writer();
    w.int16(ApiKey.Metadata);
    w.int16(12);
    w.int32(1);
    w.int16(2);
    w.raw(Buffer.from([0xff, 0xfe]));
    const e = protocolError(() => peekRequestHeader(w.finish()));
    assert.equal(e.code, "INVALID_UTF8");
    assert.match(e.message, /^RequestHeader v2: /);
  });

  test("trailing bytes after a message", () => {
    const frame = encodeResponse(ApiKey.ApiVersions, 3, 5, {
      errorCode: ErrorCode.NONE,
      apiKeys: [],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    });
    const body = Buffer.concat([frame.subarray(4), Buffer.from([0])]);
    assert.equal(protocolError(() => decodeResponse(ApiKey.ApiVersions, 3, body)).code, "TRAILING_BYTES");
  });
});

describe("encode errors name the field", () => {
  const base = (): MetadataResponse => ({
    throttleTimeMs: 0,
    brokers: [],
    clusterId: null,
    controllerId: -1,
    topics: [
      {
        errorCode: ErrorCode.NONE,
        name: "t",
        topicId: ZERO_UUID,
        isInternal: false,
        partitions: [],
        topicAuthorizedOperations: -2147483648,
      },
    ],
    clusterAuthorizedOperations: -2147483648,
    errorCode: ErrorCode.NONE,
  });

  test("a non-default value for a non-ignorable field the version lacks", () => {
    const m = { ...base(), clusterAuthorizedOperations: 5 };
    const e = protocolError(() => encodeMetadataResponse(new Writer(), 7, m));
    assert.equal(e.code, "UNSUPPORTED_VERSION");
    assert.equal(e.field, "clusterAuthorizedOperations");
    assert.match(e.message, /^Metadata response v7: field clusterAuthorizedOperations: /);
    encodeMetadataResponse(new Writer(), 7, { ...base(), throttleTimeMs: 5 }); // ignorable: dropped silently
  });

  test("null in a field that is not nullable at this version", () => {
    const m = base();
    m.topics[0].name = null;
    const e = protocolError(() => encodeMetadataResponse(new Writer(), 11, m));
    assert.equal(e.code, "NULL_NOT_ALLOWED");
    assert.equal(e.field, "topics[0].name");
    encodeMetadataResponse(new Writer(), 12, m);
  });

  test("a value out of range", () => {
    const m = base();
    m.topics[0].errorCode = 70000;
    const e = protocolError(() => encodeMetadataResponse(new Writer(), 12, m));
    assert.equal(e.code, "INVALID_VALUE");
    assert.equal(e.field, "topics[0].errorCode");
  });

  test("unknown tagged fields in a version without tagged fields", () => {
    const m = { ...base(), unknownTaggedFields: [{ tag: 9, data: Buffer.alloc(1) }] };
    const e = protocolError(() => encodeMetadataResponse(new Writer(), 8, m));
    assert.equal(e.code, "UNSUPPORTED_VERSION");
    encodeMetadataResponse(new Writer(), 9, m);
  });
});

test("every truncation of every message raises KafkaProtocolError", () => {
  let checked = 0;
  for (const schema of MESSAGE_SCHEMAS) {
    const decode = codecs[`decode${schema.name}`] as Decode;
    const encode = codecs[`encode${schema.name}`] as Encode;
    const [lo, hi] = schema.validVersions;
    for (const version of new Set([lo, Math.floor((lo + hi) / 2), hi])) {
      const message = randomMessageOf(schema, version, seededRng(version + 17), { nullProbability: 0 });
      const w = new Writer();
      encode(w, version, message);
      const full = w.finish();
      const step = Math.max(1, Math.floor(full.length / 40));
      for (let cut = 0; cut < full.length; cut += step) {
        const e = protocolError(() => decode(new Reader(full.subarray(0, cut)), version));
        assert.ok(e.message.startsWith(schema.name) || e.api !== "", e.message);
        assert.equal(e.version, version);
        checked++;
      }
    }
  }
  assert.ok(checked > 500, `${checked} truncations checked`);
});
