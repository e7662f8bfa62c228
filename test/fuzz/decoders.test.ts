// Feeds random and mutated frames to every generated decoder (and the whole-frame helpers) for a
// bounded time and checks that only KafkaProtocolError, or a clean decode, comes out.
//   FUZZ_MS=60000 FUZZ_SEED=123 node --test test/fuzz/decoders.test.ts
import assert from "node:assert/strict";
import { test } from "node:test";
import { KafkaProtocolError } from "../../src/protocol/errors.ts";
import { decodeRequest, peekRequestHeader } from "../../src/protocol/frame.ts";
import * as generated from "../../src/protocol/generated/index.ts";
import { MESSAGE_SCHEMAS } from "../../src/protocol/generated/schema.ts";
import { Reader } from "../../src/protocol/primitives/reader.ts";
import { Writer } from "../../src/protocol/primitives/writer.ts";
import type { MessageSchema } from "../../src/protocol/schema-types.ts";
import { type Rng, randomMessageOf, seededRng } from "../../src/protocol/testing/random-message.ts";

type Decode = (r: Reader, version: number) => unknown;
type Encode = (w: Writer, version: number, message: unknown) => void;

const codecs = generated as unknown as Record<string, Decode | Encode>;
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 15_000);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

interface Target {
  schema: MessageSchema;
  version: number;
  decode: Decode;
  encode: Encode;
  corpus: Buffer[];
}

function buildTargets(rng: Rng): Target[] {
  const targets: Target[] = [];
  const w = new Writer();
  for (const schema of MESSAGE_SCHEMAS) {
    const decode = codecs[`decode${schema.name}`] as Decode;
    const encode = codecs[`encode${schema.name}`] as Encode;
    for (let version = schema.validVersions[0]; version <= schema.validVersions[1]; version++) {
      const corpus: Buffer[] = [];
      for (let i = 0; i < 3; i++) {
        encode(w, version, randomMessageOf(schema, version, rng, { maxArrayLength: 2 }));
        corpus.push(Buffer.from(w.finish()));
      }
      targets.push({ schema, version, decode, encode, corpus });
    }
  }
  return targets;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe];

function mutate(input: Buffer, other: Buffer, rng: Rng): Buffer {
  const pick = (n: number) => Math.floor(rng() * n);
  let b = Buffer.from(input);
  for (let rounds = 1 + pick(4); rounds > 0; rounds--) {
    switch (pick(8)) {
      case 0:
        if (b.length > 0) b[pick(b.length)] ^= 1 << pick(8);
        break;
      case 1:
        if (b.length > 0) b[pick(b.length)] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2:
        b = b.subarray(0, pick(b.length + 1));
        break;
      case 3: {
        const at = pick(b.length + 1);
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from([INTERESTING[pick(INTERESTING.length)]]),
          b.subarray(at),
        ]);
        break;
      }
      case 4: {
        const from = pick(b.length + 1);
        const to = from + pick(b.length - from + 1);
        b = Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
        break;
      }
      case 5: {
        const at = pick(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), other.subarray(pick(other.length + 1))]);
        break;
      }
      case 6:
        if (b.length >= 4) {
          const at = pick(b.length - 3);
          b.writeInt32BE([0x7fffffff, -1, -2, 0x10000, 0x80000000 | 0][pick(5)], at);
        }
        break;
      default: {
        const at = pick(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + pick(8))]);
      }
    }
  }
  return b;
}

function randomBytes(rng: Rng, max: number): Buffer {
  const b = Buffer.alloc(Math.floor(rng() * max));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

function expectOnlyProtocolErrors(what: string, input: Buffer, run: () => void): boolean {
  try {
    run();
    return true;
  } catch (error) {
    if (error instanceof KafkaProtocolError) return false;
    assert.fail(
      `${what} (seed ${SEED}) threw ${String(error)} for input ${input.toString("hex")}\n${(error as Error).stack}`,
    );
  }
}

test(`generated decoders survive random and mutated input (${FUZZ_MS} ms, seed ${SEED})`, {
  timeout: FUZZ_MS + 120_000,
}, () => {
  const rng = seededRng(SEED);
  const targets = buildTargets(rng);
  const deadline = Date.now() + FUZZ_MS * 0.85;
  let runs = 0;
  let clean = 0;
  const w = new Writer();
  while (Date.now() < deadline) {
    for (let batch = 0; batch < 200; batch++) {
      const t = targets[Math.floor(rng() * targets.length)];
      const seed = t.corpus[Math.floor(rng() * t.corpus.length)];
      const other = targets[Math.floor(rng() * targets.length)].corpus[0];
      const input = rng() < 0.1 ? randomBytes(rng, 64) : mutate(seed, other, rng);
      const what = `${t.schema.name} v${t.version}`;
      let decoded: unknown;
      const ok = expectOnlyProtocolErrors(what, input, () => {
        decoded = t.decode(new Reader(input), t.version);
      });
      runs++;
      if (!ok) continue;
      clean++;
      // Whatever decodes must re-encode, or fail with a typed error (e.g. unsorted unknown tags).
      expectOnlyProtocolErrors(`${what} re-encode`, input, () => t.encode(w, t.version, decoded));
      w.reset();
    }
  }
  console.log(`fuzz: ${runs} inputs over ${targets.length} message versions, ${clean} decoded cleanly`);
  assert.ok(runs > 1000);
});

test(`whole-frame helpers survive random and mutated frames (seed ${SEED})`, () => {
  const rng = seededRng(SEED + 1);
  const w = new Writer();
  w.int16(3);
  w.int16(12);
  w.int32(1);
  w.nullableString("client");
  w.unsignedVarint(0);
  w.compactArrayLength(1);
  w.uuid("0".repeat(32));
  w.compactNullableString("topic");
  w.unsignedVarint(0);
  w.int8(1);
  w.int8(0);
  w.unsignedVarint(0);
  const frame = Buffer.from(w.finish());
  decodeRequest(frame);
  const deadline = Date.now() + FUZZ_MS * 0.15;
  while (Date.now() < deadline) {
    for (let i = 0; i < 200; i++) {
      const input = rng() < 0.2 ? randomBytes(rng, 40) : mutate(frame, frame, rng);
      expectOnlyProtocolErrors("peekRequestHeader", input, () => peekRequestHeader(input));
      expectOnlyProtocolErrors("decodeRequest", input, () => decodeRequest(input));
    }
  }
});
