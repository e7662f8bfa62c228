import assert from "node:assert/strict";
import { test } from "node:test";
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
