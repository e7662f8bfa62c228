/**
 * Schema-driven random messages for codec tests: valid objects for the generated codecs at a given
 * version. Fields absent at that version hold their defaults (what the decoder produces), nullable
 * fields are sometimes null, tagged fields are sometimes left at their default, flexible versions
 * sometimes carry unknown tagged fields, arrays are small.
 */
import { MESSAGE_SCHEMAS } from "../generated/schema.ts";
import type { TaggedField } from "../primitives/tagged.ts";
import { defaultValue } from "../schema-defaults.ts";
import type { FieldSchema, MessageSchema, VersionRange } from "../schema-types.ts";

export { defaultMessageOf, defaultValue } from "../schema-defaults.ts";

/** Uniform in [0, 1). */
export type Rng = () => number;

/** A small deterministic generator (mulberry32). */
export function seededRng(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomMessageOptions {
  /** Largest array length (default 3). */
  maxArrayLength?: number;
  /** Probability of null for a nullable field (default 0.2). */
  nullProbability?: number;
  /** Probability that a struct in a flexible version carries unknown tagged fields (default 0.2). */
  unknownTaggedProbability?: number;
}

const byApi = new Map<string, MessageSchema>();
const byName = new Map<string, MessageSchema>();
for (const schema of MESSAGE_SCHEMAS) {
  byName.set(schema.name, schema);
  if (schema.apiKey !== null && (schema.kind === "request" || schema.kind === "response")) {
    byApi.set(`${schema.kind}:${schema.apiKey}`, schema);
  }
}

export function messageSchema(apiKey: number, kind: "request" | "response"): MessageSchema {
  const schema = byApi.get(`${kind}:${apiKey}`);
  if (schema === undefined) throw new Error(`no ${kind} schema for API key ${apiKey}`);
  return schema;
}

export function messageSchemaByName(name: string): MessageSchema {
  const schema = byName.get(name);
  if (schema === undefined) throw new Error(`no message schema named ${name}`);
  return schema;
}

/** A random valid request or response of API `apiKey` at `version`. */
export function randomMessage(
  apiKey: number,
  kind: "request" | "response",
  version: number,
  rng: Rng,
  options: RandomMessageOptions = {},
): Record<string, unknown> {
  return randomMessageOf(messageSchema(apiKey, kind), version, rng, options);
}

/** A random valid instance of any message by name ("RequestHeader", "ConsumerProtocolAssignment", ...). */
export function randomMessageByName(
  name: string,
  version: number,
  rng: Rng,
  options: RandomMessageOptions = {},
): Record<string, unknown> {
  return randomMessageOf(messageSchemaByName(name), version, rng, options);
}

export function randomMessageOf(
  schema: MessageSchema,
  version: number,
  rng: Rng,
  options: RandomMessageOptions = {},
): Record<string, unknown> {
  if (!inRange(schema.validVersions, version)) {
    throw new Error(`${schema.name} has no version ${version}`);
  }
  const generator = new RandomGenerator(schema, version, rng, options);
  return generator.struct(schema.fields);
}

function inRange(range: VersionRange | null, version: number): boolean {
  return range !== null && version >= range[0] && version <= range[1];
}

const STRING_ALPHABET = [
  "a",
  "b",
  "z",
  "A",
  "0",
  "9",
  "-",
  "_",
  ".",
  " ",
  "é",
  "ß",
  "日",
  "本",
  "😀",
  "\u0000",
];

class RandomGenerator {
  readonly #schema: MessageSchema;
  readonly #version: number;
  readonly #rng: Rng;
  readonly #flexible: boolean;
  readonly #maxArray: number;
  readonly #nullProbability: number;
  readonly #unknownTaggedProbability: number;

  constructor(schema: MessageSchema, version: number, rng: Rng, options: RandomMessageOptions) {
    this.#schema = schema;
    this.#version = version;
    this.#rng = rng;
    this.#flexible = inRange(schema.flexibleVersions, version);
    this.#maxArray = options.maxArrayLength ?? 3;
    this.#nullProbability = options.nullProbability ?? 0.2;
    this.#unknownTaggedProbability = options.unknownTaggedProbability ?? 0.2;
  }

  #int(lo: number, hi: number): number {
    return lo + Math.floor(this.#rng() * (hi - lo + 1));
  }

  #chance(p: number): boolean {
    return this.#rng() < p;
  }

  struct(fields: readonly FieldSchema[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const v = this.#version;
    for (const f of fields) {
      if (!inRange(f.versions, v)) {
        out[f.name] = defaultValue(this.#schema, f);
      } else if (inRange(f.taggedVersions, v) && this.#chance(0.4)) {
        out[f.name] = defaultValue(this.#schema, f);
      } else {
        out[f.name] = this.#value(f, f.type, inRange(f.nullableVersions, v));
      }
    }
    out.unknownTaggedFields = this.#flexible ? this.#unknownTagged(fields) : undefined;
    return out;
  }

  #unknownTagged(fields: readonly FieldSchema[]): TaggedField[] | undefined {
    if (!this.#chance(this.#unknownTaggedProbability)) return undefined;
    const known = new Set(fields.filter((f) => f.tag !== null).map((f) => f.tag));
    const out: TaggedField[] = [];
    let tag = this.#int(0, 3);
    for (let n = this.#int(1, 2); n > 0; n--) {
      while (known.has(tag)) tag++;
      out.push({ tag, data: this.#bytes(this.#int(0, 4)) });
      tag += this.#int(1, 200);
    }
    return out;
  }

  #bytes(length: number): Buffer {
    const b = Buffer.alloc(length);
    for (let i = 0; i < length; i++) b[i] = this.#int(0, 255);
    return b;
  }

  #string(): string {
    let s = "";
    for (let n = this.#int(0, 8); n > 0; n--) s += STRING_ALPHABET[this.#int(0, STRING_ALPHABET.length - 1)];
    return s;
  }

  #value(f: FieldSchema, type: string, nullable: boolean): unknown {
    if (nullable && this.#chance(this.#nullProbability)) return null;
    if (type.startsWith("[]")) {
      const element = type.slice(2);
      const out: unknown[] = [];
      for (let n = this.#int(0, this.#maxArray); n > 0; n--) out.push(this.#value(f, element, false));
      return out;
    }
    switch (type) {
      case "bool":
        return this.#chance(0.5);
      case "int8":
        return this.#edgeOr([-128, -1, 0, 127], () => this.#int(-128, 127));
      case "int16":
        return this.#edgeOr([-32768, -1, 0, 32767], () => this.#int(-32768, 32767));
      case "uint16":
        return this.#edgeOr([0, 1, 65535], () => this.#int(0, 65535));
      case "int32":
        return this.#edgeOr([-2147483648, -1, 0, 2147483647], () => this.#int(-2147483648, 2147483647));
      case "uint32":
        return this.#edgeOr([0, 1, 4294967295], () => this.#int(0, 4294967295));
      case "int64": {
        const edges = [-9223372036854775808n, -1n, 0n, 9223372036854775807n];
        if (this.#chance(0.2)) return edges[this.#int(0, edges.length - 1)];
        return BigInt.asIntN(
          64,
          (BigInt(this.#int(0, 0xffffffff)) << 32n) | BigInt(this.#int(0, 0xffffffff)),
        );
      }
      case "float64":
        return this.#edgeOr([0, -1.5, 1e308, Number.MIN_VALUE], () => (this.#rng() - 0.5) * 1e6);
      case "uuid":
        return this.#bytes(16).toString("hex");
      case "string":
        return this.#string();
      case "bytes":
      case "records":
        return this.#bytes(this.#int(0, 12));
      default: {
        const struct = this.#schema.structs[type];
        if (struct === undefined) throw new Error(`${this.#schema.name}: unknown type ${type}`);
        return this.struct(struct.fields);
      }
    }
  }

  #edgeOr(edges: number[], make: () => number): number {
    return this.#chance(0.2) ? edges[this.#int(0, edges.length - 1)] : make();
  }
}
