// Makes random messages large enough to reach multi-byte lengths: strings, bytes, unknown tagged-field
// data and one array per message grow past 127 (the one-byte unsigned varint limit of compact lengths),
// which randomMessage's small values never do.

import type { FieldSchema, MessageSchema, VersionRange } from "../../src/protocol/schema-types.ts";
import type { Rng } from "../../src/protocol/testing/random-message.ts";

const LONG_TEXT = "kafka-partition-proxy é日本😀 ";
const STRETCHED_LENGTH_MIN = 128;
const STRETCHED_LENGTH_MAX = 400;

type Struct = Record<string, unknown>;

function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

export function stretchMessage(schema: MessageSchema, version: number, message: Struct, rng: Rng): Struct {
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  let arrayStretched = false;

  const longString = () => {
    const length = int(STRETCHED_LENGTH_MIN, STRETCHED_LENGTH_MAX);
    return LONG_TEXT.repeat(Math.ceil(length / LONG_TEXT.length)).slice(0, length);
  };
  const longBytes = () => {
    const bytes = Buffer.alloc(int(STRETCHED_LENGTH_MIN, STRETCHED_LENGTH_MAX));
    for (let i = 0; i < bytes.length; i++) bytes[i] = int(0, 255);
    return bytes;
  };

  const stretchValue = (type: string, value: unknown): unknown => {
    if (value === null) return null;
    if (type.startsWith("[]")) {
      const element = type.slice(2);
      const items = (value as unknown[]).map((item) => stretchValue(element, item));
      if (!arrayStretched && items.length > 0 && rng() < 0.5) {
        arrayStretched = true;
        const target = int(STRETCHED_LENGTH_MIN, STRETCHED_LENGTH_MIN + 20);
        for (let i = items.length; i < target; i++) items.push(items[i % items.length]);
      }
      return items;
    }
    switch (type) {
      case "string":
        return rng() < 0.5 ? longString() : value;
      case "bytes":
      case "records":
        return rng() < 0.5 ? longBytes() : value;
      default: {
        const struct = schema.structs[type];
        return struct ? stretchStruct(struct.fields, value as Struct) : value;
      }
    }
  };

  const stretchStruct = (fields: readonly FieldSchema[], struct: Struct): Struct => {
    const out: Struct = { ...struct };
    for (const f of fields) {
      if (inRange(f.versions, version)) out[f.name] = stretchValue(f.type, struct[f.name]);
    }
    const unknown = struct.unknownTaggedFields as { tag: number; data: Buffer }[] | undefined;
    if (unknown !== undefined) {
      out.unknownTaggedFields = unknown.map((field) =>
        rng() < 0.5 ? { tag: field.tag, data: longBytes() } : field,
      );
    }
    return out;
  };

  return stretchStruct(schema.fields, message);
}
